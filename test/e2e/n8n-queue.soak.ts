// Chaos soak through n8n's queue mode: PostgreSQL, Redis, one main holding about 40 Pingstreams Triggers (one
// workflow per topic, Keep Order Per element, batches of up to 20) and two workers running the executions (a Code
// step, then the post to the sink). Faults: the emulator's (drops, half-open sockets, restarts, 429/503 refusals)
// and, every sixth one, the host's: a worker killed while it runs executions (then started again), Redis restarted,
// the main restarted. The sink's items are taken in the order they arrived (no order restored), so the core soak's
// exactly-once accounting (test/integration/soak-harness.ts) also proves the order per element at the sink.
// CI size by default (5,000 changes, 20 faults); the full run: N8N_QUEUE_SOAK_EVENTS=20000 N8N_QUEUE_SOAK_FAULTS=50.
// Not in CI yet (it loses the final DELETE of two single-request topics, see docs/soak-results.md):
// Run: N8N_QUEUE_SOAK=1 npx jest --selectProjects n8n-queue-soak
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_FAILURES, exactlyOnceFailures, runSoak, type SoakReport } from '../integration/soak-harness';
import { Resources } from '../helpers/resources';
import { ARTIFACTS, buildAndPack, newArtifactsDir, provision } from './n8n/harness';
import { QueueCluster } from './n8n/queue';
import { SOAK_N8N_ENV, n8nConsumer, type N8nSoakStats } from './n8n/soak';

const EVENTS = Number(process.env.N8N_QUEUE_SOAK_EVENTS ?? 5_000);
const FAULTS = Number(process.env.N8N_QUEUE_SOAK_FAULTS ?? 20);
/** Store changes per second (see n8n-soak.test.ts for the ceiling the core's look-ups after a reconnect set). */
const RATE = Number(process.env.N8N_QUEUE_SOAK_RATE ?? 25);
const BUDGET = 10;
/** The Code step before the post: a worker killed while it runs executions is mostly killed in it. */
const CODE_DELAY_MS = 300;
/** An execution whose end n8n never reports holds its element 45 s here, not 5 min. */
const TRIGGER_OPTIONS = { orderBy: 'element', batchSize: 20, batchWaitMs: 200, orderWaitSeconds: 45 };

jest.setTimeout(Math.max(20 * 60_000, (EVENTS / RATE) * 3_000 + FAULTS * 40_000));

let report: SoakReport;
let stats: N8nSoakStats;
let cluster: QueueCluster;
const hostFaults: Record<string, number> = {};
const resources = new Resources();

