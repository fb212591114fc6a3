// The core against the emulator over real loopback sockets.
import { startEmulator, type Emulator } from '../../emulator';
import {
  acquireConnection,
  closeAllConnections,
  connectionStats,
  RateLimitedError,
  SubscriptionTimeoutError,
  TokenRefusedError,
  type ConnectionOptions,
  type ConnectionStatus,
  type RealtimeEvent,
} from '../../core';
import { waitFor, sleep } from '../helpers/wait';
import { UPGRADES_PER_401, UPGRADES_PER_REFUSAL } from '../helpers/sockets';

jest.setTimeout(30_000);

let emu: Emulator;
const fast: Partial<ConnectionOptions> = { lingerMs: 0, backoffInitialMs: 50, backoffMaxMs: 200 };

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await closeAllConnections();
  await emu.close();
});

function collect(
  topic: string,
  options: Partial<ConnectionOptions> = {},
  subscribe: { emitSnapshot?: boolean; token?: string; resumable?: boolean } = {},
) {
  const events: RealtimeEvent[] = [];
  const errors: Error[] = [];
  const statuses: Array<ConnectionStatus & { at: number }> = [];
  const handle = acquireConnection({
    endpoint: emu.url,
    token: subscribe.token ?? emu.tokens.owner,
    ...fast,
    ...options,
  });
  handle.onStatus((s) => statuses.push({ ...s, at: Date.now() }));
  const subscription = handle.subscribe(topic, {
    onEvent: (e) => events.push(e),
    onError: (e) => errors.push(e),
    emitSnapshot: subscribe.emitSnapshot,
    resumable: subscribe.resumable,
  });
  return { handle, subscription, events, errors, statuses };
}

const requestsTopic = () => `/${emu.projectId}/requests`;

test('snapshot first, then live events, each with the documented envelope', async () => {
  const { subscription, events } = collect(requestsTopic(), {}, { emitSnapshot: true });
  await subscription.ready;
  const open = emu
    .getRequests(emu.projectId)
    .filter((r) => Number(r.status) > 50 && Number(r.status) < 1000 && r.status !== 150);
  expect(events).toHaveLength(open.length);
  expect(events.every((e) => e.snapshot && !e.recovered && e.method === 'CREATE')).toBe(true);

  const created = emu.createRequest(emu.projectId, { first_text: 'printer on fire' });
  const live = await waitFor(() => events.find((e) => e.data._id === created._id), 'live CREATE');
  expect(live).toMatchObject({
    method: 'CREATE',
    topic: requestsTopic(),
    kind: 'requests',
    projectId: emu.projectId,
    snapshot: false,
    recovered: false,
  });
  expect(new Date(live.receivedAt).getTime()).toBeGreaterThan(0);

  emu.updateRequest(emu.projectId, String(created.request_id), { status: 200, participants: [emu.users.agent] });
  const update = await waitFor(
    () => events.find((e) => e.method === 'UPDATE' && e.data._id === created._id),
    'live UPDATE',
  );
  expect(update.previous).toMatchObject({ status: 100 });
  expect(update.data).toMatchObject({ status: 200 });
});

test.each([
  ['bare', (t: string) => t],
  ['JWT-prefixed', (t: string) => `JWT ${t}`],
])('a %s token is accepted', async (_label, form) => {
  const { subscription } = collect(requestsTopic(), {}, { token: form(emu.tokens.owner) });
  await expect(subscription.ready).resolves.toBeUndefined();
  expect(emu.stats().clients).toBe(1);
});

test('401 is permanent: one attempt, a TokenRefusedError naming the expiry, never retried', async () => {
  const expired = emu.signToken({ _id: emu.users.owner }, { expiresInSec: -3600 });
  const { subscription, errors, handle } = collect(requestsTopic(), {}, { token: expired });
  const error = await subscription.ready.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error).toBeInstanceOf(TokenRefusedError);
  expect(error?.message).toMatch(/expired at \d{4}-\d\d-\d\dT/);
  expect(error?.message).not.toContain(expired);
  expect(handle.status.state).toBe('failed');
  await sleep(800); // several backoff periods of 50-200 ms
  expect(emu.stats().connectionsRefused['401']).toBe(UPGRADES_PER_401);
  expect(connectionStats().connections[0].stats.connectAttempts).toBe(1);
  expect(errors.some((e) => e instanceof TokenRefusedError)).toBe(true);
});

