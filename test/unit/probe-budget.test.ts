// The refusal probe of the standard-WebSocket factory is a connection the server counts: it must hold its slot of
// the connection budget from the moment it starts, or a second connection on the same budget takes the same slot
// while the probe is out (seen as 6 connections on a budget of 5 in a reconnect storm with redeploys).
import { acquireConnection, closeAllConnections } from '../../core';
import type { HandshakeRefusal, Platform } from '../../core/platform';
import { webSocketFactory } from '../../core/web-socket-platform';
import { FakeClock, settle } from '../helpers/fake-platform';

const ENDPOINT = 'ws://127.0.0.1:9/api/';
const TOKEN = 'probe-budget-token';

/** A standard WebSocket that never opens: the test fails it as a refused handshake looks to the standard API. */
class UnopenedWebSocket {
  static opened = 0;
  static last?: UnopenedWebSocket;
  readonly readyState = 0;
  readonly bufferedAmount = 0;
  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    UnopenedWebSocket.opened += 1;
    UnopenedWebSocket.last = this;
  }
  send(): void {}
  close(): void {}
  fail(): void {
    this.onerror?.({ message: 'Unexpected server response' });
    this.onclose?.({ code: 1006, reason: '' });
  }
}

let clock: FakeClock;
let probes: Array<(refusal: HandshakeRefusal) => void>;
let platform: Platform;

beforeEach(() => {
  clock = new FakeClock();
  probes = [];
  UnopenedWebSocket.opened = 0;
  const probe = () => new Promise<HandshakeRefusal>((resolve) => probes.push(resolve));
  platform = { clock, openSocket: webSocketFactory({ WebSocket: UnopenedWebSocket, probe }) };
  jest.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(async () => {
  jest.restoreAllMocks();
  const closing = closeAllConnections();
  await clock.advance(5_000);
  await closing;
});

function subscribe() {
  const handle = acquireConnection({
    endpoint: ENDPOINT,
    token: TOKEN,
    platform,
    maxConnectsPerMinute: 2,
    lingerMs: 0,
  });
  const subscription = handle.subscribe('/p1/requests', { onEvent: () => undefined });
  subscription.ready.catch(() => undefined);
  return handle;
}

/** Connections the server saw: each socket opened, and each probe that reached it. */
const serverSaw = (reached: number) => UnopenedWebSocket.opened + reached;

test('a probe in flight holds its slot: a redeployed connection on the same budget waits for it', async () => {
  const first = subscribe();
  await settle();
  expect(UnopenedWebSocket.opened).toBe(1);
  UnopenedWebSocket.last!.fail();
  await settle();
  expect(probes).toHaveLength(1); // the probe is out: two of the two slots are taken

  first.release(); // a redeploy: the old connection goes, a new one on the same budget comes
  await clock.advance(0);
  subscribe();
  await clock.advance(1_000);
  expect(UnopenedWebSocket.opened).toBe(1); // no third connection within the minute

  probes[0]({ kind: 'http', status: 429, retryAfter: '1' });
  await clock.advance(1_000);
  expect(serverSaw(1)).toBeLessThanOrEqual(2);
  await clock.advance(60_000);
  expect(UnopenedWebSocket.opened).toBe(2); // the minute is over: the new connection tries
});

test('a probe that never reached the server gives its slot back', async () => {
  const first = subscribe();
  await settle();
  UnopenedWebSocket.last!.fail();
  await settle();
  probes[0]({ kind: 'network', message: 'connection refused' });
  await settle();
  first.release();
  await clock.advance(0);
  subscribe();
  await clock.advance(1_000);
  expect(UnopenedWebSocket.opened).toBe(2); // the second slot was free again
});
