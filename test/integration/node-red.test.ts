// The Node-RED nodes inside a real Node-RED 4 runtime (node-red-node-test-helper) against the real
// emulator over loopback: events, filters, redeploys, socket lifetime, credentials, errors, presets.
import { startEmulator, type Emulator } from '../../emulator';
import { closeAllConnections, connectionStats } from '../../core';
import { MAP_PRESETS } from '../../node-red/map-presets';
import { sleep, waitFor } from '../helpers/wait';
import {
  NODES,
  deploy,
  collect as collectAt,
  helper,
  onTab,
  statuses,
  type Msg,
  type Status,
} from '../helpers/node-red-runtime';

jest.setTimeout(60_000);

let emu: Emulator;

beforeAll(() => {
  // Short subscribe timeout so a refused subscription is reported quickly; the linger stays at its default.
  helper.settings({ pingstreams: { subscribeTimeoutMs: 1500, backoffInitialMs: 50, backoffMaxMs: 500 } });
});

beforeEach(async () => {
  emu = await startEmulator();
});

afterEach(async () => {
  await helper.unload();
  await closeAllConnections();
  await emu.close();
});

function configDef(extra: Msg = {}): Msg {
  return { id: 'cfg', type: 'pingstreams-config', name: 'emulator', endpoint: emu.url, ...extra };
}

function inDef(extra: Msg = {}): Msg {
  return {
    id: 'in',
    type: 'pingstreams in',
    server: 'cfg',
    kind: 'requests',
    projectId: emu.projectId,
    projectIdType: 'str',
    methodCreate: true,
    methodUpdate: false,
    methodDelete: false,
    snapshot: false,
    recovered: true,
    when: '',
    wires: [['sink']],
    ...extra,
  };
}

const creds = (token = emu.tokens.owner) => ({ cfg: { token } });

/** Messages reaching the sink from now on. */
const collect = (id = 'sink'): Msg[] => collectAt(id);

async function load(flow: Msg[], credentials: Msg = creds()): Promise<void> {
  await helper.load(NODES, onTab(flow), credentials);
}

async function redeploy(flow: Msg[], type: 'full' | 'nodes', credentials: Msg = creds()): Promise<void> {
  await deploy(onTab(flow), type, credentials);
}

const isConnected = (s: Status) => s.fill === 'green' && s.shape === 'dot';

async function waitConnected(seen: Status[], what = 'green status'): Promise<void> {
  await waitFor(() => seen.some(isConnected), what, 15_000);
}

/** A subscription is live on the server once the emulator counts it. */
async function waitSubscribed(topic: string): Promise<void> {
  await waitFor(
    () => (emu.stats().subscriptionsByTopic[topic] ?? 0) > 0,
    `server-side subscription to ${topic}`,
    15_000,
  );
}

test('events flow as msg.payload/topic/method/pingstreams, and the method filter holds', async () => {
  await load([configDef(), inDef(), { id: 'sink', type: 'helper' }]);
  const got = collect();
  const seen = statuses('in');
  await waitSubscribed(`/${emu.projectId}/requests`);

  const created = emu.createRequest(emu.projectId, { first_text: 'printer on fire' });
  const first = await waitFor(() => got.find((m) => m.payload._id === created._id), 'CREATE msg');
  expect(first).toMatchObject({
    topic: `/${emu.projectId}/requests`,
    method: 'CREATE',
    payload: { request_id: created.request_id, first_text: 'printer on fire' },
    pingstreams: { kind: 'requests', projectId: emu.projectId, snapshot: false, recovered: false },
  });
  expect(typeof first.pingstreams.receivedAt).toBe('string');
  expect(first.pingstreams).not.toHaveProperty('data');

  // UPDATE is not ticked: the update must not arrive before the next CREATE (one topic, in order).
  emu.updateRequest(emu.projectId, String(created.request_id), { status: 200 });
  const marker = emu.createRequest(emu.projectId, { first_text: 'marker' });
  await waitFor(() => got.find((m) => m.payload._id === marker._id), 'marker msg');
  expect(got.map((m) => m.method)).toEqual(['CREATE', 'CREATE']);
  expect(got.filter((m) => m.payload._id === created._id)).toHaveLength(1);

  await waitFor(
    () => seen.find((s) => isConnected(s) && /events: 2/.test(s.text ?? '')),
    'status with the event count',
    15_000,
  );
  expect(seen[0]).toMatchObject({ fill: 'yellow', shape: 'ring' });
});

