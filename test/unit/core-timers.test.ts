// Every timer default of the core as shipped (README, docs/limits.md, ARCHITECTURE.md), on a fake clock and a fake
// transport: no option is overridden, so each test fails if its default changes.
import { acquireConnection, closeAllConnections, testConnection } from '../../core';
import { LiveMetricsSession } from '../../core/live-metrics';
import { HandshakeError, RateLimitedError, SubscriptionTimeoutError } from '../../core/errors';
import { heartbeatFrame, subscribeFrame, unsubscribeFrame } from '../../core/protocol';
import type { ConnectionStatus } from '../../core/types';
import { FakePlatform, settle, type FakeSocket } from '../helpers/fake-platform';

const ENDPOINT = 'ws://127.0.0.1:9/api/';
const TOKEN = 'timer-test-token';
const TOPIC = '/p1/requests';
const PING = heartbeatFrame('ping');
const PONG = heartbeatFrame('pong');
const snapshot = (topic: string, elements: unknown[]) =>
  JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: elements } });

let platform: FakePlatform;
let random: jest.SpyInstance<number, []>;

beforeEach(() => {
  platform = new FakePlatform();
  random = jest.spyOn(Math, 'random').mockReturnValue(0.999_999);
});
afterEach(async () => {
  random.mockRestore();
  const closing = closeAllConnections();
  await platform.clock.advance(5_000); // the close grace period, on the fake clock
  await closing;
});

function connect() {
  const statuses: ConnectionStatus[] = [];
  const handle = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
  handle.onStatus((status) => statuses.push(status));
  const errors: Error[] = [];
  const subscription = handle.subscribe(TOPIC, { onEvent: () => undefined, onError: (e) => errors.push(e) });
  subscription.ready.catch(() => undefined);
  return { handle, statuses, errors, subscription };
}

/** Opens the socket and answers the subscribe with an empty snapshot. */
async function ready(socket: FakeSocket): Promise<void> {
  socket.accept();
  await settle();
  expect(socket.sent).toContain(subscribeFrame(TOPIC));
  socket.receive(snapshot(TOPIC, []));
  await settle();
}

/** Time passes on an open socket whose server answers every heartbeat (a frame every 5 s). */
async function alive(socket: FakeSocket, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 5_000) {
    await platform.clock.advance(Math.min(5_000, left));
    socket.receive(PONG);
  }
}

const retries = (statuses: ConnectionStatus[]) =>
  statuses.filter((s) => s.retryInMs !== undefined).map((s) => s.retryInMs);

describe('heartbeat: own ping every 15 s, the socket dead 10 s after it without a frame', () => {
  test('the first ping goes out at 15 s, not before', async () => {
    connect();
    await ready(platform.last);
    await platform.clock.advance(14_999);
    expect(platform.last.sent).not.toContain(PING);
    await platform.clock.advance(1);
    expect(platform.last.sent.filter((f) => f === PING)).toHaveLength(1);
  });

  test('no frame within 10 s of the ping: declared dead and replaced', async () => {
    const { statuses } = connect();
    const first = platform.last;
    await ready(first);
    await platform.clock.advance(15_000 + 9_999);
    expect(first.terminated).toBe(false);
    await platform.clock.advance(1);
    expect(first.terminated).toBe(true);
    expect(statuses.at(-1)?.error?.message).toMatch(/within 10000 ms of a heartbeat; the connection is dead/);
  });

  test('any frame within the 10 s keeps it alive, and the next ping is 15 s after the last', async () => {
    connect();
    const socket = platform.last;
    await ready(socket);
    await platform.clock.advance(15_000 + 9_000);
    socket.receive(PONG);
    await platform.clock.advance(5_999);
    expect(socket.sent.filter((f) => f === PING)).toHaveLength(1);
    await platform.clock.advance(1);
    expect(socket.sent.filter((f) => f === PING)).toHaveLength(2);
    expect(socket.terminated).toBe(false);
  });

  test('a server ping is answered with one pong at once', async () => {
    connect();
    const socket = platform.last;
    await ready(socket);
    socket.receive(PING);
    await settle(); // handled at the end of the turn that received it (core/frame-batch.ts): no time passes
    expect(socket.sent.filter((f) => f === PONG)).toHaveLength(1);
  });
});