test('429 with Retry-After: the next attempt waits at least that long, and the reason is kept', async () => {
  emu.faults.refuseNext(UPGRADES_PER_REFUSAL, 429, {
    retryAfterSec: 2,
    reason: 'Too many new connections for this user',
  });
  const { subscription, statuses } = collect(requestsTopic(), {}, { emitSnapshot: false });
  await subscription.ready;
  const refused = statuses.find((s) => s.error instanceof RateLimitedError);
  expect(refused?.retryInMs).toBeGreaterThanOrEqual(2000);
  expect(refused?.error?.message).toContain('Too many new connections for this user');
  const connected = statuses.find((s) => s.state === 'connected');
  expect(connected!.at - refused!.at).toBeGreaterThanOrEqual(1990);
});

test.each([429, 503])('%s without Retry-After waits the 60 s default', async (status) => {
  emu.faults.refuseNext(UPGRADES_PER_REFUSAL, status, { reason: 'maintenance' });
  const { statuses, handle } = collect(requestsTopic());
  const refused = await waitFor(() => statuses.find((s) => s.error instanceof RateLimitedError), 'rate-limited status');
  expect(refused.retryInMs).toBeGreaterThanOrEqual(60_000);
  handle.release();
});

test('the local budget caps new connections per minute whatever the server does', async () => {
  emu.faults.refuseNext(50, 500);
  const { handle } = collect(requestsTopic(), { maxConnectsPerMinute: 3, backoffInitialMs: 10, backoffMaxMs: 20 });
  await sleep(1500);
  // Each refused attempt spends what it cost the server: its upgrade, and the probe's over the global WebSocket.
  expect(connectionStats().connections[0].stats.connectAttempts).toBe(Math.ceil(3 / UPGRADES_PER_REFUSAL));
  expect(handle.status.retryInMs).toBeGreaterThan(50_000);
});

test('a live frame identical to the known state is dropped, counted, and the next real change still arrives', async () => {
  const { subscription, events } = collect(requestsTopic());
  await subscription.ready;
  const created = emu.createRequest(emu.projectId, { first_text: 'said once' });
  await waitFor(() => events.find((e) => e.data._id === created._id), 'the CREATE');
  const stats = () => connectionStats().connections[0].stats;
  const droppedBefore = stats().duplicatesDropped;
  // The server sends the same state again (a broker's redelivery): same _id, same updatedAt.
  expect(
    emu.faults.sendRaw(
      JSON.stringify({ action: 'publish', payload: { topic: requestsTopic(), method: 'UPDATE', message: created } }),
    ),
  ).toBe(1);
  await waitFor(() => stats().duplicatesDropped === droppedBefore + 1, 'the repeat counted as a duplicate');
  const updated = emu.updateRequest(emu.projectId, String(created._id), { status: 200 });
  await waitFor(
    () => events.find((e) => e.data._id === created._id && e.data.updatedAt === updated.updatedAt),
    'the real change',
  );
  expect(events.filter((e) => e.data._id === created._id).map((e) => e.method)).toEqual(['CREATE', 'UPDATE']);
});

test('an abrupt drop recovers and resubscribes', async () => {
  const { subscription, events } = collect(requestsTopic());
  await subscription.ready;
  expect(emu.faults.dropAll()).toBe(1);
  await waitFor(
    () => emu.stats().subscriptions === 1 && connectionStats().connections[0].stats.connectsOpened === 2,
    'resubscribe',
  );
  const created = emu.createRequest(emu.projectId, { first_text: 'after drop' });
  await waitFor(() => events.find((e) => e.data._id === created._id && !e.recovered), 'live event after drop');
});

