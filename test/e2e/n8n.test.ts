// End to end in a real n8n: the packed package installed into n8n's nodes folder, a credential and
// two workflows imported and published with the n8n CLI, `n8n start`, and the emulator driven from here.
// Run: npx jest --selectProjects e2e -- test/e2e/n8n   (logs in test-artifacts/n8n-e2e-*/; without "--" jest
// reads the path as a second project name and runs every e2e suite)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../emulator';
import { Resources } from '../helpers/resources';
import { waitFor, sleep } from '../helpers/wait';
import {
  HttpSink,
  N8n,
  buildAndPack,
  freePort,
  lockDatabase,
  newArtifactsDir,
  provision,
  readStaticData,
  type E2EPaths,
  type SinkRequest,
} from './n8n/harness';
import {
  ACTION_WORKFLOW_ID,
  CREDENTIAL_ID,
  METRICS_ALERT_WORKFLOW_ID,
  METRICS_INTERVAL_WORKFLOW_ID,
  TRIGGER_WORKFLOW_ID,
  credential,
  metricsAlertWorkflow,
  metricsIntervalWorkflow,
  snapshotWorkflow,
  triggerWorkflow,
} from './n8n/workflows';

jest.setTimeout(5 * 60_000);

let paths: E2EPaths;
let emu: Emulator;
let sink: HttpSink;
let n8n: N8n;
let packDir: string;
let artifacts: string;
const timings: Record<string, number> = {};
const resources = new Resources();
const suiteStarted = Date.now();

async function timed<T>(label: string, step: () => T | Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await step();
  } finally {
    timings[label] = Date.now() - started;
  }
}

const topic = () => `/${emu.projectId}/requests`;
const events = () => sink.on('/events');
interface Envelope {
  method: string;
  recovered: boolean;
  snapshot: boolean;
  data: { _id: string; status: number; first_text?: string };
}
const envelope = (r: SinkRequest) => r.body as unknown as Envelope;
const received = (id: unknown) => events().filter((r) => envelope(r).data?._id === id);
/**
 * The trigger's subscription is on the wire (n8n activated the workflow and the snapshot was sent) over a
 * connection accepted after `acceptedBefore` (a socket just dropped may still be counted for a moment).
 */
const subscribedOnce = (acceptedBefore = 0) =>
  waitFor(
    () =>
      emu.stats().connectionsAccepted > acceptedBefore &&
      emu.stats().clients === 1 &&
      emu.stats().subscriptionsByTopic[topic()] === 1,
    'n8n subscribed to the requests topic',
    60_000,
  );

beforeAll(async () => {
  artifacts = newArtifactsDir('n8n-e2e');
  paths = await timed('provision', () => provision('n8n'));
  emu = resources.add('emulator', await startEmulator(), (e) => e.close());
  sink = resources.add('sink', new HttpSink(), (s) => s.close());
  await sink.start();
  n8n = resources.add('n8n', new N8n(paths, artifacts, { http: await freePort(), broker: await freePort() }), (n) =>
    n.dispose(),
  );
  packDir = resources.add('pack folder', mkdtempSync(join(tmpdir(), 'pingstreams-pack-')), (dir) =>
    rmSync(dir, { recursive: true, force: true }),
  );
  const tarball = await timed('build+pack', () => buildAndPack(packDir, join(artifacts, 'package')));
  await timed('npm install into ~/.n8n/nodes', () => n8n.installPackage(tarball));
  await timed('n8n import + publish', async () => {
    await n8n.cli(
      ['import:credentials', `--input=${n8n.writeJson('credentials.json', credential(emu.url, emu.tokens.owner))}`],
      'import-credentials',
    );
    await n8n.cli(
      [
        'import:workflow',
        `--input=${n8n.writeJson('workflows.json', [triggerWorkflow(emu.projectId, sink.url('/events')), snapshotWorkflow(emu.projectId, sink.url('/snapshot'))])}`,
      ],
      'import-workflows',
    );
    await n8n.cli(['publish:workflow', `--id=${TRIGGER_WORKFLOW_ID}`], 'publish-workflow');
  });
  await timed('n8n start (1)', () => n8n.start());
  await timed('activation', subscribedOnce);
}, 20 * 60_000);

