// Hostile servers on 127.0.0.1 that the emulator will not imitate: each test proves the core stays bounded.
import { acquireConnection, closeAllConnections, type ConnectionStatus } from '../../core';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server';
import { sleep, waitFor } from '../helpers/wait';

jest.setTimeout(30_000);

const TOKEN = 'opaque-test-token-0123456789';
let server: HostileServer | undefined;

afterEach(async () => {
  await closeAllConnections();
  await server?.close();
  server = undefined;
});

function refuseWith(retryAfter: string): Promise<HostileServer> {
  return startHostileServer((socket) => {
    const body = '{"msg":"Too many connections"}';
    socket.end(`HTTP/1.1 429 Too Many Requests\r\nRetry-After: ${retryAfter}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
}

describe('timers the server controls', () => {
  const huge: Array<[string, string]> = [
    ['1e12 seconds', '1000000000000'],
    ['just over 2^31 ms', '2147484'],
    ['an HTTP date decades ahead', new Date(Date.now() + 60 * 365 * 86_400_000).toUTCString()],
    ['Infinity', 'Infinity'],
  ];
  test.each(huge)('a Retry-After of %s waits (at most an hour), it does not retry at once', async (_label, retryAfter) => {
    server = await refuseWith(retryAfter);
    const statuses: ConnectionStatus[] = [];
    const handle = acquireConnection({ endpoint: server.url, token: TOKEN, lingerMs: 0, backoffInitialMs: 10, backoffMaxMs: 20 });
    handle.onStatus((s) => statuses.push(s));
    handle.subscribe('/p/requests', { onEvent: () => undefined, onError: () => undefined, subscribeTimeoutMs: 60_000 });
    const waiting = await waitFor(() => statuses.find((s) => s.retryInMs !== undefined && s.error), 'a scheduled retry');
    await sleep(1_000);
    expect(server.accepted).toBe(1);
    expect(waiting.retryInMs).toBe(3_600_000);
    expect(waiting.error?.message).toMatch(/asked to wait .*; this client waits at most 1 h, so it retries in 1 h\./);
    handle.release();
  });
});

describe('the handshake has a total deadline', () => {
  test('a 101 dribbled one byte at a time fails after handshakeTimeoutMs, not never', async () => {
    const timers: NodeJS.Timeout[] = [];
    server = await startHostileServer((socket) => {
      const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
      let i = 0;
      const drip = setInterval(() => {
        if (i < text.length && !socket.destroyed) socket.write(text[i++]);
      }, 200);
      timers.push(drip);
      socket.on('close', () => clearInterval(drip));
    });
    const statuses: ConnectionStatus[] = [];
    const started = Date.now();
    const handle = acquireConnection({ endpoint: server.url, token: TOKEN, lingerMs: 0, handshakeTimeoutMs: 1_000 });
    try {
      handle.onStatus((s) => statuses.push(s));
      handle.subscribe('/p/requests', { onEvent: () => undefined, onError: () => undefined, subscribeTimeoutMs: 60_000 });
      const failed = await waitFor(() => statuses.find((s) => s.error), 'the handshake to fail', 5_000);
      expect(failed.error?.message).toMatch(/did not complete the WebSocket handshake within 1000 ms/);
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      handle.release();
      for (const t of timers) clearInterval(t);
    }
  });
});

describe('the connection budget holds per endpoint and token for the life of the process', () => {
  test('redeploys, releases and linger expiries in the middle of a reconnect storm spend one budget', async () => {
    server = await startHostileServer((socket) => socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    const BUDGET = 5;
    const options = { endpoint: server.url, token: TOKEN, maxConnectsPerMinute: BUDGET, backoffInitialMs: 5, backoffMaxMs: 10 };
    const until = Date.now() + 3_000;
    let round = 0;
    while (Date.now() < until) {
      // Alternate a release with no linger (a redeploy that drops the connection at once) and one whose
      // short linger expires before the next acquire: each round gets a new connection object.
      const linger = round++ % 2 === 0 ? 0 : 20;
      const handle = acquireConnection({ ...options, lingerMs: linger });
      handle.subscribe('/p/requests', { onEvent: () => undefined, onError: () => undefined });
      await sleep(60);
      handle.release();
      await sleep(linger + 10);
    }
    expect(round).toBeGreaterThan(10);
    expect(server.accepted).toBeLessThanOrEqual(BUDGET);
    expect(server.accepted).toBeGreaterThan(0);
  });
});
