// Chaos soak through a real Node-RED 4 runtime (node-red-node-test-helper): one `pingstreams in` node per topic
// (about 40 topics on one config node, CREATE/UPDATE/DELETE, snapshot and missed changes on) wired to one sink,
// while the emulator changes data and the fault injector drops, half-opens, restarts and refuses (429/503) the
// connection. The sink's msgs go through the core soak's exactly-once accounting (soak-harness.ts). Halfway, a
// "modified nodes" deploy adds a node on a topic already held: the running nodes must not notice.
// NR_SOAK_EVENTS / NR_SOAK_FAULTS / NR_SOAK_RATE / SOAK_SEED for a bigger run (default 20 000 changes, 50 faults).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closeAllConnections, connectionStats, parseTopic, type ConnectionStatus } from '../../core';
import { DEFAULTS } from '../../core/connection';
import {
  NO_FAILURES,
  exactlyOnceFailures,
  runSoak,
  type ConsumerContext,
  type ObservedEvent,
  type SoakConsumer,
  type SoakReport,
} from './soak-harness';
import { deploy, helper, NODES, onTab, type Msg, type Status } from '../helpers/node-red-runtime';
import { waitFor } from '../helpers/wait';

const EVENTS = Number(process.env.NR_SOAK_EVENTS ?? 20_000);
const FAULTS = Number(process.env.NR_SOAK_FAULTS ?? Math.max(50, Math.round(EVENTS / 400)));
const RATE = Number(process.env.NR_SOAK_RATE ?? 250);
/** New connections per rolling minute: 60 (as in the core soak) so 50 faults fit in about two minutes. */
const BUDGET = 60;
/** RSS growth allowed from "every snapshot delivered" to the end of the run (trackers and records are bounded). */
const RSS_GROWTH_LIMIT_MB = 150;
/** Heap retained after a full GC may grow by this much (the emulator's store and the ledger live in this process too). */
const HEAP_GROWTH_LIMIT_MB = 64;

jest.setTimeout(Math.max(8 * 60_000, (EVENTS / RATE) * 4_000));

/** The in node's fields for a topic, as the editor would save them. */
function inNodeFor(topic: string, id: string, wires: string[][]): Msg {
  const parsed = parseTopic(topic);
  return {
    id,
    type: 'pingstreams in',
    name: topic,
    server: 'cfg',
    kind: parsed.kind,
    projectId: parsed.projectId,
    projectIdType: 'str',
    requestId: parsed.requestId ?? '',
    requestIdType: 'str',
    projectUserId: parsed.projectUserId ?? '',
    projectUserIdType: 'str',
    methodCreate: true,
    methodUpdate: true,
    methodDelete: true,
    snapshot: true,
    recovered: true,
    when: '',
    wires,
  };
}

function observedOf(msg: Msg): ObservedEvent {
  const payload = (msg.payload ?? {}) as Msg;
  return {
    topic: String(msg.topic),
    method: msg.method,
    id: String(payload._id ?? payload.id),
    updatedAt: typeof payload.updatedAt === 'string' ? payload.updatedAt : '',
    recovered: msg.pingstreams?.recovered === true,
    snapshot: msg.pingstreams?.snapshot === true,
  };
}

interface NodeRedSoakStats {
  rssAfterSnapshotsMb: number;
  rssEndMb: number;
  heapAfterSnapshotsMb: number;
  heapEndMb: number;
  redeployAtObserved: number;
  lateNodeMsgs: number;
  lateNodeLive: number;
  lateNodeDuplicates: number;
  finalStatuses: Record<string, number>;
  logWarnings: number;
  logErrors: number;
  logSamples: string[];
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

// A full GC before each memory sample (jest runs without --expose-gc): heap after GC is what is retained.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function memory(): { rssMb: number; heapMb: number } {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { rssMb: mb(usage.rss), heapMb: mb(usage.heapUsed) };
}

/**
 * A test-only node placed before the `pingstreams in` nodes: flow order makes it the config node's first user, so it
 * sees every connection attempt in the status broadcast the core sends as the attempt starts, and timestamps it
 * there. (Polling the core's counter stamped attempts up to a poll late, and a late first attempt of a window spent
 * to the budget made the window look like 61.)
 */
function attemptWatcherModule(onAttempt: (at: number) => void) {
  return (RED: Msg) => {
    RED.nodes.registerType('attempt-watcher', function (this: Msg, def: Msg) {
      RED.nodes.createNode(this, def);
      const config = RED.nodes.getNode(def.server);
      const user = {
        onConnectionStatus: (status: ConnectionStatus) => {
          // As in the core soak's consumer: (re)connecting without retryInMs is the start of an attempt.
          if ((status.state === 'connecting' || status.state === 'reconnecting') && status.retryInMs === undefined)
            onAttempt(Date.now());
        },
      };
      config.register(user);
      this.on('close', () => config.deregister(user));
    });
  };
}

