// The trigger's Dispatcher on its own: a fake start() that records each execution and finishes it when the test
// says, the fake clock for the batch wait, and counted pause()/resume() calls.
import { nodeClock } from '../../core/node-platform';
import type { RealtimeEvent } from '../../core';
import type { Delivery, Outcome } from '../../nodes/PingstreamsTrigger/execution-emitter';
import { Dispatcher, dispatchOptions, orderKey, type DispatchOptions } from '../../nodes/PingstreamsTrigger/dispatcher';

/** An event of element `id` (state `n`), of request `request`. */
function delivery(id: string, n = 0, request = `req-${id}`): Delivery {
  const event = {
    method: n === 0 ? 'CREATE' : 'UPDATE',
    topic: '/p/requests',
    data: { _id: id, request_id: request, n },
    snapshot: false,
    recovered: false,
  } as unknown as RealtimeEvent;
  return { output: { id, n }, event };
}

function fake(options: Partial<DispatchOptions>) {
  const started: Array<{ names: string[]; finish: (outcome?: Outcome) => void }> = [];
  const flow: string[] = [];
  const dispatcher = new Dispatcher(
    { orderBy: 'none', batchSize: 1, batchMs: 0, maxParallel: 0, maxHeld: 1000, overdueMs: 60_000, ...options },
    {
      clock: nodeClock,
      start: (batch, settled) =>
        started.push({
          names: batch.map(({ output }) => `${(output as { id: string }).id}${(output as { n: number }).n}`),
          finish: (outcome = 'finished') => settled(outcome),
        }),
      pause: () => flow.push('pause'),
      resume: () => flow.push('resume'),
      overdue: (items) => flow.push(`overdue ${items}`),
    },
  );
  return { dispatcher, started, flow, names: () => started.map((s) => s.names) };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('without order: every event starts at once, overlapping', () => {
  const { dispatcher, names } = fake({ maxParallel: 100 });
  dispatcher.push([delivery('a', 0), delivery('a', 1), delivery('b', 0)]);
  expect(names()).toEqual([['a0'], ['a1'], ['b0']]);
});

test('order per element: a later event of an element waits for the earlier execution; others run in parallel', () => {
  const { dispatcher, started, names } = fake({ orderBy: 'element' });
  dispatcher.push([delivery('a', 0), delivery('a', 1), delivery('b', 0), delivery('a', 2), delivery('b', 1)]);
  expect(names()).toEqual([['a0'], ['b0']]);
  expect(dispatcher.waiting()).toHaveLength(3);
  started[1].finish(); // b0
  expect(names()).toEqual([['a0'], ['b0'], ['b1']]);
  started[0].finish(); // a0
  expect(names().slice(3)).toEqual([['a1']]);
  started[3].finish();
  expect(names().slice(4)).toEqual([['a2']]);
  // Never two executions of one element at once, and each element's in order.
  expect(names().flat()).toEqual(['a0', 'b0', 'b1', 'a1', 'a2']);
});

test('an execution n8n could not start keeps its key: later events wait until it finally ran', () => {
  const { dispatcher, started, names } = fake({ orderBy: 'element' });
  dispatcher.push([delivery('a', 0), delivery('a', 1)]);
  // The ExecutionEmitter settles only once the execution ran (after its retries): until then a1 waits.
  dispatcher.push([delivery('a', 2)]);
  expect(names()).toEqual([['a0']]);
  started[0].finish();
  expect(names()).toEqual([['a0'], ['a1']]);
  started[1].finish('abandoned'); // given up (dropped at its bound): the key is free again
  expect(names()).toEqual([['a0'], ['a1'], ['a2']]);
});

test('order per request: the messages of one request wait for each other; a settle twice counts once', () => {
  const { dispatcher, started, names } = fake({ orderBy: 'request' });
  dispatcher.push([delivery('m1', 0, 'r1'), delivery('m2', 0, 'r1'), delivery('m3', 0, 'r2')]);
  expect(names()).toEqual([['m10'], ['m30']]);
  started[0].finish();
  started[0].finish();
  expect(names()).toEqual([['m10'], ['m30'], ['m20']]);
  expect(orderKey('request', delivery('x', 0, 'r9'))).toBe('r9');
  expect(orderKey('element', delivery('x', 0, 'r9'))).toBe('x');
  expect(orderKey('none', delivery('x'))).toBeUndefined();
});

test('batches: up to N events per execution; with order at most one event per element in a batch', () => {
  const { dispatcher, started, names } = fake({ orderBy: 'element', batchSize: 3 });
  dispatcher.push([delivery('a', 0), delivery('b', 0), delivery('a', 1), delivery('c', 0), delivery('d', 0)]);
  expect(names()).toEqual([['a0', 'b0', 'c0'], ['d0']]);
  started[0].finish();
  expect(names()[2]).toEqual(['a1']);
});

test('batch wait: a partial batch waits up to T ms for more, a full one starts at once', () => {
  const { dispatcher, names } = fake({ batchSize: 3, batchMs: 200 });
  dispatcher.push([delivery('a')]);
  jest.advanceTimersByTime(100);
  dispatcher.push([delivery('b')]);
  expect(names()).toEqual([]);
  jest.advanceTimersByTime(100); // T after the first event
  expect(names()).toEqual([['a0', 'b0']]);
  dispatcher.push([delivery('c'), delivery('d'), delivery('e'), delivery('f')]);
  expect(names().slice(1)).toEqual([['c0', 'd0', 'e0']]);
  jest.advanceTimersByTime(199);
  expect(names()).toHaveLength(2);
  jest.advanceTimersByTime(1);
  expect(names().slice(2)).toEqual([['f0']]);
  dispatcher.close();
  dispatcher.push([delivery('g')]);
  jest.advanceTimersByTime(1_000);
  expect(names()).toHaveLength(3);
  expect(jest.getTimerCount()).toBe(0);
});

test('a parallel limit holds later events in order; past the bound the subscription pauses, and resumes below half', () => {
  const { dispatcher, started, names, flow } = fake({ maxParallel: 2, maxHeld: 4 });
  dispatcher.push(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => delivery(id)));
  expect(names()).toEqual([['a0'], ['b0']]);
  expect(dispatcher.waiting()).toHaveLength(4);
  expect(flow).toEqual([]);
  dispatcher.push([delivery('g')]);
  expect(flow).toEqual(['pause']); // 5 held > 4: nothing is dropped, the socket is not read
  started[0].finish();
  started[1].finish();
  expect(flow).toEqual(['pause']); // 3 held: still above half the bound
  expect(names().flat()).toEqual(['a0', 'b0', 'c0', 'd0']);
  expect(dispatcher.waiting().map(({ output }) => (output as { id: string }).id)).toEqual(['e', 'f', 'g']);
  expect(dispatcher.executionsInFlight).toBe(2);
  started[2].finish();
  expect(flow).toEqual(['pause', 'resume']); // 2 held
  expect(names().flat()).toEqual(['a0', 'b0', 'c0', 'd0', 'e0']);
});

