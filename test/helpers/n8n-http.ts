// The part of n8n's HTTP helpers the refusal probe uses (nodes/Pingstreams/n8n-platform.ts), over node:http as n8n
// does it: helpers.httpRequest (returnFullResponse, ignoreHttpStatusErrors, timeout) and the credential test's
// helpers.request (resolveWithFullResponse, simple: false). A host API fake: the requests are real.
import { request } from 'node:http';
import type { IHttpRequestOptions } from 'n8n-workflow';
import { WebSocket as WsWebSocket } from 'ws';

interface FullResponse {
  statusCode?: number;
  headers: Record<string, unknown>;
  body: string;
}

function send(url: string, method: string | undefined, headers: unknown, timeout: number | undefined) {
  return new Promise<FullResponse>((resolve, reject) => {
    const req = request(url, { method, headers: headers as Record<string, string>, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ statusCode: res.statusCode, headers: res.headers, body }));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ECONNABORTED' })));
    req.on('error', reject);
    req.end();
  });
}

/** helpers.httpRequest; `seen` collects each request's options. */
export function fakeHttpRequest(seen: IHttpRequestOptions[] = []) {
  return (options: IHttpRequestOptions): Promise<unknown> => {
    seen.push(options);
    return send(String(options.url), options.method, options.headers, options.timeout);
  };
}

/** The credential test's helpers.request (request-promise options). */
export function fakeRequest() {
  return (options: { uri: string; method?: string; headers?: unknown; timeout?: number }): Promise<unknown> =>
    send(options.uri, options.method, options.headers, options.timeout);
}

/**
 * n8n 2.x runs on Node 22+, whose global WebSocket the n8n nodes use. Under an older Node (the unit suites' Node 20)
 * `ws`, a complete implementation of the same standard API, stands in for it.
 */
export function ensureGlobalWebSocket(): void {
  const scope = globalThis as { WebSocket?: unknown };
  if (typeof scope.WebSocket !== 'function') scope.WebSocket = WsWebSocket;
}
