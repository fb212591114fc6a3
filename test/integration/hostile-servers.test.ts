// Hostile servers on 127.0.0.1 that the emulator will not imitate: each test proves the core stays bounded.
import {
  acquireConnection,
  closeAllConnections,
  connectionStats,
  type ConnectionStatus,
  type RealtimeEvent,
} from '../../core';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server';
import { sleep, waitFor } from '../helpers/wait';
import { UPGRADES_PER_REFUSAL } from '../helpers/sockets';

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
    socket.end(
      `HTTP/1.1 429 Too Many Requests\r\nRetry-After: ${retryAfter}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

describe('timers the server controls', () => {
  const huge: Array<[string, string]> = [
    ['1e12 seconds', '1000000000000'],
    ['just over 2^31 ms', '2147484'],
    ['an HTTP date decades ahead', new Date(Date.now() + 60 * 365 * 86_400_000).toUTCString()],
    ['Infinity', 'Infinity'],
  ];
  test.each(huge)(
    'a Retry-After of %s waits (at most an hour), it does not retry at once',
    async (_label, retryAfter) => {
      server = await refuseWith(retryAfter);
      const statuses: ConnectionStatus[] = [];
      const handle = acquireConnection({
        endpoint: server.url,
        token: TOKEN,
        lingerMs: 0,
        backoffInitialMs: 10,
        backoffMaxMs: 20,
      });
      handle.onStatus((s) => statuses.push(s));
      handle.subscribe('/p/requests', {
        onEvent: () => undefined,
        onError: () => undefined,
        subscribeTimeoutMs: 60_000,
      });
      const waiting = await waitFor(
        () => statuses.find((s) => s.retryInMs !== undefined && s.error),
        'a scheduled retry',
      );
      await sleep(1_000);
      expect(server.accepted).toBe(UPGRADES_PER_REFUSAL);
      expect(waiting.retryInMs).toBe(3_600_000);
      expect(waiting.error?.message).toMatch(/asked to wait .*; this client waits at most 1 h, so it retries in 1 h\./);
      handle.release();
    },
  );
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
      handle.subscribe('/p/requests', {
        onEvent: () => undefined,
        onError: () => undefined,
        subscribeTimeoutMs: 60_000,
      });
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
    server = await startHostileServer((socket) =>
      socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
    const BUDGET = 5;
    const options = {
      endpoint: server.url,
      token: TOKEN,
      maxConnectsPerMinute: BUDGET,
      backoffInitialMs: 5,
      backoffMaxMs: 10,
    };
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

describe('a server that floods pings and stops reading', () => {
  // Ten thousand ping frames in one write: the client, not this server, is the bottleneck.
  const ping = Buffer.from(JSON.stringify({ action: 'heartbeat', payload: { message: { text: 'ping' } } }));
  const frame = Buffer.concat([Buffer.from([0x81, ping.length]), ping]);
  const burst = Buffer.concat(Array.from({ length: 10_000 }, () => frame));

  async function floodingServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const floods: NodeJS.Timeout[] = [];
    wss.on('connection', (ws: WebSocket & { _socket: Socket }) => {
      const socket = ws._socket;
      socket.removeAllListeners('data'); // never read again: whatever the client sends stays in its buffers
      socket.pause();
      const flood = setInterval(() => {
        if (!socket.destroyed && socket.writableLength < 4 * burst.length) socket.write(burst);
      }, 5);
      floods.push(flood);
      socket.on('close', () => clearInterval(flood));
    });
    return {
      endpoint: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/`,
      close: async () => {
        for (const flood of floods) clearInterval(flood);
        for (const client of wss.clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
      },
    };
  }

  test('gets at most one pending pong: memory stays flat however many pings arrive', async () => {
    const flooding = await floodingServer();
    const handle = acquireConnection({
      endpoint: flooding.endpoint,
      token: TOKEN,
      lingerMs: 0,
      backoffInitialMs: 10_000,
    });
    try {
      handle.subscribe('/p/requests', {
        onEvent: () => undefined,
        onError: () => undefined,
        subscribeTimeoutMs: 60_000,
      });
      await waitFor(() => connectionStats().connections[0]?.stats.framesReceived > 10_000, 'the flood to start');
      const rssBefore = process.memoryUsage().rss;
      // A count, not a rate: a loaded CI machine takes longer to receive them (about 5 s on a quiet one).
      await waitFor(
        () => connectionStats().connections[0]?.stats.framesReceived > 200_000,
        '200 000 pings',
        60_000,
        50,
      );
      const { framesReceived, pongsSent } = connectionStats().connections[0].stats;
      const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      // One pong per write the socket completes, not one per ping: a thousandth here.
      expect(pongsSent).toBeLessThan(framesReceived / 100);
      expect(grownMb).toBeLessThan(100);
    } finally {
      handle.release();
      await flooding.close();
    }
  }, 90_000);

  test('a socket whose send buffer does not drain is replaced, though frames keep arriving', async () => {
    const flooding = await floodingServer();
    const warnings: string[] = [];
    const handle = acquireConnection({
      endpoint: flooding.endpoint,
      token: TOKEN,
      lingerMs: 0,
      pingIntervalMs: 200,
      pongTimeoutMs: 600,
      backoffInitialMs: 10_000,
    });
    try {
      handle.onWarning((w) => warnings.push(w));
      // Forty 1 MB topics: more than the kernel's buffers hold, so the client's own send buffer stays full.
      for (let i = 0; i < 40; i++)
        handle.subscribe(`/p/${String(i).padStart(2, '0')}${'t'.repeat(1024 * 1024)}`, {
          onEvent: () => undefined,
          onError: () => undefined,
          subscribeTimeoutMs: 60_000,
        });
      await waitFor(
        () => warnings.find((w) => /stopped reading what this client sends/.test(w)),
        'the stalled socket to be declared unhealthy',
        20_000,
      );
      expect(warnings.find((w) => /stopped reading/.test(w))).toMatch(
        /\d+ bytes waiting for over \d+ s\); the connection is unhealthy, reconnecting\./,
      );
    } finally {
      handle.release();
      await flooding.close();
    }
  });
});

