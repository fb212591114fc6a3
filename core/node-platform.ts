// The Node platform: the global timers (unref'd, so they never hold a process open) and sockets from `ws`, which
// tells the handshake's HTTP status itself. Also the Node refusal probe for sockets that cannot (see
// web-socket-platform.ts). The only core file (besides the JSONata ones) that uses Node's globals and modules.
import WebSocket from 'ws';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import type {
  Clock,
  HandshakeRefusal,
  Platform,
  PlatformSocket,
  RefusalProbe,
  SocketFactory,
  TimerHandle,
} from './platform';
import { webSocketFactory } from './web-socket-platform';

const MAX_REFUSAL_BODY = 2_048;
const REFUSAL_READ_TIMEOUT_MS = 2_000;

export const nodeClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref?.();
    return timer as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

const STATES = ['connecting', 'open', 'closing', 'closed'] as const;

/** Sockets from `ws`: frames above maxFrameBytes are refused before they are buffered, refusals carry their status. */
export const wsSocketFactory: SocketFactory = (url, options, events) => {
  const socket = new WebSocket(url, {
    handshakeTimeout: options.handshakeTimeoutMs,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
  });
  let opened = false;
  let refused = false;
  const refuse = (refusal: HandshakeRefusal) => {
    if (refused || opened) return;
    refused = true;
    events.refused(refusal);
  };
  socket.on('open', () => {
    opened = true;
    events.open();
  });
  socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
    void readBody(response).then((body) => {
      request.destroy();
      refuse({ kind: 'http', status: response.statusCode ?? 0, retryAfter: header(response, 'retry-after'), body });
    });
  });
  socket.on('error', (error: Error & { code?: string }) => {
    if (!opened) return refuse({ kind: 'network', message: error.message, code: error.code });
    events.error(Object.assign(error, { tooLarge: /max payload/i.test(error.message) }));
  });
  socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (isBinary) events.binary?.();
    else events.message(data.toString());
  });
  socket.on('close', (code: number, reason: Buffer) => {
    if (opened) events.close(code, reason.toString('utf8'));
    else refuse({ kind: 'unknown', message: `closed (${code}) before the handshake completed` });
  });
  return {
    get state() {
      return STATES[socket.readyState];
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (text, sent) => socket.send(text, sent && (() => sent())),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => {
      socket.removeAllListeners();
      socket.on('error', () => undefined); // late errors of a discarded socket
      socket.terminate();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  } satisfies PlatformSocket;
};

/**
 * Why an upgrade of `url` fails, asked over node:http: the same upgrade request (a plain GET is answered 404 by the
 * emulator and by servers that only speak WebSocket), its status and Retry-After read, the connection then dropped.
 * A 101 means the server accepts now: the failure was something else, reported as unknown.
 */
export const nodeRefusalProbe: RefusalProbe = (url, timeoutMs) =>
  new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url.replace(/^ws/, 'http'));
    } catch (error) {
      return resolve({ kind: 'unknown', message: String(error) });
    }
    let done = false;
    // eslint-disable-next-line prefer-const -- assigned below, read by `finish`, which cannot run before
    let request: ClientRequest | undefined;
    const finish = (refusal: HandshakeRefusal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request?.destroy();
      resolve(refusal);
    };
    const timer = setTimeout(
      () => finish({ kind: 'unknown', message: `no answer to the probe within ${timeoutMs} ms` }),
      timeoutMs,
    );
    timer.unref?.();
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    request = send(target, {
      method: 'GET',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      },
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      finish({ kind: 'unknown', message: 'the server accepts the upgrade now' });
    });
    request.on('response', (response) => {
      void readBody(response).then((body) =>
        finish({ kind: 'http', status: response.statusCode ?? 0, retryAfter: header(response, 'retry-after'), body }),
      );
    });
    request.on('error', (error: Error & { code?: string }) =>
      finish({ kind: 'network', message: error.message, code: error.code }),
    );
    request.end();
  });

/** The platform Node-RED, the CLI and (until its own platform) n8n use. */
export const nodePlatform: Platform = { clock: nodeClock, openSocket: wsSocketFactory };

/** The WebSocket Node 22+ provides, with the Node probe telling its refusals apart. */
export function nodeGlobalWebSocketPlatform(): Platform {
  return { clock: nodeClock, openSocket: webSocketFactory({ probe: nodeRefusalProbe }) };
}

function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
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
