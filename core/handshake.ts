// Opening one socket: the handshake and the classification of its refusals. Shared by the
// long-lived connection and the one-shot credential test.
import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { HandshakeError, RateLimitedError, TokenRefusedError } from './errors';
import { buildSocketUrl, describeEndpoint } from './endpoint';
import { decodeJwtExpiry, redact, redactError } from './redact';
import { MAX_RETRY_AFTER_MS, timerDelay } from './limits';

const MAX_REFUSAL_BODY = 2_048;
const REFUSAL_READ_TIMEOUT_MS = 2_000;

export interface HandshakeOptions {
  endpoint: string;
  token: string;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  defaultRetryAfterMs: number;
}

export interface SocketAttempt {
  socket: WebSocket;
  /** Resolves when open; rejects with TokenRefusedError (permanent), RateLimitedError or HandshakeError (redacted). */
  opened: Promise<void>;
}

export function openSocket(options: HandshakeOptions): SocketAttempt {
  const socket = new WebSocket(buildSocketUrl(options.endpoint, options.token), {
    handshakeTimeout: options.handshakeTimeoutMs,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
  });
  const endpoint = describeEndpoint(options.endpoint);
  const opened = new Promise<void>((resolve, reject) => {
    // ws's handshakeTimeout is an idle timeout: a 101 dribbled a byte at a time never trips it. This one is total.
    const deadline = setTimeout(() => {
      settle(
        new HandshakeError(
          `The server at ${endpoint} did not complete the WebSocket handshake within ${options.handshakeTimeoutMs} ms (it may be overloaded, or not a Pingstreams server); retrying.`,
        ),
      );
    }, timerDelay(options.handshakeTimeoutMs));
    deadline.unref?.();
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.removeListener('open', onOpen);
      socket.removeListener('error', onError);
      socket.removeListener('unexpected-response', onRefused);
      if (!error) return resolve();
      socket.on('error', () => undefined); // late errors of a discarded socket
      socket.terminate();
      reject(redactError(error, options.token));
    };
    const onOpen = () => settle();
    const onError = (error: Error) =>
      settle(
        new HandshakeError(
          `Could not connect to ${endpoint}: ${error.message}. ${connectHint(options.endpoint, error)}`,
        ),
      );
    const onRefused = (request: ClientRequest, response: IncomingMessage) => {
      clearTimeout(deadline); // an answer came; reading its body has its own bound
      void readBody(response).then((body) => {
        request.destroy();
        settle(classifyRefusal(response, body, options, endpoint));
      });
    };
    socket.on('open', onOpen);
    socket.on('error', onError);
    socket.on('unexpected-response', onRefused);
  });
  return { socket, opened };
}

/** What to check after a network error: a TLS failure on wss:// usually means a plain ws:// server. */
function connectHint(endpoint: string, error: Error & { code?: string }): string {
  const tlsFailed = error.code === 'EPROTO' || /SSL|TLS|wrong version number|packet length/i.test(error.message);
  if (endpoint.startsWith('wss:') && tlsFailed) {
    return 'The server did not answer with TLS: if it serves plain ws:// (the local emulator does), use a ws:// endpoint.';
  }
  return 'Check the endpoint and the network.';
}

function classifyRefusal(response: IncomingMessage, body: string, options: HandshakeOptions, endpoint: string): Error {
  const status = response.statusCode ?? 0;
  const reason = redact(extractReason(body), options.token);
  if (status === 401) return new TokenRefusedError(decodeJwtExpiry(options.token), reason || undefined);
  if (status === 429 || status === 503) {
    const requested = parseRetryAfter(response.headers['retry-after']) ?? options.defaultRetryAfterMs;
    return new RateLimitedError(status, reason, Math.min(requested, MAX_RETRY_AFTER_MS), requested);
  }
  return new HandshakeError(
    `The Pingstreams server refused the connection to ${endpoint} with HTTP ${status}${reason ? `: ${reason}` : ''}. Check the endpoint URL.`,
    status,
  );
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    const done = () => {
      clearTimeout(timer);
      resolve(body.slice(0, MAX_REFUSAL_BODY));
    };
    const timer = setTimeout(done, REFUSAL_READ_TIMEOUT_MS);
    timer.unref?.();
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (body.length < MAX_REFUSAL_BODY) body += chunk;
    });
    response.on('end', done);
    response.on('error', done);
  });
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
export function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (seconds === Number.POSITIVE_INFINITY) return seconds;
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
