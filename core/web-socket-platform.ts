// Sockets over the standard WebSocket (browsers, Node 22+), which needs no dependency. What it
// cannot do, and what the core does instead:
// - tell why a handshake failed (401, 429, 503 or the network look alike): an injected RefusalProbe asks;
// - refuse an oversized frame before it is buffered: the frame is refused once received, and the socket closed;
// - pause reading (flow control): absent, frames are delivered as they come.
import { messageOf } from './errors';
import {
  UNBUDGETED_PROBE,
  type HandshakeRefusal,
  type PlatformSocket,
  type RefusalProbe,
  type SocketFactory,
} from './platform';

/** The part of the standard WebSocket used here. */
interface StandardWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
type StandardWebSocketClass = new (url: string) => StandardWebSocket;

export interface WebSocketFactoryOptions {
  /** Asked after a failed open, to tell a refused token from a rate limit from the network. */
  probe?: RefusalProbe;
  /** Default: the runtime's global WebSocket, named as the standard names it. */
  WebSocket?: StandardWebSocketClass;
}

const STATES = ['connecting', 'open', 'closing', 'closed'] as const;

// The standard global, declared here because this tree's lib (es2021) has no DOM; Node 20 has none (undefined).
declare const WebSocket: StandardWebSocketClass | undefined;

/** The runtime's standard WebSocket class (Node 22+), or undefined. */
function globalWebSocket(): StandardWebSocketClass | undefined {
  return typeof WebSocket === 'function' ? WebSocket : undefined;
}

/** Whether this runtime has a standard WebSocket (Node 22+). */
export function hasGlobalWebSocket(): boolean {
  return globalWebSocket() !== undefined;
}

export function webSocketFactory(factoryOptions: WebSocketFactoryOptions = {}): SocketFactory {
  return (url, options, events) => {
    const Impl = factoryOptions.WebSocket ?? globalWebSocket();
    let socket: StandardWebSocket;
    try {
      if (!Impl) throw new Error('this runtime has no global WebSocket (Node 22 or later has one)');
      socket = new Impl(url);
    } catch (error) {
      const message = messageOf(error);
      queueMicrotask(() => events.refused({ kind: 'network', message }));
      return closedSocket();
    }
    socket.binaryType = 'arraybuffer';
    let opened = false;
    let failed = false;
    let ended = false;
    // `sent` callbacks waiting for the send buffer to empty (the standard API has no write callback).
    let waitingSent: Array<() => void> = [];
    const flushSent = () => {
      if (!waitingSent.length || socket.bufferedAmount > 0) return;
      const callbacks = waitingSent;
      waitingSent = [];
      for (const callback of callbacks) callback();
    };
    const fail = (message: string) => {
      if (failed || opened || ended) return;
      failed = true;
      const report = (refusal: HandshakeRefusal) => {
        if (!ended) events.refused(refusal);
      };
      if (!factoryOptions.probe) return report({ kind: 'unknown', message });
      const claim = events.claimProbe ? events.claimProbe() : UNBUDGETED_PROBE;
      if (!claim)
        return report({ kind: 'unknown', message: `${message} (not asked why: the connection budget is spent)` });
      factoryOptions.probe(url, options.handshakeTimeoutMs).then(
        (refusal) => {
          if (refusal.kind === 'network') claim.release();
          report(refusal);
        },
        (error: unknown) => report({ kind: 'unknown', message: `${message}; the probe failed: ${String(error)}` }),
      );
    };
    const detach = () => {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.onerror = () => undefined; // an implementation that reports late errors must find a listener
    };
    socket.onopen = () => {
      opened = true;
      events.open();
    };
    socket.onmessage = (event) => {
      flushSent();
      if (typeof event.data !== 'string') return events.binary?.();
      // Characters, not bytes: at most as many as the bytes, so a frame over the limit here is over it in bytes too.
      if (event.data.length > options.maxFrameBytes) {
        ended = true;
        detach();
        socket.close(); // the standard API allows no 1009 from a client
        return events.error(Object.assign(new Error('Max payload size exceeded'), { tooLarge: true }));
      }
      events.message(event.data);
    };
    socket.onerror = (event) => {
      const message = (event as { message?: unknown }).message;
      const text = typeof message === 'string' && message ? message : 'the WebSocket failed';
      if (!opened) return fail(text);
      events.error(new Error(text));
    };
    socket.onclose = (event) => {
      if (!opened) return fail(`closed (${event.code}) before the handshake completed`);
      ended = true;
      detach();
      events.close(event.code, event.reason);
    };
    return {
      get state() {
        return ended ? 'closed' : STATES[socket.readyState];
      },
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      send: (text, sent) => {
        socket.send(text);
        if (sent) waitingSent.push(sent);
      },
      close: (code, reason) => socket.close(code, reason),
      terminate: () => {
        ended = true;
        waitingSent = [];
        detach();
        // The standard API has no abort: a close without waiting for the peer, its events no longer heard.
        if (socket.readyState < 2) socket.close();
      },
    } satisfies PlatformSocket;
  };
}

function closedSocket(): PlatformSocket {
  return {
    state: 'closed',
    bufferedAmount: 0,
    send: () => undefined,
    close: () => undefined,
    terminate: () => undefined,
  };
}