test('a half-open socket is detected by the heartbeat and replaced', async () => {
  const { subscription, events } = collect(requestsTopic(), { pingIntervalMs: 200, pongTimeoutMs: 300 });
  await subscription.ready;
  expect(emu.faults.halfOpen()).toBe(1);
  const duringSilence = emu.createRequest(emu.projectId, { first_text: 'sent into the void' });
  await waitFor(() => connectionStats().connections[0].stats.connectsOpened === 2, 'reconnect after half-open', 10_000);
  const recovered = await waitFor(() => events.find((e) => e.data._id === duringSilence._id), 'recovered change');
  expect(recovered.recovered).toBe(true);
  const after = emu.createRequest(emu.projectId, { first_text: 'after half-open' });
  await waitFor(() => events.find((e) => e.data._id === after._id), 'live event after recovery');
});

test('answering the server heartbeat keeps a listen-only client connected across three heartbeats', async () => {
  await emu.close();
  emu = await startEmulator({ heartbeatIntervalMs: 300 });
  // Our own ping is pushed far out: only the answers to the server's pings keep us alive.
  const { subscription } = collect(requestsTopic(), { pingIntervalMs: 60_000 });
  await subscription.ready;
  await sleep(300 * 4 + 200);
  expect(emu.stats().connectionsAccepted).toBe(1);
  expect(emu.stats().clients).toBe(1);
  expect(connectionStats().connections[0].stats.connectsOpened).toBe(1);
});

test('N subscribers on one (endpoint, token) share one socket; topics are reference counted', async () => {
  const N = 25;
  const handles = Array.from({ length: N }, () =>
    acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, ...fast }),
  );
  const subs = handles.map((h) => h.subscribe(requestsTopic(), { onEvent: () => undefined }));
  await Promise.all(subs.map((s) => s.ready));
  expect(emu.stats().clients).toBe(1);
  expect(connectionStats().sockets).toBe(1);
  expect(emu.stats().subscriptionsByTopic[requestsTopic()]).toBe(1);
  for (const h of handles.slice(1)) h.release();
  await sleep(100);
  expect(emu.stats().subscriptionsByTopic[requestsTopic()]).toBe(1);
  handles[0].release();
  await waitFor(() => emu.stats().clients === 0, 'socket closed after the last release');
});

test('the socket lingers after the last release, so an immediate re-acquire does not reconnect', async () => {
  const first = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, lingerMs: 1000 });
  await first.subscribe(requestsTopic(), { onEvent: () => undefined }).ready;
  first.release();
  const second = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, lingerMs: 1000 });
  await second.subscribe(requestsTopic(), { onEvent: () => undefined }).ready;
  expect(emu.stats().connectionsAccepted).toBe(1);
  second.release();
  await waitFor(() => emu.stats().clients === 0, 'socket closed after linger', 5000);
});

test('changes made while disconnected are emitted once, recovered; unchanged ones are not re-emitted', async () => {
  const { subscription, events } = collect(requestsTopic());
  await subscription.ready;
  const [toUpdate, toClose, untouched] = emu.getRequests(emu.projectId).filter((r) => Number(r.status) < 1000);
  expect(untouched).toBeDefined();
  const restarting = emu.faults.restart({ downMs: 700 });
  const created = emu.createRequest(emu.projectId, { first_text: 'while offline' });
  emu.updateRequest(emu.projectId, String(toUpdate.request_id), { first_text: 'edited while offline' });
  emu.closeRequest(emu.projectId, String(toClose.request_id));
  await restarting;
  await waitFor(() => events.length >= 3, 'three recovered changes');
  await sleep(500); // would reveal a duplicate or a re-emitted unchanged element
  const summary = events.map((e) => [e.method, e.data._id, e.recovered]);
  expect(summary).toEqual(
    expect.arrayContaining([
      ['CREATE', created._id, true],
      ['UPDATE', toUpdate._id, true],
      ['UPDATE', toClose._id, true],
    ]),
  );
  expect(events).toHaveLength(3);
  expect(events.find((e) => e.data._id === toClose._id)?.data.status).toBe(1000);
  expect(events.find((e) => e.data._id === toClose._id)?.previous?.status).not.toBe(1000);
  expect(events.some((e) => e.data._id === untouched._id)).toBe(false);
});

