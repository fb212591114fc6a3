// The "pingstreams metrics" node inside a real Node-RED 4 runtime (node-red-node-test-helper) against the
// emulator over loopback: the metrics object and one message per figure, on change (rate-limited) and on
// input, exact after a dropped connection, the forecast when a target is set, the status, and a clean close.
import { startEmulator, type Emulator } from '../../emulator';
import { closeAllConnections } from '../../core';
import { sleep, waitFor } from '../helpers/wait';
import { NODES, collect, helper, onTab, statuses, type Msg } from '../helpers/node-red-runtime';

jest.setTimeout(60_000);

let emu: Emulator;

beforeAll(() => {
  helper.settings({ pingstreams: { subscribeTimeoutMs: 1500, backoffInitialMs: 50, backoffMaxMs: 300 } });
});

beforeEach(async () => {
  emu = await startEmulator();
});

afterEach(async () => {
  await helper.unload();
  await closeAllConnections();
  await emu.close();
});

function flow(extra: Msg = {}): Msg[] {
  return [
    { id: 'cfg', type: 'pingstreams-config', name: 'emulator', endpoint: emu.url },
    {
      id: 'metrics',
      type: 'pingstreams metrics',
      server: 'cfg',
      projectId: emu.projectId,
      projectIdType: 'str',
      interval: 0,
      minGap: 0.3,
      threshold: 60,
      window: 30,
      perMetric: true,
      wires: [['all'], ['figures']],
      ...extra,
    },
    { id: 'all', type: 'helper' },
    { id: 'figures', type: 'helper' },
  ];
}

const truthQueue = () => emu.getRequests(emu.projectId).filter((r) => r.status === 100).length;
const truthOpen = () => emu.getRequests(emu.projectId).filter((r) => r.status < 1000).length;

test('sends the metrics object and one message per figure, on change at most once per min gap, exact after a drop', async () => {
  await helper.load(NODES, onTab(flow()), { cfg: { token: emu.tokens.owner } });
  const all = collect('all');
  const figures = collect('figures');
  const seen = statuses('metrics');

  await waitFor(() => all.length > 0, 'the first metrics object');
  const first = all[0];
  expect(first.topic).toBe(`pingstreams/metrics/${emu.projectId}`);
  expect(first.payload.requests).toMatchObject({ open: truthOpen(), queue: truthQueue() });
  // One message per figure: plain numbers under msg.topic, the waiting requests as table rows.
  await waitFor(() => figures.some((m) => m.topic === 'waiting'), 'the per-figure messages');
  const byTopic = new Map(figures.map((m) => [m.topic, m.payload]));
  expect(byTopic.get('queue')).toBe(truthQueue());
  expect(typeof byTopic.get('longestWaitSeconds')).toBe('number');
  expect(byTopic.get('waiting')).toEqual([
    expect.objectContaining({ request: expect.stringMatching(/^support-group-/), waitSeconds: expect.any(Number) }),
  ]);
  expect(figures.every((m) => typeof m.payload === 'number' || Array.isArray(m.payload))).toBe(true);
  expect(byTopic.get('agentsOnLine')).toBe(first.payload.agents.available + first.payload.agents.busy);
  // The agents table, once their records came: one row per agent with a record.
  const agents = await waitFor(
    () => figures.find((m) => m.topic === 'agents' && m.payload.length > 0),
    'the agents table',
  );
  expect(agents.payload).toEqual(
    expect.arrayContaining([
      {
        agent: expect.any(String),
        state: expect.stringMatching(/^(available|busy|unavailable)$/),
        assigned: expect.any(Number),
        capacity: expect.any(Number),
      },
    ]),
  );
  // Status: the queue and the longest wait (the seeded waiting request is 20 minutes old).
  await waitFor(
    () => seen.some((s) => /^queue 1 · longest wait 20m \d\ds$/.test(s.text ?? '')),
    'the queue in the status',
  );

  // A burst of ten arrivals: fewer outputs than changes, and the last one exact.
  const before = all.length;
  const started = Date.now();
  for (let i = 0; i < 10; i++) emu.createRequest(emu.projectId, { status: 100 });
  await waitFor(() => all.at(-1)?.payload.requests.queue === truthQueue(), 'the burst in the figures');
  await sleep(400);
  const sent = all.length - before;
  expect(sent).toBeGreaterThanOrEqual(1);
  expect(sent).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 300) + 1);

  // Changes made while the connection is down are in the figures once it is back.
  emu.faults.dropAll();
  const closed = emu.getRequests(emu.projectId).find((r) => r.status === 100)!;
  emu.closeRequest(emu.projectId, closed.request_id);
  await waitFor(
    () => all.at(-1)?.payload.requests.open === truthOpen() && all.at(-1)?.payload.confirming === 0,
    'the figures after the drop',
    15_000,
  );
  expect(all.at(-1)!.payload.requests.queue).toBe(truthQueue());

  // Any input asks for the figures now.
  const count = all.length;
  helper.getNode('metrics').receive({ payload: 'refresh' });
  await waitFor(() => all.length > count, 'an output on input');
});

test('adds the forecast when a target is set, and stops sending once closed', async () => {
  await helper.load(
    NODES,
    onTab(
      flow({ interval: 0.5, targetPercent: 80, targetSeconds: 20, ahtMinutes: 3, maxOccupancy: 85, shrinkage: 30 }),
    ),
    { cfg: { token: emu.tokens.owner } },
  );
  const all = collect('all');
  const figures = collect('figures');
  await waitFor(() => all.length >= 2, 'two outputs on the interval');
  const { forecast } = all.at(-1)!.payload;
  expect(forecast.input).toMatchObject({
    ahtSeconds: 180,
    targetServiceLevel: 0.8,
    targetSeconds: 20,
    maxOccupancy: 0.85,
    shrinkage: 0.3,
  });
  expect(typeof forecast.required.agents).toBe('number');
  expect(figures.some((m) => m.topic === 'agentsRequired' && m.payload === forecast.required.agents)).toBe(true);

  await helper.unload();
  const after = all.length;
  emu.createRequest(emu.projectId, { status: 100 });
  await sleep(1200);
  expect(all.length).toBe(after);
  expect(emu.stats().subscriptions).toBe(0);
});

test('a setting out of range stops the node with a message saying what to enter', async () => {
  await helper.load(NODES, onTab(flow({ targetPercent: 120 })), { cfg: { token: emu.tokens.owner } });
  const seen = statuses('metrics');
  const node = helper.getNode('metrics');
  await waitFor(() => node.error.called || seen.length > 0, 'the startup failure');
  expect(String(node.error.firstCall.args[0])).toBe(
    'Target (%) is "120": enter a number from 1 to 99.9, or leave it blank for the default.',
  );
});