test('"only when" (JSONata) and the snapshot option', async () => {
  const open = emu.getRequests(emu.projectId).filter((r) => r.status > 50 && r.status < 1000 && r.status !== 150);
  expect(open.length).toBeGreaterThan(0);
  await load([
    configDef(),
    inDef({ methodUpdate: true, snapshot: true, when: 'status = 1000 or $event.snapshot' }),
    { id: 'sink', type: 'helper' },
  ]);
  const got = collect();
  await waitFor(() => got.length >= open.length, 'snapshot msgs');
  expect(got.every((m) => m.pingstreams.snapshot === true && m.method === 'CREATE')).toBe(true);

  const target = emu.createRequest(emu.projectId, { first_text: 'will close' });
  emu.updateRequest(emu.projectId, String(target.request_id), { status: 200 });
  emu.closeRequest(emu.projectId, String(target.request_id));
  const closed = await waitFor(() => got.find((m) => m.payload._id === target._id), 'closed request msg');
  expect(closed).toMatchObject({ method: 'UPDATE', payload: { status: 1000 }, pingstreams: { snapshot: false } });
  expect(closed.pingstreams.previous).toMatchObject({ status: 200 });
  // Neither the CREATE nor the status-200 UPDATE matched the condition.
  expect(got.filter((m) => m.payload._id === target._id)).toHaveLength(1);
});

test('a "nodes" redeploy still gives exactly one msg per event and reuses the socket', async () => {
  const flow = [configDef(), inDef(), { id: 'sink', type: 'helper' }];
  await load(flow);
  const got = collect();
  await waitSubscribed(`/${emu.projectId}/requests`);
  const accepted = emu.stats().connectionsAccepted;

  // Change only the "in" node: it is stopped and started again, the config node and the sink stay.
  await redeploy([configDef(), inDef({ name: 'renamed' }), { id: 'sink', type: 'helper' }], 'nodes');
  await waitFor(() => helper.getNode('in')?.name === 'renamed', 'redeployed node');
  await waitSubscribed(`/${emu.projectId}/requests`);

  const created = emu.createRequest(emu.projectId, { first_text: 'after redeploy' });
  const marker = emu.createRequest(emu.projectId, { first_text: 'marker' });
  await waitFor(() => got.find((m) => m.payload._id === marker._id), 'marker msg');
  expect(got.filter((m) => m.payload._id === created._id)).toHaveLength(1);
  expect(got.filter((m) => m.payload._id === marker._id)).toHaveLength(1);
  // The core's linger kept the socket through the redeploy.
  expect(emu.stats().connectionsAccepted).toBe(accepted);
  expect(emu.stats().clients).toBe(1);
});

/**
 * Deploys `before`, then `after` ("nodes" deploy) while a request is made exactly when the old node unsubscribes,
 * before the new one subscribes: the gap of a deploy. Returns once the new node sent that request.
 */
async function redeployOverAChange(before: Msg, after: Msg) {
  const made: Array<Record<string, unknown>> = [];
  await emu.close();
  emu = await startEmulator({
    log: (line) => {
      if (line.endsWith(`unsubscribed /${emu.projectId}/requests`))
        queueMicrotask(() => made.push(emu.createRequest(emu.projectId, { first_text: 'during the deploy' })));
    },
  });
  await load([configDef(), before, { id: 'sink', type: 'helper' }]);
  const got = collect();
  await waitSubscribed(`/${emu.projectId}/requests`);
  const seenBefore = emu.createRequest(emu.projectId, { first_text: 'before the deploy' });
  await waitFor(() => got.some((m) => m.payload._id === seenBefore._id), 'live msg before the deploy'); // ready

  await redeploy([configDef(), after, { id: 'sink', type: 'helper' }], 'nodes');
  await waitFor(
    () => made.length === 1 && got.some((m) => m.payload._id === made[0]._id),
    'the change made during the deploy',
  );
  return { got, during: made[0], seenBefore };
}