test('a look-up that gets no answer keeps the request; the next reconnect looks it up again', async () => {
  const { subscription, events, handle } = collect(requestsTopic());
  await subscription.ready;
  const [toClose] = emu.getRequests(emu.projectId).filter((r) => r.status === 200);
  const lookupTopic = `/${emu.projectId}/requests/${String(toClose.request_id)}`;
  emu.faults.ignoreSubscribe(lookupTopic, 1);
  const restarting = emu.faults.restart({ downMs: 700 });
  emu.closeRequest(emu.projectId, String(toClose.request_id));
  await restarting;
  await waitFor(() => handle.status.state === 'connected', 'reconnected');
  await sleep(10_500); // the look-up waits 10 s for an answer: unknown, so the request is kept and nothing is said
  expect(events.filter((e) => e.data._id === toClose._id)).toEqual([]);
  emu.faults.dropAll();
  const recovered = await waitFor(
    () => events.find((e) => e.data._id === toClose._id),
    'the closed request, looked up again',
  );
  expect(recovered).toMatchObject({
    method: 'UPDATE',
    recovered: true,
    data: { status: 1000 },
    previous: { status: 200 },
  });
  await sleep(500);
  expect(events.filter((e) => e.data._id === toClose._id)).toHaveLength(1);
}, 45_000);

test('more than 500 requests gone while disconnected: the first 500 are looked up, the rest forgotten with one warning', async () => {
  // Two restarts of 500 ms cost 8-10 attempts at this backoff: the default budget (10 a minute) would make
  // the second reconnect wait for a slot, up to a minute, on a slow machine.
  const { subscription, events, handle } = collect(requestsTopic(), { maxConnectsPerMinute: 60 });
  const warnings: string[] = [];
  handle.onWarning((message) => warnings.push(message));
  await subscription.ready;
  const made = Array.from({ length: 600 }, (_, i) => emu.createRequest(emu.projectId, { first_text: `many ${i}` }));
  await waitFor(() => events.length === made.length, 'the 600 creates');
  events.length = 0;
  const restart = () => {
    const restarting = emu.faults.restart({ downMs: 500 });
    return restarting.then(() => waitFor(() => handle.status.state === 'connected', 'reconnected'));
  };
  const restarting = restart();
  for (const request of made) emu.closeRequest(emu.projectId, String(request.request_id));
  await restarting;
  // Looked up in the order they were known: the oldest 500, each a recovered close.
  await waitFor(() => events.length >= 500, 'the first 500 looked up', 20_000);
  await sleep(500);
  expect(events.map((e) => [e.method, e.data._id, e.data.status, e.recovered])).toEqual(
    made.slice(0, 500).map((r) => ['UPDATE', r._id, 1000, true]),
  );
  expect(warnings.filter((w) => w.includes('left'))).toEqual([
    `600 requests left ${requestsTopic()} while disconnected; only the first 500 are looked up.`,
  ]);
  // The other 100 are forgotten, not left to be looked up after every reconnect.
  events.length = 0;
  await restart();
  await sleep(1_000);
  expect(events).toEqual([]);
  expect(warnings.filter((w) => w.includes('left'))).toHaveLength(1);
});

test('messages added while disconnected are recovered once', async () => {
  const request = emu.getRequests(emu.projectId)[0];
  const { subscription, events } = collect(`/${emu.projectId}/requests/${request.request_id}/messages`);
  await subscription.ready;
  const restarting = emu.faults.restart({ downMs: 500 });
  const message = emu.addMessage(emu.projectId, String(request.request_id), { text: 'are you there?' });
  await restarting;
  await waitFor(() => events.find((e) => e.data._id === message._id), 'recovered message');
  await sleep(300);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ method: 'CREATE', recovered: true, kind: 'messages' });
});

test('a resumed subscriber gets what changed since its record, and nothing it already saw', async () => {
  const first = collect(requestsTopic(), {}, { resumable: true });
  await first.subscription.ready;
  const seenBefore = emu.createRequest(emu.projectId, { first_text: 'seen live' });
  await waitFor(() => first.events.length === 1, 'first live event');
  const record = first.subscription.exportState();
  first.handle.release();
  await waitFor(() => emu.stats().clients === 0, 'first connection closed');

  const [toUpdate] = emu.getRequests(emu.projectId).filter((r) => Number(r.status) < 1000 && r._id !== seenBefore._id);
  const createdMeanwhile = emu.createRequest(emu.projectId, { first_text: 'while nobody listened' });
  emu.updateRequest(emu.projectId, String(toUpdate.request_id), { status: 200 });
  emu.closeRequest(emu.projectId, String(seenBefore.request_id));

  const events: RealtimeEvent[] = [];
  const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, ...fast });
  await handle.subscribe(requestsTopic(), { onEvent: (e) => events.push(e), resumeState: record }).ready;
  await waitFor(() => events.length >= 3, 'three catch-up events');
  await sleep(300);
  expect(events.map((e) => [e.method, e.data._id]).sort()).toEqual(
    [
      ['CREATE', createdMeanwhile._id],
      ['UPDATE', toUpdate._id],
      ['UPDATE', seenBefore._id],
    ].sort(),
  );
  expect(events.every((e) => e.recovered)).toBe(true);
});