beforeAll(async () => {
  const artifacts = newArtifactsDir('n8n-queue-soak');
  const paths = provision('queue');
  cluster = resources.add(
    'queue-mode cluster',
    new QueueCluster(paths, artifacts, {
      workers: 2,
      concurrency: 10,
      env: {
        ...SOAK_N8N_ENV,
        // A killed worker's jobs are found stalled within seconds instead of half a minute.
        QUEUE_WORKER_LOCK_DURATION: '8000',
        QUEUE_WORKER_LOCK_RENEW_TIME: '2000',
        QUEUE_WORKER_STALLED_INTERVAL: '4000',
      },
    }),
    (c) => c.dispose(),
  );
  const packDir = resources.add('pack folder', mkdtempSync(join(tmpdir(), 'pingstreams-pack-')), (dir) =>
    rmSync(dir, { recursive: true, force: true }),
  );
  await cluster.prepare(await buildAndPack(packDir, join(artifacts, 'package')));
  const log = (line: string) => process.stderr.write(`[n8n queue soak] ${line}\n`);
  const consumer = n8nConsumer(cluster.main, log, {
    triggerOptions: TRIGGER_OPTIONS,
    codeDelayMs: CODE_DELAY_MS,
    arrivalOrder: true,
    start: () => cluster.start(),
    // n8n marks the jobs of a killed worker failed ("processed too many times") and never runs them again; the
    // trigger emits their events again. What such a run had posted before its worker died is not a delivery.
    discountExecutions: () =>
      new Set(
        cluster.postgres
          .query(
            `SELECT e.id FROM execution_entity e JOIN execution_data d ON d."executionId" = e.id WHERE e.status = 'error' AND d.data LIKE '%processed too many times%'`,
          )
          .split('\n')
          .filter(Boolean)
          .map(Number),
      ),
  });
  // For a failure's diagnosis: when each sink request arrived (sampled), and the faults' times.
  const arrivals: number[] = [];
  const sampler = setInterval(() => {
    while (arrivals.length < consumer.sink.requests.length) arrivals.push(Date.now());
  }, 100);
  const faultLog: string[] = [];
  let workerTurn = 0;
  const done = (kind: string) => {
    hostFaults[kind] = (hostFaults[kind] ?? 0) + 1;
    return true;
  };
  report = await runSoak({
    consumer: { ...consumer, drain: () => consumer.drain!() },
    events: EVENTS,
    faults: FAULTS,
    ratePerSecond: RATE,
    maxConnectsPerMinute: BUDGET,
    log: (line) => {
      faultLog.push(`${new Date().toISOString()} ${line}`);
      if (process.env.SOAK_VERBOSE) log(line);
    },
    // Every sixth fault is the host's: each kind at least once in CI's 20 (a main restart takes a minute or two).
    hostFaultEvery: 6,
    hostFaults: [
      {
        kind: 'worker killed',
        run: async () => {
          const worker = cluster.workers[workerTurn++ % cluster.workers.length];
          await worker.kill();
          await worker.start();
          return done('worker killed');
        },
      },
      {
        kind: 'redis restart',
        run: async () => {
          await cluster.redis.restart(1_000);
          return done('redis restart');
        },
      },
      {
        kind: 'main restart',
        run: async () => {
          await cluster.main.stop();
          await cluster.main.start();
          return done('main restart');
        },
      },
    ],
  });
  clearInterval(sampler);
  writeFileSync(join(artifacts, 'faults.log'), faultLog.join('\n'));
  writeFileSync(
    join(artifacts, 'sink.jsonl'),
    consumer.sink.requests
      .map((r, i) => {
        const b = r.body as {
          topic?: string;
          method?: string;
          recovered?: boolean;
          snapshot?: boolean;
          data?: { _id?: string; id?: string; updatedAt?: string };
        };
        return JSON.stringify({
          i,
          at: arrivals[i] ? new Date(arrivals[i]).toISOString() : '',
          x: r.headers['x-execution'],
          topic: b.topic,
          id: b.data?._id ?? b.data?.id,
          u: b.data?.updatedAt,
          m: b.method,
          r: b.recovered,
          s: b.snapshot,
        });
      })
      .join('\n'),
  );
  stats = consumer.stats;
  const full = { ...report, n8n: stats, hostFaults, finishedAt: new Date().toISOString() };
  writeFileSync(join(ARTIFACTS, 'n8n-queue-soak-report.json'), JSON.stringify(full, null, 1));
  process.stdout.write(`\nn8n queue soak report: ${JSON.stringify({ ...full, connects: undefined })}\n`);
}, 90 * 60_000);

afterAll(() => resources.closeAll(60_000), 5 * 60_000);

test(`at least ${EVENTS} changes through queue mode with at least ${FAULTS} faults, the host's among them`, () => {
  expect(report.changes).toBeGreaterThanOrEqual(EVENTS);
  expect(report.topics).toBeGreaterThanOrEqual(30);
  expect(report.faultsTotal).toBeGreaterThanOrEqual(FAULTS);
  for (const kind of ['drop', 'half-open', 'restart', 'worker killed', 'redis restart', 'main restart'])
    expect(report.faults[kind]).toBeGreaterThan(0);
  expect(report.delivered.recovered).toBeGreaterThan(0);
  expect(report.delivered.live).toBeGreaterThan(0);
});

test('every change reaches the sink once, in order per element as it arrived: nothing lost, repeated or invented', () => {
  const a = report.accounting;
  expect(a.examples).toEqual([]);
  expect(exactlyOnceFailures(a)).toEqual(NO_FAILURES);
  expect(a.required).toBeGreaterThan(100);
  expect(stats.incompleteExecutions).toBe(0);
  // Left out only what the lost workers' runs had posted: at most their items (20 per batch).
  expect(stats.repeatedAfterWorkerLoss).toBeLessThanOrEqual((stats.executionsOfLostWorkers ?? 0) * 20);
  // Batches: far fewer executions than items.
  expect(stats.executions).toBeLessThan(stats.sinkRequests / 2);
});