test('a change made while a redeployed node is being replaced reaches the new node once, flagged recovered', async () => {
  const { got, during, seenBefore } = await redeployOverAChange(inDef({ name: 'before' }), inDef({ name: 'after' }));
  const marker = emu.createRequest(emu.projectId, { first_text: 'marker' });
  await waitFor(() => got.some((m) => m.payload._id === marker._id), 'marker msg');
  const sent = got.filter((m) => m.payload._id === during._id);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ method: 'CREATE', pingstreams: { recovered: true } });
  // Nothing the old node had already sent is sent again.
  expect(got.filter((m) => m.payload._id === seenBefore._id)).toHaveLength(1);
  expect(got).toHaveLength(3);
});

test('a node that sends the snapshot hands its record over too: unticked by the deploy, the gap is recovered', async () => {
  const { got, during } = await redeployOverAChange(inDef({ snapshot: true }), inDef({ snapshot: false }));
  expect(got.filter((m) => m.payload._id === during._id)).toEqual([
    expect.objectContaining({ method: 'CREATE', pingstreams: expect.objectContaining({ recovered: true }) }),
  ]);
});

test('an event still in its "only when" expression when the node is redeployed reaches the new node, recovered', async () => {
  // /(a+)+$/ backtracks on "aaa…!" far beyond the 1.5 s budget: the first event holds the expression worker, and
  // the one after it waits, unhandled, while the deploy replaces the node.
  const when = '$contains(first_text, /(a+)+$/) or first_text = "behind it"';
  const inNode = (name: string) => inDef({ name, when, exprTimeout: 1500 });
  await load([configDef(), inNode('before'), { id: 'sink', type: 'helper' }]);
  const got = collect();
  await waitSubscribed(`/${emu.projectId}/requests`);
  emu.createRequest(emu.projectId, { first_text: `${'a'.repeat(40)}!` });
  const behind = emu.createRequest(emu.projectId, { first_text: 'behind it' });
  await sleep(300); // both received by the old node, neither handled
  expect(got).toEqual([]);

  await redeploy([configDef(), inNode('after'), { id: 'sink', type: 'helper' }], 'nodes');
  await waitFor(() => got.some((m) => m.payload._id === behind._id), 'the event behind the slow one', 20_000);
  await sleep(300);
  expect(got).toEqual([
    expect.objectContaining({ method: 'CREATE', pingstreams: expect.objectContaining({ recovered: true }) }),
  ]);
});

test('two nodes on one config share one socket; removing every node closes it after the linger', async () => {
  await load([
    configDef(),
    inDef(),
    inDef({ id: 'in2', methodCreate: false, methodUpdate: true, wires: [['sink2']] }),
    { id: 'sink', type: 'helper' },
    { id: 'sink2', type: 'helper' },
  ]);
  const creates = collect('sink');
  const updates = collect('sink2');
  await waitSubscribed(`/${emu.projectId}/requests`);
  expect(emu.stats().clients).toBe(1);

  const created = emu.createRequest(emu.projectId, { first_text: 'shared' });
  emu.updateRequest(emu.projectId, String(created.request_id), { status: 200 });
  await waitFor(() => updates.find((m) => m.payload._id === created._id), 'UPDATE on the second node');
  await waitFor(() => creates.find((m) => m.payload._id === created._id), 'CREATE on the first node');
  expect(creates.every((m) => m.method === 'CREATE')).toBe(true);
  expect(updates.every((m) => m.method === 'UPDATE')).toBe(true);
  expect(emu.stats().connectionsAccepted).toBe(1);

  await redeploy([], 'full', {});
  await waitFor(() => emu.stats().clients === 0, 'socket closed after the linger', 15_000);
  expect(connectionStats().sockets).toBe(0);
});

