// Expressions holding a regular expression run here: off the main thread, in one worker that is terminated
// when an evaluation outlives its time budget. A backtracking regular expression is a single native call that
// nothing inside the thread can interrupt; terminating the thread can, and the host's event loop never waits.
import { Worker } from 'node:worker_threads';
import type { ExpressionBudget } from './expression';
import { messageOf } from './errors';

// The worker's own heap is bounded too: a regex result cannot exhaust the host's memory.
const WORKER_HEAP_MB = 128;
const WORKER_START_LIMIT_MS = 10_000;

// Plain JavaScript run by the worker (it must not depend on how the package was built or transpiled).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const jsonata = require(${JSON.stringify(require.resolve('jsonata'))});
const cache = new Map();
parentPort.on('message', async ({ id, source, input, bindings, budget }) => {
  try {
    const key = budget.timeMs + ':' + budget.depth + ':' + source;
    let compiled = cache.get(key);
    if (!compiled) {
      if (cache.size >= 200) cache.delete(cache.keys().next().value);
      compiled = jsonata(source, { timeout: budget.timeMs, stack: budget.depth });
      cache.set(key, compiled);
    }
    const value = await compiled.evaluate(input, bindings);
    parentPort.postMessage({ id, ok: true, value });
  } catch (error) {
    const e = error || {};
    parentPort.postMessage({ id, ok: false, error: { message: String(e.message || e), code: e.code, position: e.position, token: e.token } });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Job {
  source: string;
  input: unknown;
  bindings: Record<string, unknown>;
  budget: Required<ExpressionBudget>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Thrown (as a JSONata-like failure) when the worker had to be stopped. */
export const WORKER_TIMEOUT_CODE = 'D1012';

let worker: Worker | undefined;
let ready: Promise<Worker> | undefined;
let running = false;
let nextId = 1;
const queue: Job[] = [];

function startWorker(): Promise<Worker> {
  if (ready) return ready;
  const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
  w.unref(); // an idle worker never keeps the host process alive
  worker = w;
  ready = new Promise<Worker>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the expression worker did not start in time')),
      WORKER_START_LIMIT_MS,
    );
    timer.unref?.();
    w.once('message', () => {
      clearTimeout(timer);
      resolve(w);
    });
    w.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  w.once('exit', () => {
    if (worker === w) discard(w);
  });
  ready.catch(() => discard(w));
  return ready;
}

function discard(w: Worker): void {
  if (worker === w) {
    worker = undefined;
    ready = undefined;
  }
  void w.terminate();
}

/** One evaluation at a time: terminating the worker for one runaway must not take other evaluations with it. */
export function evaluateInWorker(
  source: string,
  input: unknown,
  bindings: Record<string, unknown>,
  budget: Required<ExpressionBudget>,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    queue.push({ source, input, bindings, budget, resolve, reject });
    void drain();
  });
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (let job = queue.shift(); job; job = queue.shift()) await run(job);
  } finally {
    running = false;
  }
}

async function run(job: Job): Promise<void> {
  let w: Worker;
  try {
    w = await startWorker();
  } catch (error) {
    job.reject({
      message: `the expression could not be evaluated off the main thread (${messageOf(error)})`,
    });
    return;
  }
  const id = nextId++;
  await new Promise<void>((done) => {
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      w.unref();
      settle();
      done();
    };
    const onMessage = (message: { id?: number; ok?: boolean; value?: unknown; error?: unknown }) => {
      if (message.id !== id) return;
      finish(() => (message.ok ? job.resolve(message.value) : job.reject(message.error)));
    };
    const onExit = () =>
      finish(() => job.reject({ message: 'the expression worker stopped (it may have run out of memory)' }));
    // The hard bound: past the budget the thread is terminated, whatever it is doing.
    const timer = setTimeout(() => {
      finish(() => job.reject({ code: WORKER_TIMEOUT_CODE }));
      discard(w); // the next evaluation starts a fresh worker
    }, job.budget.timeMs);
    w.on('message', onMessage);
    w.on('exit', onExit);
    w.ref(); // an evaluation in flight keeps the process alive until it ends (at most the budget)
    try {
      w.postMessage({ id, source: job.source, input: job.input, bindings: job.bindings, budget: job.budget });
    } catch (error) {
      finish(() =>
        job.reject({
          message: `the event could not be handed to the expression worker (${messageOf(error)})`,
        }),
      );
    }
  });
}