afterAll(async () => {
  await resources.closeAll();
  timings.total = Date.now() - suiteStarted;
  console.log(
    `n8n e2e timings (ms): ${JSON.stringify(timings)}; sink requests: ${sink?.requests.length}; artifacts: ${artifacts}`,
  );
}, 2 * 60_000);

test('the first activation emits nothing old; each live change is one execution with one item', async () => {
  expect(events()).toHaveLength(0); // no snapshot unless asked for
  const created = emu.createRequest(emu.projectId, { first_text: 'Printer on fire' });
  await waitFor(() => received(created._id).length === 1, 'CREATE posted by n8n', 60_000);
  emu.updateRequest(emu.projectId, String(created._id), { status: 200, participants: [emu.users.agent] });
  const second = emu.createRequest(emu.projectId, { first_text: 'Second one' });
  await waitFor(() => events().length === 3, 'three events posted', 60_000);
  await sleep(1_000); // a duplicate would show up now
  expect(events()).toHaveLength(3);
  expect(
    events()
      .map((r) => [envelope(r).method, envelope(r).data._id])
      .sort(),
  ).toEqual(
    [
      ['CREATE', created._id],
      ['UPDATE', created._id],
      ['CREATE', second._id],
    ].sort(),
  );
  const executions = new Set(events().map((r) => r.headers['x-execution']));
  expect(executions.size).toBe(3);
  expect(events().every((r) => !envelope(r).recovered && !envelope(r).snapshot)).toBe(true);
  timings.liveEvents = events().length;
});

test('after the server drops every socket, each change made meanwhile arrives exactly once, flagged recovered', async () => {
  const before = events().length;
  const [open] = emu.getRequests(emu.projectId).filter((r) => r.status === 100);
  const accepted = emu.stats().connectionsAccepted;
  // Same tick as the drop: n8n cannot have reconnected yet.
  expect(emu.faults.dropAll()).toBe(1);
  const missed = [
    emu.createRequest(emu.projectId, { first_text: 'During the outage 1' }),
    emu.createRequest(emu.projectId, { first_text: 'During the outage 2' }),
  ];
  emu.updateRequest(emu.projectId, String(open._id), { status: 200, participants: [emu.users.agent2] });
  await subscribedOnce(accepted);
  const marker = emu.createRequest(emu.projectId, { first_text: 'After the reconnect' });
  await waitFor(
    () =>
      received(marker._id).length === 1 &&
      missed.every((r) => received(r._id).length >= 1) &&
      received(open._id).length >= 1,
    'recovered and live events',
    90_000,
  );
  await sleep(1_500);
  for (const r of [...missed, open]) expect(received(r._id)).toHaveLength(1);
  expect(events().length - before).toBe(4);
  expect([...missed, open].map((r) => envelope(received(r._id)[0]).recovered)).toEqual([true, true, true]);
  expect(envelope(received(open._id)[0]).method).toBe('UPDATE');
  expect(envelope(received(marker._id)[0]).recovered).toBe(false);
  // The recovered batch is one execution holding three items.
  expect(new Set([...missed, open].map((r) => received(r._id)[0].headers['x-execution'])).size).toBe(1);
});

test("while n8n's database is locked it cannot start executions; the trigger emits them again and each runs once", async () => {
  const before = events().length;
  const logBefore = readFileSync(n8n.logFile, 'utf8').length;
  const lock = await lockDatabase(paths, n8n.userFolder);
  let made: Array<Record<string, unknown>>;
  try {
    made = [
      emu.createRequest(emu.projectId, { first_text: 'While the database was locked 1' }),
      emu.createRequest(emu.projectId, { first_text: 'While the database was locked 2' }),
    ];
    await waitFor(
      () => /n8n could not start the execution/.test(readFileSync(n8n.logFile, 'utf8').slice(logBefore)),
      "the trigger's warning",
      90_000,
    );
  } finally {
    await lock.release();
  }
  await waitFor(() => made.every((r) => received(r._id).length >= 1), 'the executions emitted again', 90_000);
  await sleep(3_000); // a duplicate would show up now
  for (const r of made) expect(received(r._id)).toHaveLength(1);
  expect(events().length - before).toBe(2);
  const log = readFileSync(n8n.logFile, 'utf8').slice(logBefore);
  timings.lockWarnings = (log.match(/n8n could not start the execution/g) ?? []).length;
  expect(log).not.toContain(emu.tokens.owner);
});

