// Refused handshakes over the standard WebSocket, which cannot tell a 401 from a 429 from the network: the refusal
// probe (nodeRefusalProbe) asks, against the emulator. Under Node 22+ the factory runs over globalThis.WebSocket
// (global-websocket.test.ts runs this file under Node 24); under Node 20 over ws's class, which has the same API.
import WebSocket from 'ws';
import { createServer } from 'node:net';
import { startEmulator, type Emulator } from '../../emulator';
import {
  acquireConnection,
  closeAllConnections,
  connectionStats,
  HandshakeError,
  RateLimitedError,
  TokenRefusedError,
  type ConnectionStatus,
  type Platform,
} from '../../core';
import { nodeClock, nodeRefusalProbe } from '../../core/node-platform';
import { hasGlobalWebSocket, webSocketFactory, type WebSocketFactoryOptions } from '../../core/web-socket-platform';
import { waitFor, sleep } from '../helpers/wait';

jest.setTimeout(30_000);

const StandardWebSocket = (
  hasGlobalWebSocket() ? (globalThis as unknown as { WebSocket: unknown }).WebSocket : WebSocket
) as WebSocketFactoryOptions['WebSocket'];

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await closeAllConnections();
  await emu.close();
});

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const socketUrl = (token: string) => `${emu.url}?token=${encodeURIComponent(token)}`;

describe('the Node refusal probe repeats the upgrade and reads its answer', () => {
  test('401 for a token the server refuses, with its reason', async () => {
    const refusal = await nodeRefusalProbe(socketUrl('not-a-jwt'), 2_000);
    expect(refusal).toMatchObject({ kind: 'http', status: 401 });
    expect(refusal.kind === 'http' && refusal.body).toMatch(/not a well-formed JWT/);
  });

  test('429 and 503 with their Retry-After', async () => {
    emu.faults.refuseNext(1, 429, { retryAfterSec: 7 });
    expect(await nodeRefusalProbe(socketUrl(emu.tokens.owner), 2_000)).toMatchObject({
      kind: 'http',
      status: 429,
      retryAfter: '7',
    });
    emu.faults.refuseNext(1, 503);
    const refusal = await nodeRefusalProbe(socketUrl(emu.tokens.owner), 2_000);
    expect(refusal).toMatchObject({ kind: 'http', status: 503 });
    expect(refusal.kind === 'http' && refusal.retryAfter).toBeFalsy();
  });

  test('a network failure is network; an accepted upgrade is dropped and unknown', async () => {
    const port = await closedPort();
    expect(await nodeRefusalProbe(`ws://127.0.0.1:${port}/api/?token=x`, 2_000)).toMatchObject({
      kind: 'network',
      code: 'ECONNREFUSED',
    });
    expect(await nodeRefusalProbe(socketUrl(emu.tokens.owner), 2_000)).toMatchObject({ kind: 'unknown' });
    await waitFor(() => emu.stats().clients === 0, 'the probe socket dropped', 2_000);
  });

  test('no answer within its bound is unknown', async () => {
    const held = new Set<import('node:net').Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const started = Date.now();
      expect(await nodeRefusalProbe(`ws://127.0.0.1:${port}/api/`, 300)).toMatchObject({ kind: 'unknown' });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('the core over the standard WebSocket with the probe', () => {
  const platform: Platform = {
    clock: nodeClock,
    openSocket: webSocketFactory({ probe: nodeRefusalProbe, WebSocket: StandardWebSocket }),
  };

  function connect(token: string, endpoint = emu.url) {
    const statuses: Array<ConnectionStatus & { at: number }> = [];
    const handle = acquireConnection({
      endpoint,
      token,
      platform,
      lingerMs: 0,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
    });
    handle.onStatus((status) => statuses.push({ ...status, at: Date.now() }));
    const subscription = handle.subscribe(`/${emu.projectId}/requests`, { onEvent: () => undefined });
    subscription.ready.catch(() => undefined);
    return { handle, statuses, subscription };
  }

  test('401: a TokenRefusedError, never retried', async () => {
    const { subscription, handle } = connect('not-a-jwt');
    await expect(subscription.ready).rejects.toBeInstanceOf(TokenRefusedError);
    await sleep(800); // several backoff periods
    expect(handle.status.state).toBe('failed');
    expect(connectionStats().connections[0].stats.connectAttempts).toBe(1);
  });

  test('429 with Retry-After: the next attempt waits that long', async () => {
    // The socket's upgrade and the probe's: the refusal must hold for both.
    emu.faults.refuseNext(2, 429, { retryAfterSec: 2, reason: 'Too many new connections for this user' });
    const { subscription, statuses } = connect(emu.tokens.owner);
    await subscription.ready;
    const refused = statuses.find((s) => s.error instanceof RateLimitedError);
    expect(refused?.retryInMs).toBeGreaterThanOrEqual(2_000);
    expect(refused?.error?.message).toContain('Too many new connections for this user');
    const connected = statuses.find((s) => s.state === 'connected');
    expect(connected!.at - refused!.at).toBeGreaterThanOrEqual(1_990);
  });

  test('503 without Retry-After waits the 60 s default', async () => {
    emu.faults.refuseNext(2, 503, { reason: 'maintenance' });
    const { statuses } = connect(emu.tokens.owner);
    const refused = await waitFor(() => statuses.find((s) => s.error instanceof RateLimitedError), 'rate limited');
    expect(refused.retryInMs).toBeGreaterThanOrEqual(60_000);
    expect(refused.error?.message).toContain('maintenance');
  });

  test('a network failure is retried with backoff', async () => {
    const port = await closedPort();
    const { statuses, handle } = connect(emu.tokens.owner, `ws://127.0.0.1:${port}/api/`);
    await waitFor(() => statuses.filter((s) => s.error instanceof HandshakeError).length >= 2, 'two retries');
    expect(statuses.find((s) => s.error)?.error?.message).toMatch(/Could not connect to .*ECONNREFUSED/);
    expect(handle.status.state).not.toBe('failed');
  });
});

test('without a probe the standard WebSocket cannot tell a refused token: retried as a transient failure', async () => {
  const platform: Platform = { clock: nodeClock, openSocket: webSocketFactory({ WebSocket: StandardWebSocket }) };
  const statuses: ConnectionStatus[] = [];
  const handle = acquireConnection({
    endpoint: emu.url,
    token: 'not-a-jwt',
    platform,
    lingerMs: 0,
    backoffInitialMs: 50,
    backoffMaxMs: 100,
  });
  handle.onStatus((status) => statuses.push(status));
  handle.subscribe(`/${emu.projectId}/requests`, { onEvent: () => undefined }).ready.catch(() => undefined);
  await waitFor(() => connectionStats().connections[0]?.stats.connectAttempts >= 2, 'a second attempt');
  const failure = statuses.find((s) => s.error)?.error;
  expect(failure).toBeInstanceOf(HandshakeError);
  expect(failure?.message).toMatch(/does not tell why/);
});
