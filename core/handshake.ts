// Opening one socket through the platform: the total handshake deadline and the classification of its refusals.
// Shared by the long-lived connection and the one-shot credential test.
import { HandshakeError, RateLimitedError, TokenRefusedError } from './errors';
import { buildSocketUrl, describeEndpoint } from './endpoint';
import { decodeJwtExpiry, redact, redactError } from './redact';
import { MAX_RETRY_AFTER_MS, timerDelay } from './limits';
import {
  UNBUDGETED_PROBE,
  type HandshakeRefusal,
  type Platform,
  type PlatformSocket,
  type ProbeClaim,
} from './platform';

export interface HandshakeOptions {
  endpoint: string;
  token: string;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  defaultRetryAfterMs: number;
}

/** What the caller hears of one socket. Nothing is heard after `failed` or after the caller terminates it. */
export interface SocketHandlers {
  open(): void;
  /** The handshake failed: TokenRefusedError (permanent), RateLimitedError or HandshakeError, redacted. */
  failed(error: Error): void;
  /** See SocketEvents.claimProbe. */
  claimProbe?(): ProbeClaim | undefined;
  message(text: string): void;
  binary?(): void;
  close(code: number, reason: string): void;
  error(error: Error & { tooLarge?: boolean }): void;
}

export function openSocket(options: HandshakeOptions, platform: Platform, handlers: SocketHandlers): PlatformSocket {
  const { clock } = platform;
  const endpoint = describeEndpoint(options.endpoint);
  let settled = false;
  let failed = false;
  // Assigned below; read only from callbacks, which never fire during the factory call (SocketFactory's contract).
  // eslint-disable-next-line prefer-const
  let socket: PlatformSocket | undefined;
  // An idle timeout of the socket (ws's handshakeTimeout) never trips on a 101 dribbled a byte at a time: total.
  const deadline = clock.setTimeout(() => {
    settle(
      new HandshakeError(
        `The server at ${endpoint} did not complete the WebSocket handshake within ${options.handshakeTimeoutMs} ms (it may be overloaded, or not a Pingstreams server); retrying.`,
      ),
    );
  }, timerDelay(options.handshakeTimeoutMs));
  const settle = (error?: Error) => {
    if (settled) return;
    settled = true;
    clock.clearTimeout(deadline);
    if (!error) return handlers.open();
    failed = true;
    socket?.terminate();
    handlers.failed(redactError(error, options.token));
  };
  socket = platform.openSocket(
    buildSocketUrl(options.endpoint, options.token),
    { maxFrameBytes: options.maxFrameBytes, handshakeTimeoutMs: options.handshakeTimeoutMs },
    {
      open: () => settle(),
      refused: (refusal) => settle(classifyRefusal(refusal, options, endpoint)),
      claimProbe: () => (handlers.claimProbe ? handlers.claimProbe() : UNBUDGETED_PROBE),
      message: (text) => settled && handlers.message(text),
      binary: () => settled && handlers.binary?.(),
      close: (code, reason) => settled && handlers.close(code, reason),
      error: (error) => settled && handlers.error(error),
    },
  );
  if (failed) socket.terminate(); // a factory that failed at once
  return socket;
}

/** What to check after a network error: a TLS failure on wss:// usually means a plain ws:// server. */
function connectHint(endpoint: string, message: string, code?: string): string {
  const tlsFailed = code === 'EPROTO' || /SSL|TLS|wrong version number|packet length/i.test(message);
  if (endpoint.startsWith('wss:') && tlsFailed) {
    return 'The server did not answer with TLS: if it serves plain ws:// (the local emulator does), use a ws:// endpoint.';
  }
  return 'Check the endpoint and the network.';
}

export function classifyRefusal(refusal: HandshakeRefusal, options: HandshakeOptions, endpoint: string): Error {
  if (refusal.kind === 'network') {
    return new HandshakeError(
      `Could not connect to ${endpoint}: ${refusal.message}. ${connectHint(options.endpoint, refusal.message, refusal.code)}`,
    );
  }
  if (refusal.kind === 'unknown') {
    return new HandshakeError(
      `Could not connect to ${endpoint}: ${refusal.message}. The socket does not tell why; check the endpoint and the network.`,
    );
  }
  const status = refusal.status;
  const reason = redact(extractReason(refusal.body ?? ''), options.token);
  if (status === 401) return new TokenRefusedError(decodeJwtExpiry(options.token), reason || undefined);
  if (status === 429 || status === 503) {
    const requested = parseRetryAfter(refusal.retryAfter) ?? options.defaultRetryAfterMs;
    return new RateLimitedError(status, reason, Math.min(requested, MAX_RETRY_AFTER_MS), requested);
  }
  return new HandshakeError(
    `The Pingstreams server refused the connection to ${endpoint} with HTTP ${status}${reason ? `: ${reason}` : ''}. Check the endpoint URL.`,
    status,
  );
}

/** The reason in a refusal body: JSON {msg|message|error|reason} or plain text. */
export function extractReason(body: string): string {
  const text = body.trim();
  if (!text) return '';
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['msg', 'message', 'error', 'reason']) {
      const value = parsed?.[key];
      if (typeof value === 'string' && value) return value.slice(0, 300);
    }
  } catch {
    // plain text
  }
  return text.replace(/\s+/g, ' ').slice(0, 300);
}

/** Retry-After in seconds or as an HTTP date; may exceed what a timer holds (the caller shortens it). */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (seconds === Number.POSITIVE_INFINITY) return seconds;
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}