test('n8n restart: the state persisted in static data lets the changes made while n8n was down arrive once', async () => {
  await timed('n8n stop (1)', () => n8n.stop());
  await waitFor(() => emu.stats().clients === 0, 'n8n gone', 30_000);
  const stored = readStaticData(paths, n8n.userFolder, TRIGGER_WORKFLOW_ID) as Record<
    string,
    { resumeState?: { topic: string; seen: Record<string, string> } }
  >;
  const resume = stored?.['node:Pingstreams Trigger']?.resumeState;
  expect(resume?.topic).toBe(topic());
  expect(Object.keys(resume?.seen ?? {}).length).toBeGreaterThan(0);

  const before = events().length;
  const whileDown = emu.createRequest(emu.projectId, { first_text: 'While n8n was down' });
  const [assigned] = emu.getRequests(emu.projectId).filter((r) => r.first_text === 'Second one');
  emu.updateRequest(emu.projectId, String(assigned._id), { status: 300 });

  const accepted = emu.stats().connectionsAccepted;
  await timed('n8n start (2)', () => n8n.start());
  await subscribedOnce(accepted);
  await waitFor(
    () => received(whileDown._id).length === 1 && received(assigned._id).some((r) => envelope(r).data.status === 300),
    'changes made while down',
    90_000,
  );
  await sleep(1_500);
  expect(events().length - before).toBe(2);
  const batch = events().slice(before);
  expect(batch.map((r) => [envelope(r).method, envelope(r).data._id, envelope(r).recovered]).sort()).toEqual(
    [
      ['CREATE', whileDown._id, true],
      ['UPDATE', assigned._id, true],
    ].sort(),
  );
  expect(new Set(batch.map((r) => r.headers['x-execution'])).size).toBe(1);
  timings.recoveredAfterRestart = batch.length;
});

test('n8n lists the installed nodes and credentials and serves their light and dark icons', async () => {
  const nodes = (await n8n.fetch('GET', '/types/nodes.json')).body as Array<{
    name: string;
    iconUrl?: { light: string; dark: string };
    credentials?: Array<{ name: string }>;
  }>;
  const ours = nodes.filter((n) => n.name.startsWith('n8n-nodes-pingstreams.'));
  // The action node is also offered to AI agents as a tool (usableAsTool).
  expect(ours.map((n) => n.name).sort()).toEqual([
    'n8n-nodes-pingstreams.pingstreams',
    'n8n-nodes-pingstreams.pingstreamsTool',
    'n8n-nodes-pingstreams.pingstreamsTrigger',
  ]);
  const credentials = (await n8n.fetch('GET', '/types/credentials.json')).body as Array<{
    name: string;
    iconUrl?: { light: string; dark: string };
  }>;
  const credential = credentials.find((c) => c.name === 'pingstreamsApi');
  expect(credential).toBeDefined();
  const themed = [...ours.map((n) => n.iconUrl), credential!.iconUrl];
  for (const iconUrl of themed.flatMap((i) => [i?.light, i?.dark])) {
    expect(iconUrl).toMatch(/^icons\/n8n-nodes-pingstreams\/.+\.svg$/);
    const icon = await n8n.fetch('GET', `/${iconUrl}`);
    expect(icon.status).toBe(200);
    expect(String(icon.body)).toContain('<svg');
  }
});