describe('reconnect backoff: full jitter from 1 s doubling to 60 s, reset after 30 s stable', () => {
  test('the ceiling doubles from 1 s and stops at 60 s', async () => {
    const { statuses } = connect();
    for (let attempt = 0; attempt < 8; attempt++) {
      platform.last.refuse({ kind: 'network', message: 'connection refused' });
      await settle();
      const delay = retries(statuses).at(-1)!;
      await platform.clock.advance(delay);
    }
    // Math.random() just under 1: each delay is the ceiling (the budget of 10 a minute is never the limit here).
    expect(retries(statuses)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  });

  test('full jitter: uniform from 0 to the ceiling, never below 100 ms', async () => {
    const { statuses } = connect();
    random.mockReturnValue(0.5);
    platform.last.refuse({ kind: 'network', message: 'connection refused' });
    await platform.clock.advance(500);
    random.mockReturnValue(0);
    platform.last.refuse({ kind: 'network', message: 'connection refused' });
    await settle();
    expect(retries(statuses)).toEqual([500, 100]);
  });

  test('30 s connected resets the backoff; 29.999 s does not', async () => {
    const { statuses } = connect();
    for (const delay of [1_000, 2_000]) {
      platform.last.refuse({ kind: 'network', message: 'connection refused' });
      await platform.clock.advance(delay);
    }
    await ready(platform.last);
    await alive(platform.last, 29_999);
    expect(platform.last.terminated).toBe(false);
    platform.last.drop();
    await settle();
    expect(retries(statuses).at(-1)).toBe(4_000);
    await platform.clock.advance(4_000);
    await ready(platform.last);
    await alive(platform.last, 30_000);
    expect(platform.last.terminated).toBe(false);
    platform.last.drop();
    await settle();
    expect(retries(statuses).at(-1)).toBe(1_000);
  });
});

test('the connection budget: 10 new connections per rolling minute, whatever the backoff says', async () => {
  random.mockReturnValue(0); // 100 ms backoff: the budget is the only limit
  const firstAt = platform.clock.now();
  connect();
  for (let i = 0; i < 10; i++) {
    platform.last.refuse({ kind: 'network', message: 'connection refused' });
    await platform.clock.advance(100);
  }
  expect(platform.sockets).toHaveLength(10);
  // The eleventh waits until 60 s after the first.
  await platform.clock.advance(firstAt + 60_000 - 1 - platform.clock.now());
  expect(platform.sockets).toHaveLength(10);
  await platform.clock.advance(1);
  expect(platform.sockets).toHaveLength(11);
});

test('the handshake deadline: 10 s in total, then retried', async () => {
  const { statuses } = connect();
  const socket = platform.last;
  await platform.clock.advance(9_999);
  expect(socket.terminated).toBe(false);
  await platform.clock.advance(1);
  expect(socket.terminated).toBe(true);
  const failed = statuses.find((s) => s.error);
  expect(failed?.error).toBeInstanceOf(HandshakeError);
  expect(failed?.error?.message).toMatch(/did not complete the WebSocket handshake within 10000 ms/);
});

test('the subscribe timeout: no snapshot within 10 s is a SubscriptionTimeoutError', async () => {
  const { subscription } = connect();
  platform.last.accept();
  await platform.clock.advance(9_999);
  let outcome: unknown = 'pending';
  subscription.ready.then(
    () => (outcome = 'ready'),
    (e: unknown) => (outcome = e),
  );
  await settle();
  expect(outcome).toBe('pending');
  await platform.clock.advance(1);
  expect(outcome).toBeInstanceOf(SubscriptionTimeoutError);
  expect((outcome as Error).message).toMatch(/10 s/);
});

test('a subscription that cannot connect at all gives up after the handshake and subscribe timeouts (20 s)', async () => {
  const { subscription } = connect();
  let outcome: unknown = 'pending';
  subscription.ready.then(
    () => (outcome = 'ready'),
    (e: unknown) => (outcome = e),
  );
  await platform.clock.advance(19_999);
  expect(outcome).toBe('pending');
  await platform.clock.advance(1);
  expect(outcome).toBeInstanceOf(HandshakeError);
  expect((outcome as Error).message).toMatch(/within 20 s/);
});

describe('refusals', () => {
  test.each([429, 503])('%s without Retry-After waits 60 s', async (status) => {
    random.mockReturnValue(0);
    const { statuses } = connect();
    platform.last.refuse({ kind: 'http', status, body: '{"msg":"busy"}' });
    await settle();
    expect(statuses.at(-1)?.error).toBeInstanceOf(RateLimitedError);
    expect(retries(statuses)).toEqual([60_000]);
    await platform.clock.advance(59_999);
    expect(platform.sockets).toHaveLength(1);
    await platform.clock.advance(1);
    expect(platform.sockets).toHaveLength(2);
  });

  test('a Retry-After beyond an hour is shortened to an hour', async () => {
    const { statuses } = connect();
    platform.last.refuse({ kind: 'http', status: 429, retryAfter: '1000000000000' });
    await settle();
    expect(retries(statuses)).toEqual([3_600_000]);
  });

  test('401 is never retried', async () => {
    const { statuses, subscription } = connect();
    platform.last.refuse({ kind: 'http', status: 401, body: '{"msg":"bad token"}' });
    await expect(subscription.ready).rejects.toThrow(/refused/i);
    await platform.clock.advance(3_600_000);
    expect(platform.sockets).toHaveLength(1);
    expect(statuses.at(-1)?.state).toBe('failed');
  });
});

test('linger: the socket stays 3 s after the last release, then closes (terminated 2 s later if the server does not answer)', async () => {
  const { handle } = connect();
  const socket = platform.last;
  await ready(socket);
  handle.release();
  expect(socket.sent.at(-1)).toBe(unsubscribeFrame(TOPIC));
  await platform.clock.advance(2_999);
  expect(socket.closedWith).toBeUndefined();
  // Re-acquired within the linger: the same socket serves.
  const again = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
  await platform.clock.advance(10_000);
  expect(platform.sockets).toHaveLength(1);
  again.release();
  await platform.clock.advance(2_999);
  expect(socket.closedWith).toBeUndefined();
  await platform.clock.advance(1);
  expect(socket.closedWith).toEqual({ code: 1000, reason: 'client closing' });
  expect(socket.terminated).toBe(false);
  await platform.clock.advance(1_999);
  expect(socket.terminated).toBe(false);
  await platform.clock.advance(1);
  expect(socket.terminated).toBe(true);
});

describe('a request missing from the snapshot after a reconnect is looked up on its own topic', () => {
  const request = { _id: 'a', request_id: 'r1', status: 200, updatedAt: '2026-01-01T00:00:00.000Z' };
  const lookUp = '/p1/requests/r1';

  test('an unanswered look-up waits 10 s, proves nothing (no event), and is asked again after the next reconnect', async () => {
    const events: unknown[] = [];
    const handle = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
    handle.subscribe(TOPIC, { onEvent: (e) => events.push(e) }).ready.catch(() => undefined);
    platform.last.accept();
    await settle();
    platform.last.receive(snapshot(TOPIC, [request]));
    await settle();
    const reconnect = async () => {
      platform.last.drop();
      await platform.clock.advance(1_000); // the first backoff, Math.random() just under 1
      const socket = platform.last;
      socket.accept();
      await settle();
      socket.receive(snapshot(TOPIC, [])); // partial: the request left the open list
      await settle();
      return socket;
    };
    const socket = await reconnect();
    expect(socket.sent).toContain(subscribeFrame(lookUp));
    await alive(socket, 5_000);
    await platform.clock.advance(4_999);
    expect(socket.sent).not.toContain(unsubscribeFrame(lookUp));
    await platform.clock.advance(1);
    expect(socket.sent).toContain(unsubscribeFrame(lookUp));
    expect(events).toEqual([]);
    await alive(socket, 30_000); // stable: the backoff resets
    const again = await reconnect();
    expect(again.sent).toContain(subscribeFrame(lookUp));
    again.receive(snapshot(lookUp, [{ ...request, status: 1000, updatedAt: '2026-01-01T00:01:00.000Z' }]));
    await settle();
    expect(events).toEqual([
      expect.objectContaining({ method: 'UPDATE', recovered: true, data: expect.objectContaining({ status: 1000 }) }),
    ]);
  });

  test('a resumed subscriber looks up at most 500 requests of its record that left the open list', async () => {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
    const ids = Array.from({ length: 600 }, (_, i) => `q${i}`);
    // A record as a host saved it: one request per id, each with its fingerprint.
    const first = handle.subscribe(TOPIC, { onEvent: () => undefined, resumable: true });
    platform.last.accept();
    await settle();
    platform.last.receive(
      snapshot(
        TOPIC,
        ids.map((id) => ({ _id: id, request_id: `r-${id}`, status: 200, updatedAt: '2026-01-01T00:00:00.000Z' })),
      ),
    );
    await settle();
    const resumeState = first.exportState();
    first.close();
    const socket = platform.last;
    const sentBefore = socket.sent.length;
    handle.subscribe(TOPIC, { onEvent: () => undefined, resumeState }).ready.catch(() => undefined);
    await settle();
    socket.receive(snapshot(TOPIC, [])); // every request left the open list meanwhile
    await settle();
    for (let i = 0; i < 40; i++) await settle(); // the look-ups go out 20 at a time as answers come: none come
    const lookUps = () => socket.sent.slice(sentBefore).filter((f) => f.includes('/requests/r-q'));
    expect(lookUps()).toHaveLength(20);
    await alive(socket, 10_000); // each unanswered look-up gives up after 10 s, the next 20 go out
    expect(lookUps().filter((f) => f.includes('"subscribe"'))).toHaveLength(40);
    await alive(socket, 300_000);
    const asked = lookUps().filter((f) => f.includes('"subscribe"'));
    expect(asked).toHaveLength(500);
    expect(asked).toEqual(ids.slice(0, 500).map((id) => subscribeFrame(`/p1/requests/r-${id}`)));
  });
});

describe('live metrics after a reconnect: known requests confirmed 50 a second, 10 at once', () => {
  const requests = Array.from({ length: 100 }, (_, i) => ({
    _id: `q${i}`,
    request_id: `r${i}`,
    status: 200,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  }));
  const isLookUp = (frame: string) => frame.startsWith('{"action":"subscribe"') && frame.includes('/requests/r');

  /** A session whose 100 known requests are all to be confirmed: its socket is reconnected, the snapshot answered. */
  async function reconnectedSession() {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
    const session = new LiveMetricsSession(handle, { projectId: 'p1' });
    platform.last.accept();
    await settle();
    platform.last.receive(snapshot(TOPIC, requests));
    await session.ready;
    platform.last.drop();
    await platform.clock.advance(1_000); // the first backoff, Math.random() just under 1
    const socket = platform.last;
    socket.accept();
    await settle();
    socket.receive(snapshot(TOPIC, requests)); // full: it vouches for none of them
    await settle();
    return { session, socket };
  }

  test('answered at once, they go out at 50 a second', async () => {
    const { session, socket } = await reconnectedSession();
    const answered = new Set<string>();
    /** Answers every look-up sent so far, as the server would at once. */
    const answer = async () => {
      for (const frame of socket.sent.filter(isLookUp)) {
        const topic = (JSON.parse(frame) as { payload: { topic: string } }).payload.topic;
        if (answered.has(topic)) continue;
        answered.add(topic);
        const request = requests.find((r) => topic.endsWith(`/${r.request_id}`))!;
        socket.receive(JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: request } }));
      }
      await settle();
    };
    for (let ms = 0; ms < 1_000; ms += 10) {
      await platform.clock.advance(10);
      await answer();
    }
    // One at the first tick, then 50 per second: at most 51 in the first second.
    expect(answered.size).toBeGreaterThanOrEqual(45);
    expect(answered.size).toBeLessThanOrEqual(51);
    for (let ms = 0; ms < 1_000; ms += 10) {
      await platform.clock.advance(10);
      await answer();
    }
    expect(answered.size).toBe(100);
    expect(session.confirmations.looked).toBe(100);
    session.close();
  });

  test('unanswered, at most 10 are in flight; each gives up after the 10 s subscribe timeout', async () => {
    const { session, socket } = await reconnectedSession();
    await alive(socket, 5_000);
    expect(socket.sent.filter(isLookUp)).toHaveLength(10);
    await alive(socket, 4_900);
    expect(socket.sent.filter(isLookUp)).toHaveLength(10);
    await alive(socket, 400);
    expect(socket.sent.filter(isLookUp)).toHaveLength(20);
    session.close();
  });

  test('settled() waits at most 5 s for agent records that do not answer', async () => {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: TOKEN, platform });
    const session = new LiveMetricsSession(handle, { projectId: 'p1', agents: ['u1'] });
    platform.last.accept();
    await settle();
    platform.last.receive(snapshot(TOPIC, []));
    let settled = false;
    void session.settled().then(() => (settled = true));
    await platform.clock.advance(4_999);
    expect(settled).toBe(false);
    await platform.clock.advance(1);
    expect(settled).toBe(true);
    session.close();
  });
});

test('a send buffer that does not drain for 10 s is found at a ping and the socket replaced', async () => {
  const { statuses } = connect();
  const socket = platform.last;
  await ready(socket);
  socket.bufferedAmount = 1;
  await platform.clock.advance(15_000); // first ping: the stall starts being measured
  socket.receive(PONG);
  await platform.clock.advance(15_000); // 15 s >= 10 s
  expect(socket.terminated).toBe(true);
  expect(statuses.find((s) => s.error)?.error?.message).toMatch(/stopped reading what this client sends/);
});

test('the credential test waits 10 s for its heartbeat answer', async () => {
  let outcome: unknown = 'pending';
  const testing = testConnection({ endpoint: ENDPOINT, token: TOKEN, platform }).then(
    () => (outcome = 'ok'),
    (e: unknown) => (outcome = e),
  );
  await settle();
  platform.last.accept();
  expect(platform.last.sent).toEqual([PING]);
  await platform.clock.advance(9_999);
  expect(outcome).toBe('pending');
  await platform.clock.advance(1);
  await testing;
  expect((outcome as Error).message).toMatch(/no heartbeat answer came within 10000 ms/);
});
