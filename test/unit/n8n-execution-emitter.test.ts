// The trigger's ExecutionEmitter on its own: a fake emit() (n8n's host API) that starts, refuses or cannot report
// executions, and jest's fake clock for the retry delays.
import { nodeClock } from '../../core/node-platform';
import type { INodeExecutionData, IRun } from 'n8n-workflow';
import { UserError } from 'n8n-workflow';
import {
  ExecutionEmitter,
  MAX_RERUNS,
  RETRY_DELAYS_MS,
  VERDICT_WAIT_MS,
  type Deferred,
  type Delivery,
  type Outcome,
} from '../../nodes/PingstreamsTrigger/execution-emitter';
import type { RealtimeEvent } from '../../core';
import { retryDelaysMs } from '../e2e/n8n/soak';

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function delivery(id: string): Delivery {
  const event = { method: 'CREATE', topic: 't', data: { _id: id }, snapshot: false, recovered: false } as unknown;
  return { output: { id }, event: event as RealtimeEvent };
}

function fakeHost() {
  const emits: Array<{ items: INodeExecutionData[]; done?: Deferred<IRun>; key?: string }> = [];
  const logs: string[] = [];
  return {
    emits,
    logs,
    host: {
      clock: nodeClock,
      emit: (data: INodeExecutionData[][], _r?: undefined, done?: Deferred<IRun>, key?: string) =>
        emits.push({ items: data[0], done, key }),
      createDeferredPromise: deferred,
      logger: { warn: (m: string) => logs.push(`warn ${m}`), error: (m: string) => logs.push(`error ${m}`) },
    },
  };
}

/** An emitter whose saves the test does not look at. */
const quietEmitter = (host: ReturnType<typeof fakeHost>['host']) =>
  new ExecutionEmitter(host, { nodeName: 'T', keyPrefix: 'ps:w:n', token: 'x', onStateChange: () => undefined });

const ids = (items: INodeExecutionData[]) => items.map((i) => i.json.id);
const flush = () =>
  new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));

beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('one execution per call, one item per delivery; the state is saved before each emit; finished reported', async () => {
  const { host, emits } = fakeHost();
  const saves: number[] = [];
  const emitter = new ExecutionEmitter(host, {
    nodeName: 'T',
    keyPrefix: 'ps:w:n',
    token: 'x',
    onStateChange: () => saves.push(emits.length),
  });
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a'), delivery('b')], (o) => outcomes.push(o));
  emitter.emit([]); // nothing to start
  expect(emits.map((e) => ids(e.items))).toEqual([['a', 'b']]);
  expect(saves).toEqual([0]);
  emits[0].done!.resolve({} as IRun);
  await flush();
  expect(outcomes).toEqual(['finished']);
});

test('not started: kept as undelivered, emitted again after the backoff, which grows while it keeps failing and resets', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = new ExecutionEmitter(host, {
    nodeName: 'T',
    keyPrefix: 'ps:w:n',
    token: 'secret-token',
    onStateChange: () => undefined,
  });
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  emits[0].done!.reject(new Error('SQLITE_BUSY near secret-token'));
  await flush();
  expect(emitter.undelivered().map((e) => e.data._id)).toEqual(['a']);
  expect(logs.join('\n')).not.toContain('secret-token');
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0] - 1);
  expect(emits).toHaveLength(1);
  jest.advanceTimersByTime(1);
  expect(emits).toHaveLength(2);
  expect(emitter.undelivered()).toEqual([]);
  emits[1].done!.reject(new Error('busy'));
  await flush();
  jest.advanceTimersByTime(RETRY_DELAYS_MS[1] - 1);
  expect(emits).toHaveLength(2); // second failure in a row: the longer delay
  jest.advanceTimersByTime(1);
  expect(emits).toHaveLength(3);
  emits[2].done!.resolve({} as IRun);
  await flush();
  expect(outcomes).toEqual(['finished']); // once, when it finally ran
  emitter.emit([delivery('b')]);
  emits[3].done!.reject(new Error('busy'));
  await flush();
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0]); // success reset the backoff
  expect(emits).toHaveLength(5);
  emitter.close();
  // Each delay is logged: the n8n soaks' drain reads them from n8n's log to wait for the retries still to come.
  expect(retryDelaysMs(logs.join('\n'))).toEqual([RETRY_DELAYS_MS[0], RETRY_DELAYS_MS[1], RETRY_DELAYS_MS[0]]);
});

