'use strict';
// Shared bench plumbing: the publisher thread, consumers (raw ws ceiling, the core), latency statistics.
// A host suite (Node-RED chain, n8n trigger) adds a consumer with the same shape: { name, open(url, topic, onElement), close() }.
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const WS = require('ws');

// BENCH_DIST compares another build (e.g. a patched copy) against the same harness.
const DIST = process.env.BENCH_DIST ? path.resolve(process.env.BENCH_DIST) : path.join(__dirname, '..', '..', 'dist');
const requireDist = (module) => require(path.join(DIST, module));
// The core's own suites open connections without naming a platform: the Node one (ws), as the hosts pass.
requireDist('core').setDefaultPlatform?.(requireDist('core/node-platform.js').nodePlatform);

/** The publisher thread: start() -> { url }, run({topic, rate, count, distinct}) -> { sent, ms }. */
class Publisher {
  async start() {
    this.worker = new Worker(path.join(__dirname, 'publisher-worker.js'));
    this.pending = new Map();
    this.nextId = 1;
    const port = await new Promise((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.on('message', (m) => {
        if (m.type === 'ready') resolve(m.port);
        if (m.type === 'done') this.pending.get(m.id)?.(m);
        if (m.type === 'closed') this.onClosed?.();
      });
    });
    this.url = `ws://127.0.0.1:${port}/api/`;
    return this;
  }

  run(command) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ type: 'run', id, ...command });
    });
  }

  async close() {
    await new Promise((resolve) => {
      this.onClosed = resolve;
      this.worker.postMessage({ type: 'close' });
    });
    await this.worker.terminate();
  }
}

const now = () => Number(process.hrtime.bigint());

/** What the ceiling does with a parsed frame: a live event's element to the callback. */
function handOn(frame, onElement) {
  const message = frame.payload.message;
  if (message && !Array.isArray(message)) onElement(message);
}

/**
 * The ceiling: a bare ws client that parses every frame and nothing more. `batched`: the frames of one turn parsed
 * one after the other, then handed on one after the other, by the core's own FrameBatch (core/frame-batch.ts). The
 * issue's ceiling parses each frame as it comes; batched, it shows what the core costs against a raw consumer as
 * cache-friendly as itself.
 */
function rawConsumer({ batched = false } = {}) {
  let socket;
  return {
    name: batched ? 'raw ws + JSON.parse, batched as the core' : 'raw ws + JSON.parse',
    open(url, topic, onElement) {
      socket = new WS(`${url}?token=bench`, { perMessageDeflate: false });
      if (batched) {
        const { FrameBatch } = requireDist('core/frame-batch.js');
        const batch = new FrameBatch((texts) => {
          const frames = texts.map((text) => JSON.parse(text));
          for (const frame of frames) handOn(frame, onElement);
        });
        socket.on('message', (data) => batch.push(data.toString()));
      } else {
        socket.on('message', (data) => handOn(JSON.parse(data.toString()), onElement));
      }
      return new Promise((resolve, reject) => {
        socket.once('error', reject);
        socket.once('open', () => {
          socket.send(JSON.stringify({ action: 'subscribe', payload: { topic } }));
          // The snapshot is the first frame after subscribe.
          socket.once('message', () => resolve());
        });
      });
    },
    async close() {
      socket.terminate();
    },
  };
}

/**
 * The core as a host uses it: one handle, one subscription. `resumable` as the n8n trigger and Node-RED's
 * pingstreams in node subscribe (a resume record for exportState); without, as the CLI, Wait for Event and live
 * metrics do.
 */
function coreConsumer(options = {}, { resumable = false } = {}) {
  const core = requireDist('core');
  let handle;
  return {
    name: resumable
      ? 'core, resumable (acquireConnection + subscribe with a resume record)'
      : 'core (acquireConnection + subscribe)',
    core,
    async open(url, topic, onElement) {
      handle = core.acquireConnection({ endpoint: url, token: 'bench-token', lingerMs: 0, ...options });
      const subscription = handle.subscribe(topic, { onEvent: (event) => onElement(event.data), resumable });
      await subscription.ready;
    },
    async close() {
      handle.release();
      await core.closeAllConnections();
    },
  };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Publishes `count` frames at `rate` (0 = max) to one consumer and measures what it receives:
 * throughput from first to last element received, latency from send to the consumer's callback.
 */
async function measure(
  publisher,
  consumer,
  { rate, count, distinct = 0, topic = '/5eb45fbc1f9e1f0012d62207/requests', offset = 0, timeoutMs = 60_000 },
) {
  const latencies = new Float64Array(count);
  let received = 0;
  let first = 0;
  let last = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await consumer.open(publisher.url, topic, (element) => {
    const t = now();
    if (received < count) latencies[received] = (t - Number(element.t)) / 1e6;
    if (received === 0) first = t;
    last = t;
    received += 1;
    if (received === count) done();
  });
  const sending = publisher.run({ topic, rate, count, offset, distinct });
  const timer = setTimeout(done, timeoutMs);
  const published = await sending;
  await finished;
  clearTimeout(timer);
  await consumer.close();
  const sorted = Array.from(latencies.subarray(0, Math.min(received, count))).sort((a, b) => a - b);
  const seconds = (last - first) / 1e9;
  return {
    consumer: consumer.name,
    workload: distinct ? `updates of ${distinct} requests` : 'new requests',
    rate: rate || 'max',
    sent: count,
    received,
    eventsPerSec: received > 1 && seconds > 0 ? Math.round((received - 1) / seconds) : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    publisherEventsPerSec: published.ms > 0 ? Math.round((published.sent / published.ms) * 1000) : 0,
    /** At max rate: the consumer never let the send buffer fill, so the publisher was the limit, not the consumer. */
    publisherBound: rate === 0 && published.stalls === 0,
  };
}

const gc = () => {
  if (typeof global.gc !== 'function') throw new Error('Run with node --expose-gc (npm run bench does).');
  global.gc();
  global.gc();
};

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { Publisher, rawConsumer, coreConsumer, measure, percentile, requireDist, gc, mb, sleep, now };
