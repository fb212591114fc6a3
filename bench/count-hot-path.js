'use strict';
// The core's per-event cost in instructions (valgrind's callgrind), next to a bare JSON.parse: a count that barely
// moves with the machine's load, unlike time. Instructions miss what memory costs (cache misses, page faults: much of
// the GC's copying), so read them next to profile-hot-path.js's GC share. Each frame is decoded from a Buffer, as the
// socket does, so what the tracker keeps of it is young. Two processes per (case, consumer) build the same warm-up and
// measured frames; one consumes only the warm-up, the other all: the difference is the cost of the measured frames in
// a warm state (startup, JIT warm-up, frame building and the tracker's filling cancel out). Node runs single-threaded
// (GC and compiler work on one thread, at the same points each run) with a fixed clock and fixed random and hash seeds:
// without them the ids' hash seed and V8's string hashes changed from run to run, and a count by about 1,000 an event.
//   npm run build && node bench/count-hot-path.js                   # every case, about 2 minutes each
//   COUNT_CASES=updates,worst COUNT_FRAMES=20000 COUNT_WARMUP=30000 node bench/count-hot-path.js
//   node bench/count-hot-path.js --run worst core 30000 20000 all    # one process as callgrind runs it, without it
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { requestFrame } = require('./lib/frames');

const TOPIC = '/5eb45fbc1f9e1f0012d62207/requests';
// As in profile-hot-path.js: updates of 1 000 requests, of 5 000 (wide), every frame a new request (worst).
const DISTINCT = { updates: 1_000, wide: 5_000, worst: 0 };

function frames(name, count) {
  const distinct = DISTINCT[name];
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(requestFrame(TOPIC, distinct ? i % distinct : i, i, distinct && i >= distinct ? 'UPDATE' : 'CREATE')),
  );
}

let sink = 0;

function raw(buffers, consumed) {
  for (let i = 0; i < consumed; i++) {
    const message = JSON.parse(buffers[i].toString()).payload.message;
    if (message && !Array.isArray(message)) sink += message.status;
  }
}

async function core(buffers, consumed) {
  const { requireDist } = require('./lib/harness');
  const { handFedPlatform } = require('./lib/hand-fed-platform');
  const started = Date.now();
  const { platform, fed } = handFedPlatform({ now: () => started });
  const { acquireConnection, closeAllConnections } = requireDist('core');
  const handle = acquireConnection({ endpoint: 'ws://127.0.0.1:9/api/', token: 'bench', lingerMs: 0, platform });
  let received = 0;
  const subscription = handle.subscribe(TOPIC, { onEvent: (event) => ((received += 1), (sink += event.data.status)) });
  await subscription.ready;
  for (let i = 0; i < consumed; i++) fed.message(buffers[i].toString());
  await new Promise(setImmediate); // the last frames are handled at the end of the turn (core/frame-batch.ts)
  handle.release();
  await closeAllConnections();
  if (received !== consumed) throw new Error(`the core delivered ${received} of ${consumed} events`);
}

/** Builds warm + count frames; consumes the warm-up only, or all with `all`. */
async function runOne(name, consumer, warm, count, all) {
  const buffers = frames(name, warm + count);
  const consumed = all ? warm + count : warm;
  await (consumer === 'raw' ? raw : core)(buffers, consumed);
  if (sink < 0) console.log(sink);
}

async function instructions(args) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'count-hot-path-')), 'callgrind.out');
  const node = [
    process.execPath,
    '--single-threaded',
    '--random-seed=7',
    '--hash-seed=7',
    __filename,
    '--run',
    ...args,
  ];
  await promisify(execFile)('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...node]);
  const summary = /^summary:\s+(\d+)/m.exec(fs.readFileSync(out, 'utf8'));
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return Number(summary[1]);
}

async function main() {
  const [, , flag, ...run] = process.argv;
  if (flag === '--run') return runOne(run[0], run[1], Number(run[2]), Number(run[3]), run[4] === 'all');
  const count = Number(process.env.COUNT_FRAMES || 20_000);
  // After 10 000 frames the optimizing compiler was still at work in the measured ones (about 1 000 instructions an event).
  const warmup = Number(process.env.COUNT_WARMUP || 30_000);
  for (const name of (process.env.COUNT_CASES || 'updates,wide,worst').split(',')) {
    // The two processes of a pair run side by side (each count is its own process's).
    const perEvent = async (consumer) => {
      const [all, warm] = await Promise.all([
        instructions([name, consumer, warmup, count, 'all']),
        instructions([name, consumer, warmup, count]),
      ]);
      return (all - warm) / count;
    };
    const r = await perEvent('raw');
    const c = await perEvent('core');
    console.log(
      `${name}: raw ${Math.round(r)} instructions/event, core ${Math.round(c)} (overhead ${Math.round(c - r)}), raw/core ${(r / c).toFixed(3)}`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
