'use strict';
// Two or more builds of the core side by side over real sockets, in one process: raw ws + JSON.parse and each build
// read the same frames from the same publisher, in rotating order, round after round; each build's figure is the
// median of its rounds' core/raw throughput ratios. On a shared machine this tells builds apart where separate runs
// of `npm run bench` cannot (their ratios move by 10-20% with what else runs).
//   npm run build && cp -r dist /tmp/before   # ... change, build again ...
//   node bench/compare-builds.js /tmp/before dist
//   COMPARE_ROUNDS=9 COMPARE_FRAMES=200000 COMPARE_WORKLOADS=updates,worst node bench/compare-builds.js A B C
//   COMPARE_RESUMABLE=1 ...   # subscribe as the n8n trigger does, with a resume record (builds before it kept one always)
// A build outside this folder cannot resolve `ws`: copy it under node_modules/ (e.g. node_modules/.builds/before).
const path = require('node:path');
const { Publisher, rawConsumer, measure } = require('./lib/harness');

const ROUNDS = Number(process.env.COMPARE_ROUNDS || 7);
const FRAMES = Number(process.env.COMPARE_FRAMES || 200_000);
// As in the throughput suite: updates of 1 000 requests, and the worst case, every frame a new request.
const WORKLOADS = { updates: 1_000, worst: 0 };
const workloads = (process.env.COMPARE_WORKLOADS || 'updates,worst').split(',');
const builds = process.argv.slice(2).map((dir) => path.resolve(dir));
const resumable = process.env.COMPARE_RESUMABLE === '1';

/** The core of one build: one handle, one subscription, as the bench's core consumer. */
function consumerOf(dir) {
  const core = require(path.join(dir, 'core'));
  core.setDefaultPlatform(require(path.join(dir, 'core', 'node-platform.js')).nodePlatform);
  return () => {
    let handle;
    return {
      name: dir,
      async open(url, topic, onElement) {
        handle = core.acquireConnection({ endpoint: url, token: 'bench-token', lingerMs: 0 });
        await handle.subscribe(topic, { onEvent: (event) => onElement(event.data), resumable }).ready;
      },
      async close() {
        handle.release();
        await core.closeAllConnections();
      },
    };
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

(async () => {
  if (builds.length < 1) throw new Error('Name one build directory or more (a dist/ folder).');
  const publisher = await new Publisher().start();
  const consumers = [rawConsumer, ...builds.map(consumerOf)];
  let offset = 0;
  const next = (count) => (offset += count) - count;
  for (const make of consumers) await measure(publisher, make(), { rate: 0, count: 20_000, offset: next(20_000) });
  for (const workload of workloads) {
    const distinct = WORKLOADS[workload];
    const ratios = builds.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const start = next(FRAMES);
      const order = consumers.map((_, i) => (i + round) % consumers.length);
      const rates = [];
      for (const i of order)
        rates[i] = (
          await measure(publisher, consumers[i](), { rate: 0, count: FRAMES, distinct, offset: start })
        ).eventsPerSec;
      builds.forEach((_, b) => ratios[b].push(rates[b + 1] / rates[0]));
    }
    for (const [b, dir] of builds.entries()) {
      const r = ratios[b];
      console.log(
        `${workload}: ${path.relative(process.cwd(), dir) || dir} core/raw median ${median(r).toFixed(3)} (${Math.min(...r).toFixed(3)}-${Math.max(...r).toFixed(3)}, ${ROUNDS} rounds)`,
      );
    }
  }
  await publisher.close();
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