test('several executions not started share one retry timer and are emitted again in their order', async () => {
  const { host, emits } = fakeHost();
  const emitter = quietEmitter(host);
  for (const id of ['a', 'b', 'c']) emitter.emit([delivery(id)]);
  for (const e of emits) e.done!.reject(new Error('busy'));
  await flush();
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0]);
  expect(emits.slice(3).map((e) => ids(e.items))).toEqual([['a'], ['b'], ['c']]);
  emitter.close();
});

test('a run that was cancelled (by a user, a timeout, a shutdown) counts as finished, not emitted again', async () => {
  const { host, emits } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  class ExecutionCancelledError extends Error {}
  class TimeoutExecutionCancelledError extends ExecutionCancelledError {}
  emits[0].done!.reject(new TimeoutExecutionCancelledError('The execution was cancelled because it timed out'));
  await flush();
  jest.advanceTimersByTime(60_000);
  expect(emits).toHaveLength(1);
  expect(outcomes).toEqual(['finished']);
});

describe('n8n ended it inside its start, before any node ran (n8n 2.40 failExecution: a pre-execution check failed)', () => {
  // run() records the execution as failed and finalizes it without data before returning its id: the wait then
  // finds it gone (ExecutionNotFoundError), or, had the entry still been there, resolves with nothing.
  class ExecutionNotFoundError extends Error {}
  test.each([
    ['the wait finds it gone', (done: Deferred<IRun>) => done.reject(new ExecutionNotFoundError('No execution 7'))],
    ['the wait resolves with no run', (done: Deferred<IRun>) => done.resolve(undefined as unknown as IRun)],
  ])('%s: emitted again under a new key, until n8n runs it', async (_label, end) => {
    const { host, emits, logs } = fakeHost();
    const emitter = quietEmitter(host);
    const outcomes: Outcome[] = [];
    emitter.emit([delivery('a')], (o) => outcomes.push(o));
    end(emits[0].done!);
    await flush();
    expect(outcomes).toEqual([]);
    expect(emitter.undelivered().map((e) => e.data._id)).toEqual(['a']);
    expect(logs).toEqual([expect.stringContaining('n8n could not start the execution for 1 item(s)')]);
    jest.advanceTimersByTime(RETRY_DELAYS_MS[0]);
    expect(emits).toHaveLength(2);
    expect(emits[1].key).not.toBe(emits[0].key);
    emits[1].done!.resolve({ status: 'success', data: { resultData: { runData: { T: [] } } } } as unknown as IRun);
    await flush();
    expect(outcomes).toEqual(['finished']);
    expect(emitter.undelivered()).toEqual([]);
  });
});

test('the bound on waiting items drops the oldest with an error that says what to check', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = new ExecutionEmitter(host, {
    nodeName: 'T',
    keyPrefix: 'ps:w:n',
    token: 'x',
    onStateChange: () => undefined,
    maxItemsWaiting: 2,
  });
  const outcomes: string[] = [];
  for (const id of ['a', 'b', 'c']) emitter.emit([delivery(id)], (o) => outcomes.push(`${id} ${o}`));
  for (const e of emits) e.done!.reject(new Error('busy'));
  await flush();
  expect(emitter.waiting).toBe(2);
  expect(outcomes).toEqual(['a abandoned']);
  expect(logs.some((l) => l.startsWith('error') && l.includes('busy database'))).toBe(true);
  emitter.close();
});