test('the credential test behind the editor\'s "Test" button reaches the emulator and tells a refused token, a rate limit and the network apart', async () => {
  // As the editor does: load the credential (the token comes back redacted), send it to the test route.
  const stored = await n8n.rest('GET', `/credentials/${CREDENTIAL_ID}?includeData=true`);
  expect(stored.status).toBe(200);
  const data = (stored.body as { data: { data: Record<string, unknown> } }).data.data;
  expect(JSON.stringify(data)).not.toContain(emu.tokens.owner);
  const test = (override: Record<string, unknown>) =>
    n8n.rest('POST', '/credentials/test', {
      credentials: {
        id: CREDENTIAL_ID,
        name: 'Pingstreams emulator',
        type: 'pingstreamsApi',
        data: { ...data, ...override },
      },
    });
  const ok = await test({});
  expect(ok).toMatchObject({
    status: 200,
    body: { data: { status: 'OK', message: expect.stringMatching(/^Connected; heartbeat answered in \d+ ms\.$/) } },
  });
  const expired = emu.signToken({ _id: emu.users.owner }, { expiresInSec: -600 });
  const refused = await test({ accessToken: expired, endpoint: emu.url });
  expect(refused).toMatchObject({
    status: 200,
    body: {
      data: {
        status: 'Error',
        message: expect.stringMatching(/refused the access token \(HTTP 401\)\. The token expired at /),
      },
    },
  });
  expect(JSON.stringify(refused.body)).not.toContain(expired);
  // The global WebSocket hides the status: the probe through n8n's request helper reads it. Refused twice, as a
  // real limit holds for the probe too (a one-shot refusal is used up by the socket itself).
  emu.faults.refuseNext(2, 429, { reason: 'Too many new connections for this user', retryAfterSec: 30 });
  const limited = await test({});
  expect(limited).toMatchObject({
    status: 200,
    body: {
      data: { status: 'Error', message: expect.stringMatching(/limiting connections \(HTTP 429\): Too many new/) },
    },
  });
  // Nothing listens on that port: the probe finds the network, not a refusal.
  const closedPort = await freePort();
  const unreachable = await test({ endpoint: `ws://127.0.0.1:${closedPort}/api/` });
  expect(unreachable).toMatchObject({
    status: 200,
    body: {
      data: {
        status: 'Error',
        message: expect.stringMatching(/^Could not connect to .*Check the endpoint and the network\.$/),
      },
    },
  });
});

/** Imports a workflow with the n8n CLI and publishes it through the REST API, as the editor does. */
async function publish(workflow: { id: string }): Promise<void> {
  await n8n.cli(
    ['import:workflow', `--input=${n8n.writeJson(`${workflow.id}.json`, [workflow])}`],
    `import-${workflow.id}`,
  );
  const current = await n8n.rest('GET', `/workflows/${workflow.id}`);
  const versionId = (current.body as { data?: { versionId?: string } }).data?.versionId;
  expect((await n8n.rest('POST', `/workflows/${workflow.id}/activate`, { versionId })).status).toBe(200);
}

test('Live Metrics every interval: the figures equal the emulator after a drop, a half-open socket and a restart, with changes made in each gap', async () => {
  interface Figures {
    at: string;
    confirming: number;
    requests: { open: number; queue: number; byStatus: Record<string, number>; longestWaitSeconds: number | null };
  }
  const posted = () => sink.on('/metrics').map((r) => (r.body as { metrics: Figures }).metrics);
  const truth = () => {
    const open = emu.getRequests(emu.projectId).filter((r) => Number(r.status) < 1000);
    const queue = open.filter((r) => r.status === 100);
    const oldest = Math.min(...queue.map((r) => Date.parse(String(r.createdAt))));
    return { open: open.length, queue: queue.length, assigned: open.filter((r) => r.status === 200).length, oldest };
  };
  await publish(metricsIntervalWorkflow(emu.projectId, sink.url('/metrics'), 5));
  const faults: Array<[string, () => unknown]> = [
    ['drop', () => emu.faults.dropAll()],
    ['half-open', () => emu.faults.halfOpen()],
    ['restart', () => emu.faults.restart({ downMs: 1_000 })],
  ];
  try {
    for (const [name, fault] of faults) {
      const accepted = emu.stats().connectionsAccepted;
      await fault();
      // Made while the trigger is cut off: only the snapshot diff and the look-ups can reveal them.
      emu.createRequest(emu.projectId, { first_text: `during the ${name}`, status: 100 });
      const closing = emu.getRequests(emu.projectId).find((r) => r.status === 200);
      if (closing) emu.closeRequest(emu.projectId, String(closing.request_id));
      const expected = truth();
      // The trigger's default heartbeat finds a half-open socket within 25 s.
      await waitFor(
        () =>
          emu.stats().connectionsAccepted > accepted &&
          (emu.stats().liveSubscriptionsByTopic[`/${emu.projectId}/requests`] ?? 0) > 0,
        `reconnected after the ${name}`,
        60_000,
      );
      const reconnectedAt = Date.now();
      // The first figures taken a moment after the new snapshot, its diff and the look-ups are done.
      const figures = await waitFor(
        () => posted().find((m) => Date.parse(m.at) > reconnectedAt + 1_000 && m.confirming === 0),
        `figures after the ${name}`,
        30_000,
        250,
      );
      expect({
        fault: name,
        open: figures.requests.open,
        queue: figures.requests.queue,
        assigned: figures.requests.byStatus.assigned,
      }).toEqual({
        fault: name,
        open: expected.open,
        queue: expected.queue,
        assigned: expected.assigned,
      });
      expect(
        Math.abs(figures.requests.longestWaitSeconds! - (Date.parse(figures.at) - expected.oldest) / 1000),
      ).toBeLessThanOrEqual(1);
    }
  } finally {
    await n8n.rest('POST', `/workflows/${METRICS_INTERVAL_WORKFLOW_ID}/deactivate`, {});
  }
});

