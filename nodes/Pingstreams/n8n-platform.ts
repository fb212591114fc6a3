// The platform the n8n nodes give the core: timers from n8n-workflow's sleep (with an abort signal), the WebSocket
// Node 22+ provides (no dependency), and a refusal probe through n8n's own HTTP helper, which tells a refused token
// (401, not retried) from a rate limit (429/503 and its Retry-After) from the network, what the global WebSocket
// cannot say. No Node global, module or file system here: what n8n's scanner allows.
import { sleep, type IHttpRequestOptions } from 'n8n-workflow';
import type { Clock, HandshakeRefusal, Platform, RefusalProbe, TimerHandle } from '../../core/platform';
import { webSocketFactory } from '../../core/web-socket-platform';
import { messageOf } from '../../core/errors';

/** The most of a refusal's body kept (the reason shown to the user). */
const MAX_REFUSAL_BODY = 2_048;

interface SleepTimer extends TimerHandle {
  readonly controller: AbortController;
}

/** One-shot timers over `sleep(ms, signal)`; clearing aborts the sleep. A throwing callback is reported, not thrown. */
export function n8nClock(onCallbackError: (error: unknown) => void = () => undefined): Clock {
  return {
    now: () => Date.now(),
    setTimeout(callback, delayMs) {
      const controller = new AbortController();
      sleep(delayMs, controller.signal).then(
        () => {
          if (controller.signal.aborted) return;
          try {
            callback();
          } catch (error) {
            onCallbackError(error);
          }
        },
        () => undefined, // aborted: cleared
      );
      return { controller } as SleepTimer;
    },
    clearTimeout(handle) {
      (handle as SleepTimer | undefined)?.controller.abort();
    },
  };
}

/** Calls `callback` every `intervalMs` on `clock` (a timeout re-armed each time) until the returned stop is called. */
export function every(clock: Clock, intervalMs: number, callback: () => void): () => void {
  let timer: TimerHandle | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    timer = clock.setTimeout(tick, intervalMs);
    callback();
  };
  timer = clock.setTimeout(tick, intervalMs);
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}

/** What of n8n's helpers the probe needs: `this.helpers.httpRequest` of a trigger or an execute context. */
export type HttpRequest = (options: IHttpRequestOptions) => Promise<unknown>;

interface FullResponse {
  statusCode?: number;
  headers?: Record<string, unknown>;
  body?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

function randomKey(): string {
  let bytes = '';
  for (let i = 0; i < 16; i++) bytes += String.fromCharCode(Math.floor(Math.random() * 256));
  return btoa(bytes);
}

function headerOf(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (Array.isArray(value)) return value.length ? String(value[0]) : undefined;
  return value === undefined || value === null ? undefined : String(value);
}

/**
 * Asks the server with one upgrade request through n8n's HTTP helper (so n8n's proxy and egress settings apply)
 * what it answers the socket's URL: its HTTP status and Retry-After, or no answer (the network). The URL carries the
 * token: it goes to the same server the socket was opening, never into a message.
 */
export function n8nRefusalProbe(httpRequest: HttpRequest): RefusalProbe {
  return async (url, timeoutMs) => {
    const target = url.replace(/^ws/, 'http');
    try {
      const response = (await httpRequest({
        method: 'GET',
        url: target,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomKey(),
        },
        returnFullResponse: true,
        ignoreHttpStatusErrors: true,
        json: false,
        encoding: 'text',
        timeout: timeoutMs,
      })) as FullResponse;
      const status = Number(response.statusCode ?? 0);
      if (!status) return { kind: 'unknown', message: 'the probe got no status' };
      const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? '');
      return {
        kind: 'http',
        status,
        retryAfter: headerOf(response.headers, 'retry-after'),
        body: body.slice(0, MAX_REFUSAL_BODY),
      } satisfies HandshakeRefusal;
    } catch (error) {
      const code =
        (error as { code?: unknown; cause?: { code?: unknown } }).code ??
        (error as { cause?: { code?: unknown } }).cause?.code;
      const message = messageOf(error);
      // An accepted upgrade, a timeout or anything else without an HTTP answer that is not clearly the network.
      if (typeof code === 'string' && NETWORK_CODES.has(code)) return { kind: 'network', message, code };
      return { kind: 'unknown', message };
    }
  };
}

/**
 * The n8n platform; `httpRequest` is a context's `this.helpers.httpRequest`, bound (without it, refusals are not
 * told apart). The socket is the WebSocket Node 22+ provides: n8n 2.x runs on Node 22+.
 */
export function n8nPlatform(
  httpRequest: HttpRequest | undefined,
  onCallbackError?: (error: unknown) => void,
): Platform {
  return {
    clock: n8nClock(onCallbackError),
    openSocket: webSocketFactory(httpRequest ? { probe: n8nRefusalProbe(httpRequest) } : {}),
  };
}

/** The platform of a trigger's or an execution's context: its HTTP helper does the refusal probe. */
export function platformOf(context: { helpers?: { httpRequest?: HttpRequest } }): Platform {
  const httpRequest = context.helpers?.httpRequest;
  return n8nPlatform(httpRequest && ((options) => httpRequest.call(context.helpers, options)));
}
