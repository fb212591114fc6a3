'use strict';
// (5) The live metrics engine: per-event cost and memory at 10,000 open requests and 1,000 agents, next to the
// core tracker's own per-event work on the same events (the cost every subscriber already pays), in one run.
// No sockets: the events are built before timing, so only the engine's bookkeeping is measured.
const { requireDist, gc, now } = require('../lib/harness');

const P = '5eb45fbc1f9e1f0012d62207';
const T0 = Date.parse('2026-01-01T10:00:00.000Z');

/**
 * A steady queue: `open` requests kept open, `agents` agents; each step one change (arrive, assign, reply, close,
 * agent), 1 ms apart from T0 on, so arrivals, replies and closes all land in the window as they would live.
 */
function workload(open, agents, count) {
  const iso = (ms) => new Date(T0 + ms).toISOString();
  const events = [];
  const live = [];
  let next = 0;
  let t = 0;
  const created = new Map();
  const req = (n, status, extra) => {
    if (!created.has(n)) created.set(n, t);
    const at = created.get(n);
    return {
      _id: `r${n}`,
      id: `r${n}`,
      request_id: `support-group-${n}`,
      status,
      department: `d${n % 5}`,
      createdAt: iso(at),
      updatedAt: iso(t++),
      participants: [],
      ...extra,
    };
  };
  for (let i = 0; i < open; i++) {
    live.push(next);
    events.push({ kind: 'request', method: 'CREATE', data: req(next++, 100) });
  }
  const seed = events.length;
  for (let i = 0; events.length < seed + count; i++) {
    const r = i % 5;
    if (r === 4) {
      const a = i % agents;
      events.push({
        kind: 'agent',
        method: 'UPDATE',
        data: {
          _id: `pu${a}`,
          id_user: `u${a}`,
          user_available: i % 3 !== 0,
          isBusy: i % 7 === 0,
          number_assigned_requests: i % 4,
          max_assigned_chat: 4,
          updatedAt: iso(t++),
        },
      });
      continue;
    }
    const slot = (i * 7919) % live.length;
    const n = live[slot];
    if (r === 0)
      events.push({
        kind: 'request',
        method: 'UPDATE',
        data: req(n, 200, { participants: [`u${n % agents}`], assigned_at: iso(t) }),
      });
    else if (r === 1)
      events.push({
        kind: 'request',
        method: 'UPDATE',
        data: req(n, 200, { first_response_at: iso(t), waiting_time: t - created.get(n) }),
      });
    else if (r === 2) {
      // Closed, and a new arrival takes its place: the open count stays put.
      events.push({
        kind: 'request',
        method: 'UPDATE',
        data: req(n, 1000, { assigned_at: iso(created.get(n) + 5), closed_at: iso(t) }),
      });
      live[slot] = next;
      events.push({ kind: 'request', method: 'CREATE', data: req(next++, 100) });
    } else events.push({ kind: 'request', method: 'UPDATE', data: req(n, 100) });
  }
  return { seed: events.slice(0, seed), timed: events.slice(seed, seed + count) };
}

function timeRun(events, apply) {
  const started = now();
  for (const e of events) apply(e);
  return (now() - started) / events.length;
}

