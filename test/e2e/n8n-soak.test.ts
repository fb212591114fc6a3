// Chaos soak through a real n8n: the packed package in n8n 2.40, one Pingstreams Trigger per topic (about 40
// topics in 3 workflows, Create/Update/Delete) posting every item to an HTTP sink, while the emulator changes
// data and the fault injector drops, half-opens, restarts and refuses (429/503) the connection. The sink's
// items are checked with the core soak's exactly-once accounting (test/integration/soak-harness.ts).
// Defaults fit CI (about 5-6 minutes with n8n's start); N8N_SOAK_EVENTS / N8N_SOAK_FAULTS / N8N_SOAK_RATE for
// the full run recorded in docs/soak-results.md. Run: npx jest --selectProjects e2e -- test/e2e/n8n-soak
import { mkdirSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_FAILURES,
  exactlyOnceFailures,
  maxInRollingWindow,
  runSoak,
  type SoakReport,
} from '../integration/soak-harness';
import { Resources } from '../helpers/resources';
import { ARTIFACTS, N8n, buildAndPack, freePort, newArtifactsDir, provision } from './n8n/harness';
import { SOAK_N8N_ENV, n8nConsumer, type N8nSoakStats } from './n8n/soak';

const EVENTS = Number(process.env.N8N_SOAK_EVENTS ?? 1_500);
const FAULTS = Number(process.env.N8N_SOAK_FAULTS ?? 12);
/**
 * Store changes per second; one change is one or two events (list topic and single-request topic). Keep it at
 * 30 or below: with the default budget of 10 new connections per minute a burst of faults keeps the trigger
 * away for up to a minute, and more than 50 requests closed per project meanwhile exceeds what the core looks
 * up after a reconnect (it warns and forgets the rest; measured at 100 changes/s: 14 of 60+54 not reported).
 */
const RATE = Number(process.env.N8N_SOAK_RATE ?? 10);
/**
 * n8n's main process (its own heap dominates): measured +281 MB over the full run at 10/s (465 -> 746 MB) and
 * -273 MB over the CI run. Beyond what n8n sustains (25/s here) its backlog grows it by gigabytes instead.
 */
const RSS_GROWTH_LIMIT_MB = 512;
/** The package's default budget of new connections per rolling minute (not tuned for the soak). */
const BUDGET = 10;

jest.setTimeout(Math.max(15 * 60_000, (EVENTS / RATE) * 3_000 + FAULTS * 30_000));

let report: SoakReport;
let n8nStats: N8nSoakStats;
let rss: { beforeMb?: number; afterMb?: number } = {};
let n8n: N8n;
const resources = new Resources();

beforeAll(async () => {
  const artifacts = newArtifactsDir('n8n-soak');
  const paths = provision('n8n');
  n8n = resources.add(
    'n8n',
    new N8n(paths, artifacts, { http: await freePort(), broker: await freePort() }, SOAK_N8N_ENV),
    (n) => n.dispose(),
  );
  const packDir = resources.add('pack folder', mkdtempSync(join(tmpdir(), 'pingstreams-pack-')), (dir) =>
    rmSync(dir, { recursive: true, force: true }),
  );
  await n8n.installPackage(await buildAndPack(packDir, join(artifacts, 'package')));
  const log = (line: string) => process.stderr.write(`[n8n soak] ${line}\n`);
  const consumer = n8nConsumer(n8n, log);
  report = await runSoak({
    consumer: {
      ...consumer,
      start: async (context) => {
        await consumer.start(context);
        rss = { beforeMb: n8n.rssMb() };
      },
      drain: () => consumer.drain!(),
      stop: async () => {
        rss.afterMb = n8n.rssMb();
        await consumer.stop();
      },
    },
    events: EVENTS,
    faults: FAULTS,
    ratePerSecond: RATE,
    maxConnectsPerMinute: BUDGET,
    log: process.env.SOAK_VERBOSE ? log : undefined,
  });
  n8nStats = consumer.stats;
  mkdirSync(ARTIFACTS, { recursive: true });
  const full = {
    ...report,
    n8n: { ...n8nStats, rssAfterSnapshotsMb: rss.beforeMb, rssAfterRunMb: rss.afterMb },
    finishedAt: new Date().toISOString(),
  };
  writeFileSync(join(ARTIFACTS, 'n8n-soak-report.json'), JSON.stringify(full, null, 1));
  process.stdout.write(`\nn8n soak report: ${JSON.stringify(full)}\n`);
}, 60 * 60_000);

afterAll(() => resources.closeAll(), 2 * 60_000);

test(`at least ${EVENTS} changes on about 40 topics through n8n, with at least ${FAULTS} faults`, () => {
  expect(report.changes).toBeGreaterThanOrEqual(EVENTS);
  expect(report.topics).toBeGreaterThanOrEqual(30);
  expect(report.faultsTotal).toBeGreaterThanOrEqual(FAULTS);
  for (const kind of ['drop', 'half-open', 'restart', 'refuse 429']) expect(report.faults[kind]).toBeGreaterThan(0);
  expect(report.delivered.recovered).toBeGreaterThan(0);
  expect(report.delivered.live).toBeGreaterThan(0);
});

test('every observable change reaches the sink exactly once: nothing lost, duplicated, invented or reordered', () => {
  const a = report.accounting;
  expect(a.examples).toEqual([]);
  expect(exactlyOnceFailures(a)).toEqual(NO_FAILURES);
  expect(a.required).toBeGreaterThan(100);
  // Every execution posted all its items (none failed in between), and the emission order was restored.
  expect({ incompleteExecutions: n8nStats.incompleteExecutions, lateItems: n8nStats.lateItems }).toEqual({
    incompleteExecutions: 0,
    lateItems: 0,
  });
});

test(`n8n's memory stays within ${RSS_GROWTH_LIMIT_MB} MB of its level after the snapshots`, () => {
  expect(rss.beforeMb).toBeGreaterThan(0);
  expect(rss.afterMb! - rss.beforeMb!).toBeLessThan(RSS_GROWTH_LIMIT_MB);
});

test(`new connection attempts seen by the server never exceed the default budget of ${BUDGET} per rolling minute`, () => {
  expect(report.connects.serverAttempts).toBeGreaterThanOrEqual(FAULTS);
  // The server stamps an attempt when its handshake completes, the client's budget when it starts: when the
  // budget is exhausted the 11th attempt starts exactly 60 s after the 1st, so handshake latency on a loaded
  // machine can put 11 server stamps in one minute. Allow 2 s of latency (measured: 11 in 60 s, see docs).
  expect(maxInRollingWindow(report.connects.serverTimes, 58_000)).toBeLessThanOrEqual(BUDGET);
});
