// Reconnect pacing: exponential backoff with full jitter, and a hard local budget of new connections.

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  get attempts(): number {
    return this.attempt;
  }

  /** Full jitter: uniform in [0, min(max, initial * 2^attempt)], never below a small floor. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.max(Math.min(100, ceiling), Math.round(this.random() * ceiling));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** At most `maxPerWindow` connection attempts in any rolling window, whatever the backoff says. */
export class ConnectBudget {
  private readonly starts: number[] = [];
  constructor(
    private readonly maxPerWindow: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Milliseconds to wait before the next attempt is allowed (0 when allowed now). */
  waitMs(now = Date.now()): number {
    while (this.starts.length && now - this.starts[0] >= this.windowMs) this.starts.shift();
    if (this.starts.length < this.maxPerWindow) return 0;
    return this.starts[0] + this.windowMs - now;
  }

  record(now = Date.now()): void {
    this.starts.push(now);
  }
}