/** A SoakConsumer that is a Node-RED flow: config node, one `pingstreams in` per topic, one helper sink. */
function nodeRedConsumer(): SoakConsumer & { stats: NodeRedSoakStats } {
  const stats: NodeRedSoakStats = {
    rssAfterSnapshotsMb: 0,
    rssEndMb: 0,
    heapAfterSnapshotsMb: 0,
    heapEndMb: 0,
    redeployAtObserved: 0,
    lateNodeMsgs: 0,
    lateNodeLive: 0,
    lateNodeDuplicates: 0,
    finalStatuses: {},
    logWarnings: 0,
    logErrors: 0,
    logSamples: [],
  };
  const warnings: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  const tuned: Record<string, number> = {};
  let sunk = 0;
  const late: Msg[] = [];
  const lastStatus = new Map<string, Status>();
  let redeploy: Promise<void> | undefined;

  /** Moves the helper's recorded log calls into counters: its sinon spies keep every call (and every msg sent). */
  const harvestLog = () => {
    const log = helper.log();
    for (const [entry] of log.args) {
      const level = Number(entry?.level);
      // Only this package's nodes: the test helper itself logs a deprecation warning on load.
      if ((level !== log.WARN && level !== log.ERROR) || !/^pingstreams/.test(String(entry?.type))) continue;
      const text = `${level === log.ERROR ? 'error' : 'warn'} [${String(entry?.type)}] ${String(entry?.msg)}`;
      if (level === log.ERROR) stats.logErrors += 1;
      else stats.logWarnings += 1;
      warnings.push(text);
      if (stats.logSamples.length < 20) stats.logSamples.push(text.slice(0, 300));
    }
    helper._sandbox.resetHistory();
  };

  return {
    name: 'node-red',
    stats,
    async start(context: ConsumerContext) {
      // The faults come every second or so: the soak uses the core soak's heartbeat and budget (settings.js does
      // not expose them; the backoff is set through settings.js as a user would).
      for (const [key, value] of Object.entries({
        maxConnectsPerMinute: context.maxConnectsPerMinute,
        pingIntervalMs: 500,
        pongTimeoutMs: 1_500,
      })) {
        tuned[key] = (DEFAULTS as unknown as Record<string, number>)[key];
        (DEFAULTS as unknown as Record<string, number>)[key] = value;
      }
      helper.settings({
        pingstreams: { subscribeTimeoutMs: 30_000, backoffInitialMs: 100, backoffMaxMs: 1_000, lingerMs: 0 },
      });
      const ids = context.topics.map((_t, i) => `in-${i}`);
      const flow = [
        { id: 'cfg', type: 'pingstreams-config', name: 'emulator', endpoint: context.endpoint },
        { id: 'attempts', type: 'attempt-watcher', server: 'cfg' },
        ...context.topics.map((topic, i) => inNodeFor(topic, ids[i], [['sink']])),
        { id: 'sink', type: 'helper' },
      ];
      const credentials = { cfg: { token: context.token } };
      await helper.load(
        [...NODES, attemptWatcherModule((at) => context.onConnectAttempt?.(at))],
        onTab(flow),
        credentials,
      );

      const snapshotTopics = new Set<string>();
      helper.getNode('sink').on('input', (msg: Msg) => {
        sunk += 1;
        if (msg.pingstreams?.snapshot === true) snapshotTopics.add(String(msg.topic));
        context.onEvent(observedOf(msg));
      });
      for (const id of ids)
        helper.getNode(id).on('call:status', (call: { args: [Status] }) => lastStatus.set(id, call.args[0]));

      timers.push(setInterval(harvestLog, 1_000));
      if (process.env.SOAK_VERBOSE) {
        timers.push(
          setInterval(() => {
            const c = connectionStats().connections[0];
            process.stderr.write(
              `[node-red soak] sunk=${sunk} state=${c?.state} open=${c?.open} topics=${c?.topics.length} handles=${c?.handles} stats=${JSON.stringify(c?.stats)}\n`,
            );
          }, 5_000),
        );
      }

      // Every seeded topic holds at least one element: all snapshots reached the sink, then nothing more.
      await waitFor(
        () => context.topics.every((t) => snapshotTopics.has(t)),
        'a snapshot msg for every topic',
        60_000,
        50,
      );
      let last = -1;
      await waitFor(
        () => {
          const quiet = sunk === last;
          last = sunk;
          return quiet;
        },
        'the snapshots delivered completely',
        30_000,
        500,
      );
      harvestLog();
      ({ rssMb: stats.rssAfterSnapshotsMb, heapMb: stats.heapAfterSnapshotsMb } = memory());

      // Halfway through the changes, a "modified nodes" deploy adds a node on an already held topic.
      const lateTopic = context.topics[0];
      const redeployAt = Math.round(EVENTS * 0.6);
      timers.push(
        setInterval(() => {
          if (redeploy || sunk < redeployAt) return;
          stats.redeployAtObserved = sunk;
          redeploy = deploy(
            onTab([
              ...flow,
              { ...inNodeFor(lateTopic, 'late', [['sink-late']]), name: 'added later' },
              { id: 'sink-late', type: 'helper' },
            ]),
            'nodes',
            credentials,
          ).then(() => {
            helper.getNode('sink-late').on('input', (msg: Msg) => late.push(msg));
          });
        }, 100),
      );
    },
    async stop() {
      await redeploy;
      for (const timer of timers.splice(0)) clearInterval(timer);
      harvestLog();
      ({ rssMb: stats.rssEndMb, heapMb: stats.heapEndMb } = memory());
      stats.lateNodeMsgs = late.length;
      stats.lateNodeLive = late.filter((m) => !m.pingstreams?.snapshot && !m.pingstreams?.recovered).length;
      const keys = late.map(
        (m) => `${String(m.payload?._id)} ${m.method === 'DELETE' ? 'DELETE' : String(m.payload?.updatedAt)}`,
      );
      stats.lateNodeDuplicates = keys.length - new Set(keys).size;
      for (const status of lastStatus.values()) {
        const label = `${status.fill}/${status.shape}`;
        stats.finalStatuses[label] = (stats.finalStatuses[label] ?? 0) + 1;
      }
      await helper.unload();
      await closeAllConnections();
      Object.assign(DEFAULTS, tuned);
    },
    warnings: () => warnings,
  };
}