test('n8n cannot report starts (Engine 2.0): emitted again once without the done promise, then always so', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  emits[0].done!.reject(new UserError('Engine 2.0 cannot wait'));
  await flush();
  expect(emits).toHaveLength(2);
  expect(emits[1].done).toBeUndefined();
  emitter.emit([delivery('b')], (o) => outcomes.push(o));
  expect(emits[2].done).toBeUndefined();
  expect(outcomes).toEqual(['unconfirmed', 'unconfirmed']);
  expect(logs.filter((l) => l.includes('cannot report'))).toHaveLength(1);
});

test('closed: nothing more is emitted, the retry timer is cleared, what waits stays undelivered and is abandoned', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: string[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(`a ${o}`));
  emitter.emit([delivery('b')], (o) => outcomes.push(`b ${o}`));
  emits[0].done!.reject(new Error('busy'));
  await flush();
  emitter.close();
  emits[1].done!.reject(new Error('busy')); // refused after the close
  await flush();
  expect(jest.getTimerCount()).toBe(0);
  emitter.emit([delivery('c')]);
  expect(emits).toHaveLength(2);
  expect(emitter.undelivered().map((e) => e.data._id)).toEqual(['a']);
  expect(outcomes.sort()).toEqual(['a abandoned', 'b abandoned']);
  expect(logs.some((l) => l.includes('before the trigger closed'))).toBe(true);
});

test('queue mode: a run whose worker stopped (n8n marks it failed, never runs it again) is emitted again', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  emits[0].done!.resolve(stalled);
  await flush();
  expect(outcomes).toEqual([]);
  expect(emitter.undelivered().map((e) => e.data._id)).toEqual(['a']);
  expect(logs.some((l) => l.includes('worker running it stopped'))).toBe(true);
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0]);
  expect(emits).toHaveLength(2);
  // A workflow that failed on its own is finished: not emitted again.
  emits[1].done!.resolve(failedInANode);
  await flush();
  expect(outcomes).toEqual(['finished']);
  jest.advanceTimersByTime(60_000);
  expect(emits).toHaveLength(2);
});

/** As n8n 2.40 finalizes a stalled job: status error, the MaxStalledCountError's message only. */
const stalled = {
  status: 'error',
  data: {
    resultData: {
      error: {
        message:
          'This execution failed to be processed too many times and will no longer retry. To allow this execution to complete, please break down your workflow or scale up your workers or adjust your worker settings.',
      },
    },
  },
} as unknown as IRun;

/** A workflow that ran and failed in a node, as a worker reports it (the last node executed, no data kept). */
const failedInANode = {
  status: 'error',
  data: { resultData: { error: { message: 'HTTP 500' }, runData: {}, lastNodeExecuted: 'Post' } },
} as unknown as IRun;

/** As n8n 2.40's main ends a job its worker failed before running it (processError): no node's data at all. */
const endedBeforeAnyNode = {
  status: 'error',
  finished: false,
  data: { resultData: { error: { message: 'LOADING Redis is loading the dataset in memory' }, runData: {} } },
} as unknown as IRun;

test("queue mode: a job that failed before any node ran (no data, not even the trigger node's) is emitted again", async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a'), delivery('b')], (o) => outcomes.push(o));
  emits[0].done!.resolve(endedBeforeAnyNode);
  await flush();
  expect(outcomes).toEqual([]);
  expect(emitter.undelivered().map((e) => e.data._id)).toEqual(['a', 'b']);
  expect(logs.some((l) => l.includes('n8n ended it before any node ran: LOADING Redis'))).toBe(true);
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0]);
  expect(emits).toHaveLength(2);
  expect(ids(emits[1].items)).toEqual(['a', 'b']);
  expect(emits[1].key).not.toBe(emits[0].key);
  // A run of the workflow that failed in a node, as a worker reports it, ran: finished, not emitted again.
  emits[1].done!.resolve(failedInANode);
  await flush();
  expect(outcomes).toEqual(['finished']);
  expect(emitter.undelivered()).toEqual([]);
  jest.advanceTimersByTime(60_000);
  expect(emits).toHaveLength(2);
});

