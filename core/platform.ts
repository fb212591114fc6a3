// What the core needs from its host platform: time and sockets. Types only, no globals: the core reaches the clock
// and the network through a Platform passed in, so each host chooses its own (Node with `ws`, the WebSocket Node 22+
// provides, n8n's helpers) and tests use a fake clock and a fake transport. The Node default is node-platform.ts.

/** A pending timer. Opaque: only the Clock that made it can cancel it. */
export interface TimerHandle {
  readonly __timerHandle?: never;
}

/**
 * Time. Every timer of the core (heartbeats, backoff, deadlines, linger, pacing) is a one-shot setTimeout; an
 * interval is a timeout re-armed by its callback. Timers must not keep a process alive on their own (Node: unref).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** `delayMs` is already bounded by the core (timerDelay): finite, 0 to 2^31 - 1. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Idempotent; `undefined` and handles of timers that already fired are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Why an opening socket did not open, as far as the socket can tell. */
export type HandshakeRefusal =
  /** The server answered the upgrade with an HTTP status (401, 429, 503, ...). */
  | { kind: 'http'; status: number; retryAfter?: string; body?: string }
  /** No HTTP answer: DNS, connection refused or reset, TLS. `code` is the system error code when known. */
  | { kind: 'network'; message: string; code?: string }
  /**
   * The socket failed before opening and cannot say why (the WebSocket of browsers and Node 22+ hides the
   * handshake's HTTP status). A SocketFactory with a RefusalProbe asks it before reporting this.
   */
  | { kind: 'unknown'; message: string };

/** Callbacks of one socket. Each fires at most as the WebSocket's own events do; none fires after close. */
export interface SocketEvents {
  open(): void;
  /** A text frame. */
  message(text: string): void;
  /** A binary frame: the protocol has none, the core counts it as malformed. */
  binary?(): void;
  /** The handshake failed (before `open`); the core ends the socket. */
  refused(refusal: HandshakeRefusal): void;
  /**
   * Asked before a RefusalProbe asks the server why the handshake failed. The probe is one more connection the
   * server counts against its limit, so it takes a slot of the connection budget at once (two connections on one
   * budget must not both find the last slot free): undefined when none is left (no probe then). The factory
   * releases the slot when the probe never reached the server.
   */
  claimProbe?(): ProbeClaim | undefined;
  /** After open: the connection closed. `reason` is the close frame's text (may be empty). */
  close(code: number, reason: string): void;
  /** After open: a transport error. `tooLarge` when a frame exceeded maxFrameBytes. */
  error(error: Error & { tooLarge?: boolean }): void;
}

/** A slot of the connection budget held by a probe. */
export interface ProbeClaim {
  /** The probe never reached the server (a network failure): the slot is given back. */
  release(): void;
}

/** The claim of a caller without a connection budget: nothing to give back. */
export const UNBUDGETED_PROBE: ProbeClaim = { release: () => undefined };

export interface SocketOptions {
  /** Largest frame accepted; a larger one ends the socket (error with tooLarge). */
  maxFrameBytes: number;
  /** The factory's own idle bound on the handshake, when it has one; the core also holds a total deadline. */
  handshakeTimeoutMs: number;
}

/** One WebSocket, as the core uses it. */
export interface PlatformSocket {
  readonly state: 'connecting' | 'open' | 'closing' | 'closed';
  /** Bytes written but not yet sent (the peer not reading shows here). */
  readonly bufferedAmount: number;
  /**
   * `sent`, when given, is called once the frame has left this process's buffers (ws: the write callback; a socket
   * that cannot tell: once bufferedAmount is back to 0, checked as frames arrive). Never called after terminate.
   */
  send(text: string, sent?: () => void): void;
  /** A close handshake; the core terminates after a grace period if no close follows. */
  close(code: number, reason: string): void;
  /** Ends the socket now, without a close handshake. No event fires afterwards. */
  terminate(): void;
  /**
   * Flow control: stop reading the socket until resume(), so frames wait in the kernel and at the server.
   * Absent where the platform cannot (the global WebSocket reads whatever arrives).
   */
  pause?(): void;
  resume?(): void;
}

/**
 * Opens a socket to `url` (which carries the token: never log it). Must not throw; failures go to `refused`.
 * No event fires during the call itself.
 */
export type SocketFactory = (url: string, options: SocketOptions, events: SocketEvents) => PlatformSocket;

/**
 * Asks the server, outside WebSocket, why a socket failed to open: for a factory whose socket cannot tell the
 * handshake's HTTP status. Bounded by `timeoutMs`; never throws (an unanswered probe is `unknown`).
 */
export type RefusalProbe = (url: string, timeoutMs: number) => Promise<HandshakeRefusal>;

export interface Platform {
  readonly clock: Clock;
  readonly openSocket: SocketFactory;
}