let report: SoakReport;
let nodeRed: NodeRedSoakStats;

beforeAll(async () => {
  const consumer = nodeRedConsumer();
  report = await runSoak({
    consumer,
    events: EVENTS,
    faults: FAULTS,
    ratePerSecond: RATE,
    maxConnectsPerMinute: BUDGET,
    log: process.env.SOAK_VERBOSE ? (line) => process.stderr.write(`[node-red soak] ${line}\n`) : undefined,
  });
  nodeRed = consumer.stats;
  const dir = join(__dirname, '..', '..', 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const full = {
    ...report,
    nodeRed,
    rssGrowthLimitMb: RSS_GROWTH_LIMIT_MB,
    heapGrowthLimitMb: HEAP_GROWTH_LIMIT_MB,
    finishedAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'node-red-soak-report.json'), JSON.stringify(full, null, 1));
  process.stdout.write(`\nnode-red soak report: ${JSON.stringify(full)}\n`);
});

test(`at least ${EVENTS} changes on about 40 \`pingstreams in\` nodes, with at least ${FAULTS} faults of every kind`, () => {
  expect(report.changes).toBeGreaterThanOrEqual(EVENTS);
  expect(report.topics).toBeGreaterThanOrEqual(30);
  expect(report.faultsTotal).toBeGreaterThanOrEqual(FAULTS);
  for (const kind of ['drop', 'half-open', 'restart', 'refuse 429', 'refuse 503'])
    expect(report.faults[kind]).toBeGreaterThan(0);
  expect(report.delivered.recovered).toBeGreaterThan(0);
  expect(report.delivered.live).toBeGreaterThan(0);
});

test('every observable change reaches the sink exactly once: nothing lost, duplicated, invented or reordered', () => {
  const a = report.accounting;
  expect(a.examples).toEqual([]);
  expect(exactlyOnceFailures(a)).toEqual(NO_FAILURES);
  expect(a.required).toBeGreaterThan(100);
});

test('a "modified nodes" deploy mid-soak leaves the running nodes alone; the added node gets the held state, then live events once', () => {
  expect(nodeRed.redeployAtObserved).toBeGreaterThan(0);
  expect(nodeRed.lateNodeMsgs).toBeGreaterThan(0);
  expect(nodeRed.lateNodeLive).toBeGreaterThan(0);
  expect(nodeRed.lateNodeDuplicates).toBe(0);
});

test(`new connection attempts never exceed the budget of ${BUDGET} per rolling minute`, () => {
  expect(report.connects.serverAttempts).toBeGreaterThanOrEqual(FAULTS);
  // The watcher saw every attempt: each one the server saw was started by the client (ws needs no refusal probe).
  expect(report.connects.clientAttempts).toBeGreaterThanOrEqual(report.connects.serverAttempts);
  expect(report.connects.maxServerPerRollingMinute).toBeLessThanOrEqual(BUDGET);
  expect(report.connects.maxClientPerRollingMinute).toBeLessThanOrEqual(BUDGET);
});

test('every node ends green, and the log names problems without flooding', () => {
  expect(nodeRed.finalStatuses).toEqual({ 'green/dot': report.topics });
  // One line per distinct connection problem (the config node de-duplicates), not one per node per fault.
  expect(nodeRed.logWarnings + nodeRed.logErrors).toBeLessThan(report.faultsTotal * 4);
});

test(`RSS grows by less than ${RSS_GROWTH_LIMIT_MB} MB and the heap after GC by less than ${HEAP_GROWTH_LIMIT_MB} MB from the delivered snapshots to the end`, () => {
  expect(nodeRed.rssEndMb - nodeRed.rssAfterSnapshotsMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  expect(nodeRed.heapEndMb - nodeRed.heapAfterSnapshotsMb).toBeLessThan(HEAP_GROWTH_LIMIT_MB);
});