test('a resumed single-request subscriber learns that its request was deleted meanwhile (a recovered DELETE)', async () => {
  const request = emu.createRequest(emu.projectId, { first_text: 'deleted while nobody listened' });
  const topic = `/${emu.projectId}/requests/${request.request_id}`;
  const first = collect(topic, {}, { resumable: true });
  await first.subscription.ready;
  const record = first.subscription.exportState();
  expect(Object.keys(record.seen)).toEqual([String(request._id)]);
  first.handle.release();
  await waitFor(() => emu.stats().clients === 0, 'first connection closed');

  emu.deleteRequest(emu.projectId, String(request.request_id));

  const events: RealtimeEvent[] = [];
  const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, ...fast });
  const resumed = handle.subscribe(topic, { onEvent: (e) => events.push(e), resumeState: record });
  await resumed.ready;
  await waitFor(() => events.length >= 1, 'the recovered DELETE');
  await sleep(300);
  expect(events.map((e) => [e.method, e.data._id, e.recovered])).toEqual([['DELETE', request._id, true]]);
  expect(events[0].data).toMatchObject({ request_id: request.request_id });
  // Gone from the record too: a second resume from it emits nothing again.
  expect(resumed.exportState().seen).toEqual({});
});

test('a refused subscription times out with an explanation', async () => {
  const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, ...fast });
  const sub = handle.subscribe('/000000000000000000000000/requests', {
    onEvent: () => undefined,
    subscribeTimeoutMs: 500,
  });
  const error = await sub.ready.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error).toBeInstanceOf(SubscriptionTimeoutError);
  expect(error?.message).toMatch(/ignores subscriptions to projects or requests the token cannot see/);
});

test('malformed frames are counted, never thrown, and later events still arrive', async () => {
  const { subscription, events, handle } = collect(requestsTopic());
  const warnings: string[] = [];
  handle.onWarning((w) => warnings.push(w));
  await subscription.ready;
  const topic = requestsTopic();
  const valid = {
    _id: 'aaaaaaaaaaaaaaaaaaaaaaaa',
    request_id: 'support-group-mixed',
    status: 100,
    updatedAt: new Date().toISOString(),
  };
  emu.faults.sendRaw('{not json');
  emu.faults.sendRaw(JSON.stringify({ action: 'publish' }));
  emu.faults.sendRaw(JSON.stringify({ action: 'teleport', payload: {} }));
  emu.faults.sendRaw(JSON.stringify({ action: 'publish', payload: { topic, method: 'EXPLODE', message: {} } }));
  emu.faults.sendRaw(
    JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: [valid, 5, 'x', null, [1]] } }),
  );
  emu.faults.sendRaw(
    JSON.stringify({
      action: 'publish',
      payload: { topic, method: 'CREATE', message: { _id: 'b'.repeat(24), huge: 'x'.repeat(10 * 1024 * 1024) } },
    }),
  );
  emu.faults.sendRaw(`{"action":"publish","payload":${'['.repeat(5000)}`);
  const after = emu.createRequest(emu.projectId, { first_text: 'still alive' });
  await waitFor(() => events.find((e) => e.data._id === after._id), 'event after garbage', 15_000);
  const stats = connectionStats().connections[0].stats;
  expect(stats.malformedFrames).toBeGreaterThanOrEqual(5);
  expect(events.find((e) => e.data._id === valid._id)).toBeDefined(); // the valid element of the mixed array
  expect(events.find((e) => e.data._id === 'b'.repeat(24))?.data.huge).toHaveLength(10 * 1024 * 1024);
  expect(warnings.some((w) => /malformed frame/.test(w))).toBe(true);
  expect(stats.connectsOpened).toBe(1);
});