test(`an execution whose worker keeps stopping is emitted again ${MAX_RERUNS} times, then dropped with an error`, async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  for (let run = 0; run <= MAX_RERUNS; run++) {
    expect(emits).toHaveLength(run + 1);
    emits[run].done!.resolve(stalled);
    await flush();
    jest.advanceTimersByTime(60_000);
  }
  expect(emits).toHaveLength(MAX_RERUNS + 1);
  expect(outcomes).toEqual(['finished']);
  expect(emitter.undelivered()).toEqual([]);
  expect(logs.filter((l) => l.startsWith('error'))).toEqual([
    expect.stringContaining(
      `dropped 1 item(s): the worker running it stopped before it finished, ${MAX_RERUNS + 1} times`,
    ),
  ]);
});

test('an execution that ends before any node ran is not bounded that way: nothing ran, it goes out until n8n runs it', async () => {
  const { host, emits, logs } = fakeHost();
  const emitter = quietEmitter(host);
  const outcomes: Outcome[] = [];
  emitter.emit([delivery('a')], (o) => outcomes.push(o));
  for (let run = 0; run < MAX_RERUNS + 3; run++) {
    emits[run].done!.resolve(endedBeforeAnyNode);
    await flush();
    jest.advanceTimersByTime(60_000);
  }
  expect(emits).toHaveLength(MAX_RERUNS + 4);
  expect(outcomes).toEqual([]);
  expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
});

test('each execution has its own deduplication key, and stays in flight (for the saved record) until n8n reports it', async () => {
  const { host, emits } = fakeHost();
  const inFlightAtSave: string[][] = [];
  const emitter: ExecutionEmitter = new ExecutionEmitter(host, {
    nodeName: 'T',
    keyPrefix: 'ps:w:n',
    token: 'x',
    onStateChange: () => inFlightAtSave.push(emitter.executionsInFlight().map((f) => f.key)),
  });
  emitter.emit([delivery('a')]);
  emitter.emit([delivery('b'), delivery('c')]);
  const [a, bc] = emits.map((e) => e.key!);
  expect(a).toMatch(/^ps:w:n:/);
  expect(new Set([a, bc]).size).toBe(2);
  // The record saved with an emit counts that execution in flight: a kill right after it leaves it to a restart.
  expect(inFlightAtSave).toEqual([[a], [a, bc]]);
  emits[0].done!.resolve({} as IRun);
  await flush();
  expect(emitter.executionsInFlight()).toEqual([{ key: bc, deliveries: [delivery('b'), delivery('c')] }]);
  emits[1].done!.resolve(undefined as unknown as IRun); // n8n skipped it: a duplicate of its key, it ran before
  await flush();
  expect(emitter.executionsInFlight()).toEqual([]);
  emitter.close();
});

test('after a restart: events that went out under one key go out under it again, once; a retry gets a new key', async () => {
  const { host, emits } = fakeHost();
  const emitter = quietEmitter(host);
  const restored = (id: string, dedupKey?: string): Delivery => ({ ...delivery(id), dedupKey });
  emitter.emit([restored('a', 'ps:w:n:old1'), restored('b', 'ps:w:n:old1')]);
  emitter.emit([restored('d', 'ps:w:n:old2'), restored('e')]); // mixed: a new key
  expect(emits[0].key).toBe('ps:w:n:old1');
  expect(emits[1].key).not.toBe('ps:w:n:old2');
  // Not started: emitted again under a new key (n8n refuses a key it has an execution for, even a failed one).
  emits[0].done!.reject(new Error('busy'));
  await flush();
  jest.advanceTimersByTime(RETRY_DELAYS_MS[0]);
  expect(ids(emits[2].items)).toEqual(['a', 'b']);
  expect(emits[2].key).not.toBe('ps:w:n:old1');
  emitter.close();
});

