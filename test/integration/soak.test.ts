// Chaos soak of the core: thousands of changes on many topics while the connection is dropped, cut
// half-open, restarted and refused. Accounting rules are documented in soak-harness.ts and BENCHMARKS.md.
// SOAK_EVENTS / SOAK_FAULTS / SOAK_SEED make a longer or different run (default: 20 000 changes, 50 faults).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_FAILURES, coreConsumer, exactlyOnceFailures, runSoak, type SoakReport } from './soak-harness';

const EVENTS = Number(process.env.SOAK_EVENTS ?? 20_000);
const FAULTS = Number(process.env.SOAK_FAULTS ?? Math.max(50, Math.round(EVENTS / 400)));
const BUDGET = 60;
/** RSS may grow by at most this much over the run (the trackers are bounded; the test keeps its own logs). */
const RSS_GROWTH_LIMIT_MB = 200;

jest.setTimeout(Math.max(240_000, EVENTS * 12));

let report: SoakReport;

beforeAll(async () => {
  report = await runSoak({
    consumer: coreConsumer(),
    events: EVENTS,
    faults: FAULTS,
    maxConnectsPerMinute: BUDGET,
    log: process.env.SOAK_VERBOSE ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  // Read by `npm run bench` for BENCHMARKS.md.
  const dir = join(__dirname, '..', '..', 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'soak-report.json'),
    JSON.stringify({ ...report, finishedAt: new Date().toISOString(), rssGrowthLimitMb: RSS_GROWTH_LIMIT_MB }, null, 1),
  );
  process.stdout.write(`\nsoak report: ${JSON.stringify(report)}\n`);
});

test(`at least ${EVENTS} changes across many topics and at least ${FAULTS} faults of every kind`, () => {
  expect(report.changes).toBeGreaterThanOrEqual(EVENTS);
  expect(report.topics).toBeGreaterThanOrEqual(30);
  expect(report.faultsTotal).toBeGreaterThanOrEqual(FAULTS);
  for (const kind of ['drop', 'half-open', 'restart', 'refuse 429']) expect(report.faults[kind]).toBeGreaterThan(0);
  // Faults actually forced recoveries, so the run exercised the snapshot path and not only live delivery.
  expect(report.delivered.recovered).toBeGreaterThan(0);
});

test('every observable change delivered exactly once: nothing lost, duplicated, invented or reordered', () => {
  const a = report.accounting;
  expect(a.examples).toEqual([]);
  expect(exactlyOnceFailures(a)).toEqual(NO_FAILURES);
  expect(a.required).toBeGreaterThan(100);
});

test(`new connection attempts never exceed the budget of ${BUDGET} per rolling minute`, () => {
  expect(report.connects.serverAttempts).toBeGreaterThanOrEqual(FAULTS);
  expect(report.connects.maxServerPerRollingMinute).toBeLessThanOrEqual(BUDGET);
  expect(report.connects.maxClientPerRollingMinute).toBeLessThanOrEqual(BUDGET);
});

test(`RSS grows by less than ${RSS_GROWTH_LIMIT_MB} MB`, () => {
  expect(report.memory.rssAfterMb - report.memory.rssBeforeMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);
});