describe('a snapshot is emitted whole when asked for', () => {
  test('elements without an id, more elements than the tracker holds, and _id 1 beside _id "1" are all emitted', async () => {
    const elements: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 5_000; i++) elements.push({ _id: `e${i}`, n: i });
    for (let i = 0; i < 998; i++) elements.push({ n: 5_000 + i, note: 'no id' });
    elements.push({ _id: 1, n: 'number' }, { _id: '1', n: 'string' });
    const topic = '/p/bots/b';
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { action: string; payload: { topic: string } };
        if (frame.action === 'subscribe')
          ws.send(
            JSON.stringify({
              action: 'publish',
              payload: { topic: frame.payload.topic, method: 'CREATE', message: elements },
            }),
          );
      });
    });
    const endpoint = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/`;
    const handle = acquireConnection({ endpoint, token: TOKEN, lingerMs: 0, maxTrackedPerTopic: 1_000 });
    try {
      const events: RealtimeEvent[] = [];
      const subscription = handle.subscribe(topic, { onEvent: (e) => events.push(e), emitSnapshot: true });
      await subscription.ready;
      expect(events).toHaveLength(6_000);
      expect(events.every((e) => e.snapshot)).toBe(true);
      expect(events.map((e) => e.data)).toEqual(elements);
    } finally {
      handle.release();
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

describe('what the client remembers is bounded by bytes, not only by count', () => {
  test('sixty unique 1 MB elements with 50 kB ids: the tracker and the resume record stay within their byte bounds', async () => {
    const topic = '/p/requests';
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { action: string };
        if (frame.action !== 'subscribe') return;
        ws.send(JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: [] } }));
        for (let i = 0; i < 60; i++) {
          const element = { _id: `${'i'.repeat(50_000)}${i}`, status: 100, blob: 'x'.repeat(1024 * 1024) };
          ws.send(JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: element } }));
        }
      });
    });
    const endpoint = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/`;
    const handle = acquireConnection({ endpoint, token: TOKEN, lingerMs: 0, maxTrackedBytesPerTopic: 8 * 1024 * 1024 });
    try {
      let delivered = 0;
      const subscription = handle.subscribe(topic, { onEvent: () => delivered++, resumable: true });
      await subscription.ready;
      await waitFor(() => delivered === 60, 'sixty events', 20_000);
      const { trackedBytes } = connectionStats().connections[0];
      expect(trackedBytes).toBeGreaterThan(1024 * 1024);
      expect(trackedBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
      expect(JSON.stringify(subscription.exportState()).length).toBeLessThan(1.1 * 1024 * 1024);
    } finally {
      handle.release();
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

describe('a live event that overtakes the snapshot on a list topic', () => {
  test('is applied in order after the snapshot: no look-ups, no recovered duplicates', async () => {
    const topic = '/p/requests';
    const a1 = { _id: 'a', request_id: 'ra', status: 100, updatedAt: '2026-01-01T00:00:01Z' };
    const a2 = { ...a1, status: 200, updatedAt: '2026-01-01T00:00:02Z' };
    const b = { _id: 'b', request_id: 'rb', status: 100, updatedAt: '2026-01-01T00:00:01Z' };
    const subscribes: string[] = [];
    let connection = 0;
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      connection += 1;
      const mine = connection;
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { action: string; payload: { topic: string } };
        if (frame.action !== 'subscribe') return;
        subscribes.push(frame.payload.topic);
        const publish = (method: string, message: unknown) =>
          ws.send(JSON.stringify({ action: 'publish', payload: { topic, method, message } }));
        if (mine === 1) return publish('CREATE', [a1, b]);
        // Registered before the snapshot was sent: the change to a comes first, then the snapshot that holds it.
        publish('UPDATE', a2);
        publish('CREATE', [a2, b]);
      });
    });
    const endpoint = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/`;
    const handle = acquireConnection({ endpoint, token: TOKEN, lingerMs: 0, backoffInitialMs: 20, backoffMaxMs: 40 });
    try {
      const events: RealtimeEvent[] = [];
      const subscription = handle.subscribe(topic, { onEvent: (e) => events.push(e) });
      await subscription.ready;
      for (const client of wss.clients) client.terminate();
      await waitFor(() => events.length >= 1, 'the change to a', 10_000);
      await sleep(500);
      expect(events.map((e) => [e.method, e.data._id, e.data.status])).toEqual([['UPDATE', 'a', 200]]);
      expect(subscribes).toEqual([topic, topic]); // no look-up of b
    } finally {
      handle.release();
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
