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
    public maxPerWindow: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Milliseconds to wait before the next attempt is allowed (0 when allowed now). */
  waitMs(now: number): number {
    while (this.starts.length && now - this.starts[0] >= this.windowMs) this.starts.shift();
    if (this.starts.length < this.maxPerWindow) return 0;
    return this.starts[0] + this.windowMs - now;
  }

  record(now: number): void {
    this.starts.push(now);
  }

  /** Records an attempt now if one is allowed; the claim gives the slot back when the attempt never happened. */
  claim(now: number): { release(): void } | undefined {
    if (this.waitMs(now) > 0) return undefined;
    this.record(now);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const index = this.starts.lastIndexOf(now);
        if (index >= 0) this.starts.splice(index, 1);
      },
    };
  }

  /** Nothing recorded within the window. */
  isIdle(now: number): boolean {
    return this.waitMs(now) === 0 && this.starts.length === 0;
  }
}

const budgets = new Map<string, ConnectBudget>();

/**
 * The budget of one (endpoint, token) for the life of the process. It outlives connection objects: a redeploy, a
 * linger expiry or a config-node restart creates a new connection, which must not start with a fresh budget.
 * Budgets idle for a whole window hold nothing and are dropped, so the map stays as small as the live keys.
 */
export function sharedBudget(key: string, maxPerWindow: number, now: number): ConnectBudget {
  for (const [other, budget] of budgets) if (other !== key && budget.isIdle(now)) budgets.delete(other);
  let budget = budgets.get(key);
  if (!budget) {
    budget = new ConnectBudget(maxPerWindow);
    budgets.set(key, budget);
  }
  budget.maxPerWindow = maxPerWindow;
  return budget;
}

/** Only for closeAllConnections: the process is shutting down, or a test starts afresh. */
export function forgetBudgets(): void {
  budgets.clear();
}