module.exports = {
  id: 'metrics',
  title: 'Live metrics engine: per-event cost and memory at 10,000 open requests / 1,000 agents',
  async run({ quick }) {
    const { MetricsEngine } = requireDist('core/metrics.js');
    const { TopicTracker } = requireDist('core/tracker.js');
    const count = quick ? 25_000 : 100_000;
    const rows = [];
    const results = {};
    // Both sizes are prepared first, then timed in alternating rounds, each round on fresh events (a replayed event
    // would be a cheap duplicate): the ratios compare paths measured side by side under the same machine load.
    const rounds = quick ? 2 : 4;
    const sizes = [
      [100, 10],
      [10_000, 1_000],
    ].map(([open, agents]) => {
      const { seed, timed } = workload(open, agents, count * rounds);
      let clock = T0;
      const engine = new MetricsEngine(P, { now: () => clock, windowMs: 30 * 60_000 });
      const tracker = new TopicTracker('requests', 50_000, 100);
      for (let a = 0; a < agents; a++)
        engine.applyAgentRecord({
          _id: `pu${a}`,
          id_user: `u${a}`,
          user_available: true,
          max_assigned_chat: 4,
          updatedAt: new Date(T0).toISOString(),
        });
      gc();
      const heap0 = process.memoryUsage().heapUsed;
      for (const e of seed) engine.applyRequestEvent(e);
      gc();
      const heapEngine = process.memoryUsage().heapUsed - heap0;
      for (const e of seed) tracker.applyLive(e.method, e.data);
      // Each event is 1 ms after the previous one (see workload): the clock follows without parsing dates.
      clock = T0 + seed.length;
      const applyEngine = (e) => {
        clock += 1;
        return e.kind === 'agent' ? engine.applyAgentRecord(e.data, e.method) : engine.applyRequestEvent(e);
      };
      return { open, agents, engine, tracker, timed, heapEngine, applyEngine, engineNs: [], trackerNs: [] };
    });
    for (let round = 0; round < rounds; round++) {
      for (const size of sizes) {
        const events = size.timed.slice(round * count, (round + 1) * count);
        size.trackerNs.push(timeRun(events, (e) => e.kind === 'request' && size.tracker.applyLive(e.method, e.data)));
        size.engineNs.push(timeRun(events, size.applyEngine));
      }
    }
    for (const size of sizes) {
      const engineEvent = Math.min(...size.engineNs);
      const trackerEvent = Math.min(...size.trackerNs);
      const snapshotStarted = now();
      const snapshots = quick ? 5 : 20;
      let metrics;
      for (let i = 0; i < snapshots; i++) metrics = size.engine.metrics();
      const metricsMs = (now() - snapshotStarted) / snapshots / 1e6;
      results[size.open] = { engineEvent, trackerEvent, heapPerRequest: size.heapEngine / size.open, metricsMs };
      rows.push({
        'open requests / agents': `${size.open.toLocaleString('en')} / ${size.agents.toLocaleString('en')}`,
        'engine ns/event': Math.round(engineEvent),
        'core tracker ns/event': Math.round(trackerEvent),
        'engine / tracker': Math.round((engineEvent / trackerEvent) * 100) / 100,
        // A hundred requests are below what a heap reading after GC can resolve.
        'engine heap per open request (B)':
          size.open >= 1_000 ? Math.round(size.heapEngine / size.open) : 'too few to measure',
        'metrics() ms': Math.round(metricsMs * 100) / 100,
        'open at the end': metrics.requests.open,
        'window samples':
          metrics.window.arrivals +
          metrics.window.closed +
          metrics.window.firstResponse.count +
          metrics.window.handleTime.count,
      });
    }
    const small = results[100];
    const big = results[10_000];
    return {
      columns: [
        'open requests / agents',
        'engine ns/event',
        'core tracker ns/event',
        'engine / tracker',
        'engine heap per open request (B)',
        'metrics() ms',
        'open at the end',
        'window samples',
      ],
      rows,
      summary: {
        engineNsPerEventAt10k: Math.round(big.engineEvent),
        engineToTrackerAt10k: Math.round((big.engineEvent / big.trackerEvent) * 100) / 100,
        costRatio10kTo100: Math.round((big.engineEvent / small.engineEvent) * 100) / 100,
        heapBytesPerOpenRequest: Math.round(big.heapPerRequest),
        metricsMsAt10k: Math.round(big.metricsMs * 100) / 100,
      },
      notes: [
        `${rounds} rounds of ${count.toLocaleString('en')} fresh events per size, alternating sizes; the fastest round counts. Events: 20% agent records, 16% assignments, 16% first replies, 16% closes (each followed by a new arrival), 16% returns to the queue; the open count stays constant.`,
        '"core tracker" is TopicTracker.applyLive on the same request events: the work the core already does for every subscriber, measured in the same run.',
        '"engine / tracker" and the cost ratio between 10,000 and 100 open requests are the figures to compare; absolute times vary with the machine.',
        'metrics() walks the queue and the window samples (O(queue + window)); hosts call it every few seconds, not per event.',
      ],
    };
  },
};