test('the token stays out of the flow export, logs and statuses', async () => {
  const token = emu.tokens.owner;
  await load([configDef(), inDef(), { id: 'sink', type: 'helper' }], creds(token));
  const seen = statuses('in');
  await waitConnected(seen);

  expect(helper.getNode('cfg').credentials.token).toBe(token);
  const exported = JSON.stringify(helper._redNodes.getFlows());
  expect(exported).toContain(emu.url);
  expect(exported).not.toContain(token);
  expect(JSON.stringify(seen)).not.toContain(token);
  const logged = JSON.stringify(helper.log().args);
  expect(logged).not.toContain(token);
});

test('a refused token shows "token refused" under every node and logs one clear error', async () => {
  const expired = emu.signToken({ sub: emu.users.owner }, { expiresInSec: -60 });
  await load(
    [configDef(), inDef(), inDef({ id: 'in2', wires: [['sink']] }), { id: 'sink', type: 'helper' }],
    creds(expired),
  );
  const first = statuses('in');
  const second = statuses('in2');
  await waitFor(() => first.find((s) => s.text === 'token refused'), 'token refused on the first node', 15_000);
  await waitFor(() => second.find((s) => s.text === 'token refused'), 'token refused on the second node', 15_000);
  expect(first.at(-1)).toMatchObject({ fill: 'red', shape: 'ring' });

  const errors = helper
    .log()
    .args.filter((a: Msg[]) => a[0]?.level === helper.log().ERROR)
    .map((a: Msg[]) => String(a[0].msg));
  const refusals = errors.filter((m: string) => /refused the access token/.test(m));
  expect(refusals).toHaveLength(1);
  expect(refusals[0]).not.toContain(expired);
});

test('rate limiting shows the wait the server asked for', async () => {
  emu.faults.refuseNext(1, 429, { retryAfterSec: 40, reason: 'too many connections' });
  await load([configDef(), inDef(), { id: 'sink', type: 'helper' }]);
  const seen = statuses('in');
  const limited = await waitFor(
    () => seen.find((s) => /^rate limited, retrying in \d+ s$/.test(s.text ?? '')),
    'rate limited status',
    15_000,
  );
  expect(limited).toMatchObject({ fill: 'red', shape: 'ring' });
  expect(Number(/(\d+) s$/.exec(limited.text ?? '')?.[1])).toBeGreaterThanOrEqual(35);
});

test('bad configuration: missing token, invalid id, bad "only when" expression', async () => {
  await load(
    [
      configDef(),
      configDef({ id: 'cfg-empty' }),
      inDef({ id: 'no-token', server: 'cfg-empty' }),
      inDef({ id: 'bad-id', projectId: 'has space' }),
      inDef({ id: 'bad-when', when: 'status = ' }),
      inDef({ id: 'no-config', server: 'missing' }),
      { id: 'sink', type: 'helper' },
    ],
    { cfg: { token: emu.tokens.owner } },
  );
  const errorsOf = (id: string) =>
    helper
      .log()
      .args.filter((a: Msg[]) => a[0]?.level === helper.log().ERROR && a[0]?.id === id)
      .map((a: Msg[]) => String(a[0].msg));
  await waitFor(() => errorsOf('bad-when').length > 0, 'bad expression error');
  expect(errorsOf('no-token')[0]).toMatch(/no access token/);
  expect(errorsOf('bad-id')[0]).toMatch(/project id "has space" contains whitespace/);
  expect(errorsOf('bad-when')[0]).toMatch(/position|column|char/i);
  expect(errorsOf('no-config')[0]).toMatch(/No Pingstreams connection is selected/);
});