describe('after a restart, events of one key recovered apart wait for what n8n says of the first execution under it', () => {
  const restored = (id: string, dedupKey?: string): Delivery => ({ ...delivery(id), dedupKey });
  const setUp = () => {
    const fake = fakeHost();
    const emitter = quietEmitter(fake.host);
    const outcomes: Outcome[] = [];
    emitter.emit([restored('a', 'ps:w:n:old1'), restored('b', 'ps:w:n:old1')]);
    emitter.emit([restored('c', 'ps:w:n:old1')], (o) => outcomes.push(o)); // a later snapshot diff, a look-up
    return { ...fake, emitter, outcomes };
  };

  test('n8n skipped it (it ran before the restart): the rest ran with it, and is not emitted again', async () => {
    const { emits, emitter, outcomes } = setUp();
    expect(emits).toHaveLength(1); // c waits, still noted under the old key for the saved record
    expect(emitter.inFlightElements.toStored()).toMatchObject({ c: ['ps:w:n:old1', expect.any(String)] });
    emits[0].done!.resolve(undefined as unknown as IRun);
    await flush();
    expect(emits).toHaveLength(1);
    expect(outcomes).toEqual(['finished']);
    emitter.emit([restored('e', 'ps:w:n:old1')]); // later still: done with at once
    expect(emits).toHaveLength(1);
    expect(emitter.inFlightElements.toStored()).toEqual({});
    emitter.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  test('n8n ran it now (it never ran before): the rest goes out too, under a new key', async () => {
    const { emits, emitter, outcomes } = setUp();
    emits[0].done!.resolve({} as IRun);
    await flush();
    expect(emits.map((e) => ids(e.items))).toEqual([['a', 'b'], ['c']]);
    expect(emits[1].key).toMatch(/^ps:w:n:/);
    expect(emits[1].key).not.toBe('ps:w:n:old1');
    emits[1].done!.resolve({} as IRun);
    await flush();
    expect(outcomes).toEqual(['finished']);
    emitter.close();
  });

  test('no answer within VERDICT_WAIT_MS: n8n created it, so the rest goes out; closing gives up what waits', () => {
    const { emits, emitter, outcomes } = setUp();
    jest.advanceTimersByTime(VERDICT_WAIT_MS - 1);
    expect(emits).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(emits.map((e) => ids(e.items))).toEqual([['a', 'b'], ['c']]);
    emitter.emit([restored('f', 'ps:w:n:old2')]);
    emitter.emit([restored('g', 'ps:w:n:old2')], (o) => outcomes.push(o));
    emitter.close();
    expect(outcomes).toEqual(['abandoned']);
    expect(jest.getTimerCount()).toBe(0);
  });
});

test('a burst is counted in flight and saved once before any of it is handed over; the last end saves at once', async () => {
  const { host, emits } = fakeHost();
  const saves: Array<{ emitted: number; inFlight: number }> = [];
  const emitter: ExecutionEmitter = new ExecutionEmitter(host, {
    nodeName: 'T',
    keyPrefix: 'ps:w:n',
    token: 'x',
    onStateChange: () => saves.push({ emitted: emits.length, inFlight: emitter.executionsInFlight().length }),
  });
  emitter.emitAll([{ deliveries: [delivery('a')] }, { deliveries: [] }, { deliveries: [delivery('b')] }]);
  expect(emits.map((e) => ids(e.items))).toEqual([['a'], ['b']]);
  expect(saves).toEqual([{ emitted: 0, inFlight: 2 }]);
  emits[0].done!.resolve({} as IRun);
  emits[1].done!.resolve({} as IRun);
  await flush();
  // The first end leaves one in flight (its save waits a moment); the last one saves the record at once.
  expect(saves.at(-1)).toEqual({ emitted: 2, inFlight: 0 });
  emitter.close();
  expect(jest.getTimerCount()).toBe(0);
});
