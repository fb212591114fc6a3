'use strict';
// The per-event cost of the core without sockets: the same frames fed straight to a connection's message handler
// and to a bare JSON.parse, in CPU time (process.cpuUsage, so waiting for a loaded machine's CPU does not count),
// with the GC's share. Where the time goes; `node --cpu-prof bench/profile-hot-path.js` for the functions.
//   npm run build && node bench/profile-hot-path.js
//   PROFILE_FRAMES=50000 PROFILE_ROUNDS=5 PROFILE_CASES=updates,wide,worst PROFILE_MAX_TRACKED=<maxTrackedPerTopic>
const { requireDist } = require('./lib/harness');
const { requestFrame } = require('./lib/frames');
const { handFedPlatform } = require('./lib/hand-fed-platform');

const core = requireDist('core');
const TOPIC = '/5eb45fbc1f9e1f0012d62207/requests';
const FRAMES = Number(process.env.PROFILE_FRAMES || 50_000);
const ROUNDS = Number(process.env.PROFILE_ROUNDS || 5);
const CASES = (process.env.PROFILE_CASES || 'updates,wide,worst').split(',');
// updates: 1 000 requests changed in turn, as the socket bench does; wide: 5 000, as many as the tracker holds by
// default, so each is changed long after its last change; worst: every frame a new request.
const DISTINCT = { updates: 1_000, wide: 5_000, worst: 0 };
const MAX_TRACKED = process.env.PROFILE_MAX_TRACKED
  ? { maxTrackedPerTopic: Number(process.env.PROFILE_MAX_TRACKED) }
  : {};

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
const settle = () => new Promise((resolve) => setTimeout(resolve, 50)); // lets the GC entries arrive

const cpuMs = (since) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};

let sink = 0;
async function measure(name, frames, run) {
  await settle();
  gcMs = 0;
  const started = process.cpuUsage();
  await run(frames);
  const ms = cpuMs(started);
  await settle();
  return { name, ms, gcMs };
}

const raw = (frames) => {
  for (const buffer of frames) {
    const message = JSON.parse(buffer.toString()).payload.message;
    if (message && !Array.isArray(message)) sink += message.status;
  }
};

async function coreRun(frames) {
  const { platform, fed } = handFedPlatform();
  const handle = core.acquireConnection({
    endpoint: 'ws://127.0.0.1:9/api/',
    token: 'bench',
    lingerMs: 0,
    platform,
    ...MAX_TRACKED,
  });
  let received = 0;
  const subscription = handle.subscribe(TOPIC, { onEvent: (event) => ((received += 1), (sink += event.data.status)) });
  await subscription.ready;
  for (const buffer of frames) fed.message(buffer.toString());
  await new Promise(setImmediate); // the last frames are handled at the end of the turn (core/frame-batch.ts)
  handle.release();
  await core.closeAllConnections();
  if (received !== frames.length) throw new Error(`the core delivered ${received} of ${frames.length} events`);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

(async () => {
  let offset = 0;
  for (const name of CASES) {
    const distinct = DISTINCT[name];
    const ratios = [];
    const lines = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Decoded from a Buffer by each consumer, as the socket does: a flat, young string per frame (a string made
      // beforehand would be old already, and the text the tracker keeps would cost it nothing).
      const frames = Array.from({ length: FRAMES }, (_, i) =>
        Buffer.from(
          requestFrame(
            TOPIC,
            distinct ? i % distinct : offset + i,
            offset + i,
            distinct && i >= distinct ? 'UPDATE' : 'CREATE',
          ),
        ),
      );
      offset += FRAMES;
      const r = await measure('raw', frames, raw);
      const c = await measure('core', frames, coreRun);
      ratios.push(r.ms / c.ms);
      lines.push(
        `  round ${round + 1}: raw ${((r.ms * 1000) / FRAMES).toFixed(2)} us/event (GC ${r.gcMs.toFixed(0)} ms), core ${((c.ms * 1000) / FRAMES).toFixed(2)} us/event (GC ${c.gcMs.toFixed(0)} ms of ${c.ms.toFixed(0)}), raw/core ${(r.ms / c.ms).toFixed(3)}`,
      );
    }
    console.log(distinct ? `updates of ${distinct} requests (${name}):` : 'new requests (worst case):');
    console.log(lines.join('\n'));
    console.log(
      `  median raw/core ${median(ratios).toFixed(3)} (spread ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`,
    );
  }
  if (sink === 0) console.log('');
})();