test('the token never appears in statuses, errors or warnings', async () => {
  const secret = emu.signToken({ _id: '0'.repeat(24) }); // unknown user -> 401
  // A malformed frame whose topic echoes the connection's token: the warning about it names the topic.
  const good = collect(requestsTopic());
  const warnings: string[] = [];
  good.handle.onWarning((w) => warnings.push(w));
  await good.subscription.ready;
  const owner = emu.tokens.owner;
  emu.faults.sendRaw(
    `{"action":"publish","payload":{"topic":"/${emu.projectId}/${owner}","method":"PATCH","message":{}}}`,
  );
  await waitFor(() => warnings.some((w) => /unknown method/.test(w)), 'a warning about the malformed frame');
  for (const part of [owner, owner.slice(0, 40), owner.split('.')[2]]) expect(warnings.join(' ')).not.toContain(part);
  const { subscription, statuses, errors } = collect(requestsTopic(), {}, { token: secret });
  await subscription.ready.catch(() => undefined);
  const text = JSON.stringify([
    statuses.map((s) => s.error?.message),
    errors.map((e) => `${e.message} ${e.stack}`),
    warnings,
    connectionStats(),
  ]);
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.split('.')[1]);
  expect(text).toContain('refused the access token');
});

test('errors have a scope: drops, restarts and refusals go to the status only; a refused token ends the subscription with its error', async () => {
  const { subscription, errors, statuses } = collect(requestsTopic());
  await subscription.ready;
  emu.faults.dropAll();
  await waitFor(() => statuses.filter((s) => s.state === 'connected').length >= 2, 'reconnected after the drop');
  await emu.faults.restart({ downMs: 300 });
  await waitFor(() => statuses.filter((s) => s.state === 'connected').length >= 3, 'reconnected after the restart');
  emu.faults.refuseNext(UPGRADES_PER_REFUSAL, 429, { retryAfterSec: 0, reason: 'slow down' });
  emu.faults.dropAll();
  await waitFor(() => statuses.some((s) => s.error instanceof RateLimitedError), 'the 429 in the status');
  await waitFor(() => statuses.filter((s) => s.state === 'connected').length >= 4, 'reconnected after the 429', 10_000);
  expect(statuses.filter((s) => s.state === 'reconnecting' && s.error).length).toBeGreaterThanOrEqual(3);
  expect(errors).toEqual([]);

  emu.faults.refuseNext(UPGRADES_PER_401, 401);
  emu.faults.dropAll();
  await waitFor(() => statuses.some((s) => s.state === 'failed'), 'the connection failed for good');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(TokenRefusedError);
});

test('a re-subscribe the server silently refuses after a reconnect is reported like a refused first one; other topics keep flowing', async () => {
  const request = emu.getRequests(emu.projectId)[0];
  const refusedTopic = `/${emu.projectId}/requests/${String(request.request_id)}`;
  const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, ...fast });
  const errors: Error[] = [];
  const events: RealtimeEvent[] = [];
  const refused = handle.subscribe(refusedTopic, {
    onEvent: () => undefined,
    onError: (e) => errors.push(e),
    subscribeTimeoutMs: 1_500,
  });
  const other = handle.subscribe(requestsTopic(), { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  await Promise.all([refused.ready, other.ready]);
  emu.faults.ignoreSubscribe(refusedTopic, 1);
  emu.faults.dropAll();
  const timeout = await waitFor(
    () => errors.find((e) => e instanceof SubscriptionTimeoutError),
    'the refused re-subscribe to be reported',
    10_000,
  );
  expect(timeout.message).toMatch(
    new RegExp(
      `No snapshot arrived for topic ${refusedTopic.replace(/[/.-]/g, '\\$&')} within 2 s\\. The server ignores subscriptions`,
    ),
  );
  const created = emu.createRequest(emu.projectId, { first_text: 'still flowing' });
  await waitFor(() => events.find((e) => e.data._id === created._id), 'a live event on the other topic');
  expect(handle.status.state).toBe('connected');
});