test('a topic the server ignores: "subscription refused" under the node and an error a Catch node receives', async () => {
  await load([
    configDef(),
    inDef({ projectId: '000000000000000000000000' }),
    { id: 'sink', type: 'helper' },
    { id: 'catch', type: 'catch', scope: ['in'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ]);
  const seen = statuses('in');
  const caught = collect('caught');
  const error = await waitFor(() => caught[0], 'caught subscription error', 20_000);
  expect(error.topic).toBe('/000000000000000000000000/requests');
  expect(error.error.message).toMatch(/No snapshot arrived for topic \/000000000000000000000000\/requests within 2 s/);
  await waitFor(
    () => seen.find((s) => s.text === 'subscription refused' && s.fill === 'red'),
    'subscription refused status',
  );
  // The connection itself is fine: other topics keep working on it.
  expect(emu.stats().clients).toBe(1);
});

function subscriptionFlow(extra: Msg = {}): Msg[] {
  return [
    configDef(),
    {
      id: 'sub',
      type: 'pingstreams subscription',
      server: 'cfg',
      methodCreate: true,
      methodUpdate: true,
      methodDelete: true,
      snapshot: false,
      recovered: true,
      wires: [['sink']],
      ...extra,
    },
    { id: 'sink', type: 'helper' },
    { id: 'catch', type: 'catch', scope: ['sub'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    { id: 'complete', type: 'complete', scope: ['sub'], uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper' },
  ];
}

test('subscription node: subscribe, list, unsubscribe, and clear errors for bad actions', async () => {
  await load(subscriptionFlow());
  const got = collect('sink');
  const caught = collect('caught');
  const completed = collect('completed');
  const sub = helper.getNode('sub');
  const a = emu.createRequest(emu.projectId, { first_text: 'request A' });
  const b = emu.createRequest(emu.projectId, { first_text: 'request B' });
  const topicA = `/${emu.projectId}/requests/${a.request_id}/messages`;
  const topicB = `/${emu.projectId}/requests/${b.request_id}/messages`;

  // A by topic string; B by ids as msg properties.
  sub.receive({ action: 'subscribe', topic: topicA, _msgid: 'm1' });
  sub.receive({ projectId: emu.projectId, requestId: b.request_id, kind: 'messages', _msgid: 'm2' });
  await waitFor(() => completed.length === 2, 'both subscribe messages completed', 15_000);

  emu.addMessage(emu.projectId, String(a.request_id), { text: 'hello from A' });
  emu.addMessage(emu.projectId, String(b.request_id), { text: 'hello from B' });
  await waitFor(() => got.length === 2, 'a message from each request');
  expect(got.map((m) => [m.topic, m.method, m.payload.text, m.pingstreams.kind]).sort()).toEqual(
    [
      [topicA, 'CREATE', 'hello from A', 'messages'],
      [topicB, 'CREATE', 'hello from B', 'messages'],
    ].sort(),
  );

  sub.receive({ action: 'list', _msgid: 'm3' });
  const listed = await waitFor(() => got.find((m) => m.action === 'list'), 'list output');
  expect([...listed.payload].sort()).toEqual([topicA, topicB].sort());

  sub.receive({ action: 'unsubscribe', topic: [topicA], _msgid: 'm4' });
  await waitFor(() => completed.length === 3, 'unsubscribe completed');
  emu.addMessage(emu.projectId, String(a.request_id), { text: 'nobody listens' });
  emu.addMessage(emu.projectId, String(b.request_id), { text: 'B again' });
  await waitFor(() => got.find((m) => m.payload?.text === 'B again'), 'second message from B');
  expect(got.find((m) => m.payload?.text === 'nobody listens')).toBeUndefined();

  sub.receive({ action: 'unsubscribe', topic: topicA, _msgid: 'm5' });
  sub.receive({ action: 'pause', topic: topicB, _msgid: 'm6' });
  sub.receive({ action: 'subscribe', topic: 'not-a-topic', _msgid: 'm7' });
  sub.receive({ action: 'subscribe', _msgid: 'm8' });
  await waitFor(() => caught.length === 4, 'four caught errors');
  const byId = Object.fromEntries(caught.map((m) => [m._msgid, m.error.message]));
  expect(byId.m5).toMatch(
    new RegExp(
      `Cannot unsubscribe ${topicA.replace(/[/]/g, '\\/')}: this node is not subscribed to it\\. It holds: ${topicB.replace(/[/]/g, '\\/')}`,
    ),
  );
  expect(byId.m6).toMatch(/Unknown msg.action "pause": use "subscribe", "unsubscribe" or "list"/);
  expect(byId.m7).toMatch(/must start with "\/"/);
  expect(byId.m8).toMatch(/The message names no topic/);
});

test('subscription node: a topic the server ignores fails the message after the timeout', async () => {
  await load(subscriptionFlow());
  const caught = collect('caught');
  const sub = helper.getNode('sub');
  sub.receive({ topic: '/000000000000000000000000/requests', _msgid: 'ghost' });
  const error = await waitFor(() => caught.find((m) => m._msgid === 'ghost'), 'subscription timeout error', 20_000);
  expect(error.error.message).toMatch(/No snapshot arrived for topic \/000000000000000000000000\/requests/);
  sub.receive({ action: 'list', _msgid: 'list' });
  const got = collect('sink');
  const listed = await waitFor(() => got.find((m) => m._msgid === 'list'), 'list output');
  expect(listed.payload).toEqual([]);
});

test('map node: every preset turns a live event into its message', async () => {
  const preset = (id: string) => MAP_PRESETS.find((p) => p.id === id)!.expression;
  await load([
    configDef(),
    inDef({ id: 'new', wires: [['slack-new', 'summary']] }),
    inDef({
      id: 'closed',
      methodCreate: false,
      methodUpdate: true,
      when: 'status = 1000 and $previous.status != 1000',
      wires: [['slack-closed']],
    }),
    {
      id: 'slack-new',
      type: 'pingstreams map',
      preset: 'slackNewRequest',
      expression: preset('slackNewRequest'),
      property: 'payload',
      wires: [['sink-new']],
    },
    {
      id: 'summary',
      type: 'pingstreams map',
      preset: 'requestSummary',
      expression: preset('requestSummary'),
      property: 'summary',
      wires: [['sink-summary']],
    },
    {
      id: 'slack-closed',
      type: 'pingstreams map',
      preset: 'slackClosedRequest',
      expression: preset('slackClosedRequest'),
      property: 'payload',
      wires: [['sink-closed']],
    },
    { id: 'sink-new', type: 'helper' },
    { id: 'sink-summary', type: 'helper' },
    { id: 'sink-closed', type: 'helper' },
  ]);
  const newOut = collect('sink-new');
  const summaryOut = collect('sink-summary');
  const closedOut = collect('sink-closed');
  await waitFor(() => (emu.stats().subscriptionsByTopic[`/${emu.projectId}/requests`] ?? 0) >= 1, 'subscribed');

  const created = emu.createRequest(emu.projectId, { first_text: 'Order <42> & "refund"' });
  const slack = await waitFor(() => newOut[0], 'Slack new-request message');
  expect(slack.payload.text).toBe('New support request: Order <42> & "refund"');
  expect(slack.payload.blocks[0]).toEqual({
    type: 'header',
    text: { type: 'plain_text', text: 'New support request' },
  });
  expect(slack.payload.blocks[1].text.text).toBe('Order &lt;42&gt; &amp; "refund"');
  expect(JSON.stringify(slack.payload.blocks)).toContain(String(created.request_id));

  const summary = await waitFor(() => summaryOut[0], 'summary message');
  expect(summary.payload._id).toBe(created._id); // output went to msg.summary, payload untouched
  expect(summary.summary).toMatchObject({
    requestId: created.request_id,
    event: 'CREATE',
    status: created.status,
    snapshot: false,
    changed: [],
  });

  emu.updateRequest(emu.projectId, String(created.request_id), { status: 200 });
  emu.closeRequest(emu.projectId, String(created.request_id));
  const closed = await waitFor(() => closedOut[0], 'Slack closed-request message');
  expect(closed.payload.text).toMatch(/^Request closed: Order <42>/);
  expect(JSON.stringify(closed.payload.blocks)).toContain('*Was*\\nassigned');
  expect(closedOut).toHaveLength(1);
});

test('map node: a bad expression reaches a Catch node with its position', async () => {
  await load(
    [
      { id: 'bad-syntax', type: 'pingstreams map', expression: '{ "a": payload.', property: 'payload', wires: [[]] },
      {
        id: 'bad-runtime',
        type: 'pingstreams map',
        expression: '$number(payload.text)',
        property: 'payload',
        wires: [[]],
      },
      {
        id: 'ok',
        type: 'pingstreams map',
        expression: '$event.method & " " & $previous.status & "->" & payload.status',
        property: 'payload',
        wires: [['sink']],
      },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      { id: 'sink', type: 'helper' },
    ],
    {},
  );
  const caught = collect('caught');
  const got = collect('sink');
  helper.getNode('bad-syntax').receive({ payload: {}, _msgid: 'syntax' });
  helper.getNode('bad-runtime').receive({ payload: { text: 'abc' }, _msgid: 'runtime' });
  helper
    .getNode('ok')
    .receive({ payload: { status: 1000 }, method: 'UPDATE', pingstreams: { previous: { status: 200 } }, _msgid: 'ok' });
  await waitFor(() => caught.length === 2 && got.length === 1, 'two errors and one result');
  const byId = Object.fromEntries(caught.map((m) => [m._msgid, m.error.message]));
  // Node-RED puts err.toString() in msg.error.message.
  expect(byId.syntax).toMatch(
    /^Error: The JSONata expression failed at position 15 \(near "\(end\)"\): Expected "}" before end of expression/,
  );
  expect(byId.runtime).toMatch(/^Error: The JSONata expression failed at position \d+ \(near "number"\)/);
  expect(got[0].payload).toBe('UPDATE 200->1000');
});

test('runaway expressions in the in and map nodes stop at their limits, reach a Catch node, and later messages flow', async () => {
  const RUNAWAY = '($f := function($n){ $f($n + 1) }; $f(0))';
  await load(
    [
      {
        id: 'loop',
        type: 'pingstreams map',
        expression: `payload.text = "runaway" ? ${RUNAWAY} : payload.text`,
        property: 'payload',
        exprTimeout: '200',
        wires: [['sink']],
      },
      {
        id: 'regex',
        type: 'pingstreams map',
        expression: '$contains(payload.text, /^(a+)+$/) ? "matched" : payload.text',
        property: 'payload',
        exprTimeout: '200',
        wires: [['sink']],
      },
      {
        id: 'deep',
        type: 'pingstreams map',
        expression: '($f := function($n){ 1 + $f($n + 1) }; $f(0))',
        property: 'payload',
        exprDepth: '50',
        wires: [['sink']],
      },
      {
        id: 'both',
        type: 'pingstreams map',
        expression: '$contains($env("X"), /a/)',
        property: 'payload',
        wires: [['sink']],
      },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      { id: 'sink', type: 'helper' },
    ],
    {},
  );
  const caught = collect('caught');
  const got = collect('sink');
  helper.getNode('loop').receive({ payload: { text: 'runaway' }, _msgid: 'loop' });
  helper.getNode('loop').receive({ payload: { text: 'after loop' }, _msgid: 'after-loop' });
  helper.getNode('regex').receive({ payload: { text: `${'a'.repeat(40)}!` }, _msgid: 'regex' });
  helper.getNode('regex').receive({ payload: { text: 'after regex' }, _msgid: 'after-regex' });
  helper.getNode('deep').receive({ payload: {}, _msgid: 'deep' });
  helper.getNode('both').receive({ payload: {}, _msgid: 'both' });
  await waitFor(() => caught.length === 4 && got.length === 2, 'four errors and two results', 20_000);
  const byId = Object.fromEntries(caught.map((m) => [m._msgid, m.error.message]));
  expect(byId.loop).toMatch(/stopped: it ran longer than its time budget of 200 ms/);
  expect(byId.regex).toMatch(/stopped: it ran longer than its time budget of 200 ms/);
  expect(byId.deep).toMatch(/nested deeper than its depth budget of 50 levels/);
  expect(byId.both).toMatch(/regular expression and a Node-RED function/);
  expect(got.map((m) => m.payload).sort()).toEqual(['after loop', 'after regex']);
});
