// A fake clock and a fake transport for unit tests of the core's timers: no real waiting, no socket. The frames
// the core sends are recorded as it wrote them (core/protocol.ts); what a test sends back is real protocol text.
import type { Clock, HandshakeRefusal, Platform, PlatformSocket, SocketEvents, TimerHandle } from '../../core/platform';

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/** Lets promise callbacks and queued microtasks run (a real macrotask turn; no time passes on the fake clock). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  private time = 1_800_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + delayMs, callback });
    return { id } as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete((handle as unknown as { id: number }).id);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await settle();
      let next: Timer | undefined;
      for (const timer of this.timers.values()) if (timer.at <= target && (!next || timer.at < next.at)) next = timer;
      if (!next) break;
      this.timers.delete(next.id);
      this.time = next.at;
      next.callback();
    }
    this.time = target;
    await settle();
  }
}

/** One socket the core opened, driven by the test as the server would. */
export class FakeSocket implements PlatformSocket {
  state: PlatformSocket['state'] = 'connecting';
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith?: { code: number; reason: string };
  terminated = false;

  constructor(
    readonly url: string,
    private readonly events: SocketEvents,
  ) {}

  send(text: string, sent?: () => void): void {
    this.sent.push(text);
    if (sent) queueMicrotask(sent);
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    this.state = 'closing';
  }

  terminate(): void {
    this.terminated = true;
    this.state = 'closed';
  }

  /** The server accepts the upgrade. */
  accept(): void {
    this.state = 'open';
    this.events.open();
  }

  refuse(refusal: HandshakeRefusal): void {
    this.events.refused(refusal);
  }

  /** A text frame from the server. */
  receive(text: string): void {
    if (!this.terminated) this.events.message(text);
  }

  /** The connection closes (1006: cut without a close frame). */
  drop(code = 1006, reason = ''): void {
    this.state = 'closed';
    if (!this.terminated) this.events.close(code, reason);
  }
}

export class FakePlatform implements Platform {
  readonly clock = new FakeClock();
  readonly sockets: FakeSocket[] = [];
  readonly openSocket = (url: string, _options: unknown, events: SocketEvents): PlatformSocket => {
    const socket = new FakeSocket(url, events);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets[this.sockets.length - 1];
    if (!socket) throw new Error('no socket was opened');
    return socket;
  }
}