test('Live Metrics: the queue alert fires once when the queue crosses the bound and once when it clears', async () => {
  const queue = () => emu.getRequests(emu.projectId).filter((r) => r.status === 100);
  const bound = queue().length + 1;
  // Published now, so no earlier test moves its queue.
  await publish(metricsAlertWorkflow(emu.projectId, sink.url('/alerts'), bound));
  const alerts = () => sink.on('/alerts').map((r) => r.body as { event: string; value: number; condition: string });
  try {
    await sleep(2_500); // a few checks with the queue at the bound: nothing fires
    expect(alerts()).toEqual([]);
    const added = [
      emu.createRequest(emu.projectId, { status: 100 }),
      emu.createRequest(emu.projectId, { status: 100 }),
    ];
    await waitFor(() => alerts().length === 1, 'the alert to fire', 30_000);
    expect(alerts()[0]).toMatchObject({ event: 'fired', condition: `queue longer than ${bound}`, value: bound + 1 });
    for (const r of added) emu.closeRequest(emu.projectId, r.request_id);
    await waitFor(() => alerts().length === 2, 'the alert to clear', 30_000);
    expect(alerts()[1]).toMatchObject({ event: 'cleared', value: bound - 1 });
    await sleep(2_500); // the value stays below the bound: no third execution
    expect(alerts().map((a) => a.event)).toEqual(['fired', 'cleared']);
  } finally {
    await n8n.rest('POST', `/workflows/${METRICS_ALERT_WORKFLOW_ID}/deactivate`, {});
  }
});

test('unpublishing the workflow closes the socket', async () => {
  const res = await n8n.rest('POST', `/workflows/${TRIGGER_WORKFLOW_ID}/deactivate`, {});
  expect(res.status).toBe(200);
  await waitFor(() => emu.stats().clients === 0, 'socket closed after unpublishing', 30_000);
  const before = events().length;
  emu.createRequest(emu.projectId, { first_text: 'Nobody listens' });
  await sleep(1_500);
  expect(events().length).toBe(before);
});

test('the action node runs through `n8n execute --id`: one item per open request', async () => {
  await timed('n8n stop (2)', () => n8n.stop());
  const out = await timed('n8n execute', () =>
    n8n.cli(['execute', `--id=${ACTION_WORKFLOW_ID}`, '--rawOutput'], 'execute-snapshot'),
  );
  const open = emu
    .getRequests(emu.projectId)
    .filter((r) => Number(r.status) > 50 && Number(r.status) < 1000 && r.status !== 150);
  const posted = sink.on('/snapshot');
  expect(posted.map((r) => r.body._id).sort()).toEqual(open.map((r) => r._id).sort());
  expect(new Set(posted.map((r) => r.headers['x-execution'])).size).toBe(1);
  expect(out).not.toContain(emu.tokens.owner);
  timings.snapshotItems = posted.length;
  await waitFor(() => emu.stats().clients === 0, 'execute left no socket behind', 30_000);
});