test('a settle during start (n8n cannot report starts) does not reorder or lose anything', () => {
  const order: string[] = [];
  const dispatcher = new Dispatcher(
    { orderBy: 'element', batchSize: 1, batchMs: 0, maxParallel: 1, maxHeld: 100, overdueMs: 60_000 },
    {
      clock: nodeClock,
      start: (batch, settled) => {
        order.push(String((batch[0].output as { id: string; n: number }).n));
        settled('unconfirmed');
      },
      pause: () => undefined,
      resume: () => undefined,
      overdue: () => undefined,
    },
  );
  dispatcher.push([0, 1, 2, 3].map((n) => delivery('a', n)));
  expect(order).toEqual(['0', '1', '2', '3']);
  expect(dispatcher.waiting()).toEqual([]);
});

test('an execution n8n never reports finished frees its element after the wait limit, with a warning; timers end on close', () => {
  const { dispatcher, started, names, flow } = fake({ orderBy: 'element', overdueMs: 5_000 });
  dispatcher.push([delivery('a', 0), delivery('a', 1), delivery('a', 2)]);
  expect(names()).toEqual([['a0']]);
  jest.advanceTimersByTime(4_999);
  expect(names()).toEqual([['a0']]);
  jest.advanceTimersByTime(1);
  expect(flow).toEqual(['overdue 1']);
  expect(names()).toEqual([['a0'], ['a1']]);
  started[0].finish(); // reported late: counted once, nothing else changes
  expect(dispatcher.executionsInFlight).toBe(1);
  started[1].finish();
  expect(names()).toEqual([['a0'], ['a1'], ['a2']]);
  dispatcher.close();
  expect(jest.getTimerCount()).toBe(0);
});

test('the options: off unless asked for, clamped to the bounds', () => {
  expect(dispatchOptions({})).toBeUndefined();
  expect(dispatchOptions({ orderBy: 'none', batchSize: 1 })).toBeUndefined();
  expect(dispatchOptions({ orderBy: 'element' })).toEqual({
    orderBy: 'element',
    batchSize: 1,
    batchMs: 0,
    maxParallel: 0,
    maxHeld: 5000,
    overdueMs: 300_000,
  });
  expect(dispatchOptions({ batchSize: 5000, batchWaitMs: -3, maxHeld: 1 })).toMatchObject({
    orderBy: 'none',
    batchSize: 1000,
    batchMs: 0,
    maxHeld: 10,
  });
});
