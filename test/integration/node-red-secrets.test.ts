// Secret audit inside a real Node-RED 4 runtime: a distinctive token (with a canary claim) must not appear, in any
// form (whole, JWT-prefixed, URL-encoded, payload or signature part), in the Node-RED log, any node status
// (connected, "token refused", "rate limited" with a reason echoing the token), any msg, any error reaching a
// Catch node, or the flow export, whatever the server sends back.
import { startEmulator, type Emulator } from '../../emulator';
import { closeAllConnections, connectionStats } from '../../core';
import { canaryClaim, leakedForms } from '../helpers/secret-forms';
import { helper, NODES, onTab, type Msg, type Status } from '../helpers/node-red-runtime';
import { waitFor } from '../helpers/wait';

jest.setTimeout(60_000);

let emu: Emulator;
let canary: string;
let token: string;
const seen: { statuses: Status[]; msgs: Msg[] } = { statuses: [], msgs: [] };

beforeAll(() => {
  helper.settings({ pingstreams: { subscribeTimeoutMs: 1500, backoffInitialMs: 50, backoffMaxMs: 300, lingerMs: 0 } });
});

beforeEach(async () => {
  emu = await startEmulator();
  canary = canaryClaim();
  token = emu.signToken({ _id: emu.users.owner, email: `${canary}@example.com` });
  seen.statuses = [];
  seen.msgs = [];
});

afterEach(async () => {
  await helper.unload();
  await closeAllConnections();
  await emu.close();
});

/** A config node, an in node (plus one whose project id field holds the token by mistake), a sink and a Catch. */
async function load(secret: string, extra: Msg[] = []): Promise<void> {
  const inNode = (id: string, projectId: string) => ({
    id,
    type: 'pingstreams in',
    server: 'cfg',
    kind: 'requests',
    projectId,
    projectIdType: 'str',
    methodCreate: true,
    methodUpdate: true,
    methodDelete: true,
    snapshot: true,
    recovered: true,
    when: '',
    wires: [['sink']],
  });
  await helper.load(
    NODES,
    onTab([
      { id: 'cfg', type: 'pingstreams-config', name: 'emulator', endpoint: emu.url },
      inNode('in', emu.projectId),
      inNode('in-token-as-id', secret),
      { id: 'sink', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      ...extra,
    ]),
    { cfg: { token: secret } },
  );
  for (const id of ['in', 'in-token-as-id', ...extra.filter((n) => /^pingstreams/.test(n.type)).map((n) => n.id)]) {
    helper.getNode(id).on('call:status', (call: { args: [Status] }) => seen.statuses.push(call.args[0]));
  }
  for (const id of ['sink', 'caught']) helper.getNode(id).on('input', (msg: Msg) => seen.msgs.push(msg));
}

/** Everything a user, a log shipper or an export could see. */
function audit(): Record<string, string[]> {
  const texts: Record<string, string> = {
    log: JSON.stringify(helper.log().args),
    statuses: JSON.stringify(seen.statuses),
    msgs: JSON.stringify(seen.msgs),
    // Minus the node whose project id field the test filled with the token: that field is the user's text.
    flowExport: JSON.stringify(
      ((helper._redNodes.getFlows() as { flows: Msg[] }).flows ?? []).filter((n) => n.id !== 'in-token-as-id'),
    ),
    diagnostics: JSON.stringify(connectionStats()),
  };
  return Object.fromEntries(Object.entries(texts).map(([where, text]) => [where, leakedForms(text, token, canary)]));
}

const clean = { log: [], statuses: [], msgs: [], flowExport: [], diagnostics: [] };

test('connected, events, hostile frames echoing the token, a subscription error: nothing leaks', async () => {
  await load(token);
  await waitFor(() => seen.statuses.some((s) => s.fill === 'green'), 'green status', 15_000);
  emu.createRequest(emu.projectId, { first_text: 'hello' });
  const topic = `/${emu.projectId}/requests`;
  emu.faults.sendRaw(JSON.stringify({ action: 'publish', payload: { topic, method: token, message: {} } }));
  emu.faults.sendRaw(`{"action":"publish","payload":{"topic":"${topic}","method":"JWT ${token}"`);
  emu.faults.sendRaw(
    JSON.stringify({
      action: 'publish',
      payload: { topic, method: 'CREATE', message: [encodeURIComponent(`JWT ${token}`), { _id: 'after' }] },
    }),
  );
  await waitFor(() => seen.msgs.some((m) => m.payload?._id === 'after'), 'the element after the hostile frames');
  // The project id field holding the token: the node refuses to start (red status, an error in the log).
  await waitFor(
    () => seen.statuses.some((s) => s.fill === 'red'),
    'a red status for the token used as project id',
    20_000,
  );
  expect(helper.log().args.some(([e]) => /malformed frame/.test(String(e?.msg)))).toBe(true);
  expect(audit()).toEqual(clean);
});

test('a refused (expired) token: "token refused" under every node and one log line, without the token', async () => {
  token = emu.signToken({ _id: emu.users.owner, email: `${canary}@example.com` }, { expiresInSec: -3600 });
  await load(token);
  await waitFor(() => seen.statuses.some((s) => s.text === 'token refused'), 'token refused', 15_000);
  expect(helper.log().args.some(([e]) => /refused the access token/.test(String(e?.msg)))).toBe(true);
  expect(audit()).toEqual(clean);
});

test.each([
  [429, 'raw token'],
  [503, 'JWT-prefixed and URL-encoded token'],
])(
  'a %s refusal whose reason echoes the token (%s): "rate limited" status and a warning, without the token',
  async (status) => {
    const reason =
      status === 429
        ? `too many connections for ${token}`
        : `overloaded; client ${emu.url}?token=${encodeURIComponent(`JWT ${token}`)} (JWT ${token})`;
    emu.faults.refuseNext(1, status, { retryAfterSec: 1, reason });
    await load(token);
    await waitFor(() => seen.statuses.some((s) => /^rate limited/.test(s.text ?? '')), 'rate limited status', 15_000);
    await waitFor(() => seen.statuses.some((s) => s.fill === 'green'), 'connected after the wait', 15_000);
    expect(audit()).toEqual(clean);
  },
);

test('the token read from an environment variable (${NAME}) works and is not in the export either', async () => {
  process.env.PINGSTREAMS_SECRET_AUDIT_TOKEN = token;
  try {
    await load('${PINGSTREAMS_SECRET_AUDIT_TOKEN}');
    await waitFor(() => seen.statuses.some((s) => s.fill === 'green'), 'green status', 15_000);
    expect(audit()).toEqual(clean);
  } finally {
    delete process.env.PINGSTREAMS_SECRET_AUDIT_TOKEN;
  }
});
