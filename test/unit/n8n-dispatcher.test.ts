// The trigger's Dispatcher on its own: a fake start() that records each execution and finishes it when the test
// says, the fake clock for the batch wait, and counted pause()/resume() calls.
import { nodeClock } from '../../core/node-platform';
import type { RealtimeEvent } from '../../core';
import type { Delivery, Outcome } from '../../nodes/PingstreamsTrigger/execution-emitter';
import {
  Dispatcher,
  EndReports,
  OVERDUE_BOUND_FACTOR,
  dispatchOptions,
  executionsWithoutDispatch,
  orderKey,
  type DispatchOptions,
} from '../../nodes/PingstreamsTrigger/dispatcher';

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

/** A dispatcher of its own: `endReports` shares n8n's reports with other fakes (a trigger's in n8n are shared). */
function fake(options: Partial<DispatchOptions>, endReports = new EndReports()) {
  const started: Array<{ names: string[]; finish: (outcome?: Outcome) => void }> = [];
  const flow: string[] = [];
  const dispatcher = new Dispatcher(
    { orderBy: 'none', batchSize: 1, batchMs: 0, maxParallel: 0, maxHeld: 1000, overdueMs: 60_000, ...options },
    {
      clock: nodeClock,
      endReports,
      start: (batch, settled) =>
        started.push({
          names: batch.map(({ output }) => `${(output as { id: string }).id}${(output as { n: number }).n}`),
          finish: (outcome = 'finished') => settled(outcome),
        }),
      pause: () => flow.push('pause'),
      resume: () => flow.push('resume'),
      overdue: (items, waitedMs) => flow.push(`overdue ${items} after ${waitedMs} ms`),
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

// The Order Wait Limit rests on evidence: an execution is overdue once n8n reported the end of one handed over after
// it and the limit has passed since then; without such a report only after OVERDUE_BOUND_FACTOR limits.
test('a queue that is merely behind never frees a key: nothing handed later was reported, so every event waits', () => {
  const { dispatcher, started, names, flow } = fake({ orderBy: 'element', overdueMs: 5_000 });
  dispatcher.push([delivery('a', 0), delivery('a', 1), delivery('b', 0), delivery('b', 1)]);
  jest.advanceTimersByTime(1_000);
  dispatcher.push([delivery('c', 0), delivery('c', 1)]);
  // n8n's backlog: far past the limit, nothing reported at all (and a report of an earlier one proves nothing).
  jest.advanceTimersByTime(30_000);
  started[0].finish(); // a0, the first handed over
  jest.advanceTimersByTime(18_000);
  expect(flow).toEqual([]);
  expect(names().flat()).toEqual(['a0', 'b0', 'c0', 'a1']);
  started[1].finish(); // b0
  started[2].finish(); // c0
  expect(names().flat()).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1']);
  expect(jest.getTimerCount()).toBe(1); // one timer for all executions in flight
  dispatcher.close();
  expect(jest.getTimerCount()).toBe(0);
});

test('a report lost while later ones arrive: its element goes on the limit after the first later report, with a warning', () => {
  const { dispatcher, started, names, flow } = fake({ orderBy: 'element', overdueMs: 5_000 });
  dispatcher.push([delivery('a', 0), delivery('a', 1), delivery('b', 0), delivery('b', 1)]);
  jest.advanceTimersByTime(20_000); // behind: no evidence yet
  started[1].finish(); // b0, handed over after a0: n8n reports again, a0's report may be lost
  expect(names().flat()).toEqual(['a0', 'b0', 'b1']);
  jest.advanceTimersByTime(2_000);
  started[2].finish(); // b1: a later report does not restart a0's wait
  jest.advanceTimersByTime(2_999);
  expect(flow).toEqual([]);
  jest.advanceTimersByTime(1);
  expect(flow).toEqual(['overdue 1 after 25000 ms']);
  expect(names().flat()).toEqual(['a0', 'b0', 'b1', 'a1']);
  started[0].finish(); // reported late after all: counted once, nothing else changes
  expect(dispatcher.executionsInFlight).toBe(1);
  started[3].finish();
  expect(dispatcher.executionsInFlight).toBe(0);
  dispatcher.close();
  expect(jest.getTimerCount()).toBe(0);
});

test('a stream gone quiet: an unreported execution holds its key OVERDUE_BOUND_FACTOR limits at most', () => {
  const { dispatcher, started, names, flow } = fake({ orderBy: 'element', overdueMs: 5_000, maxParallel: 2 });
  dispatcher.push([delivery('a', 0), delivery('a', 1)]);
  jest.advanceTimersByTime(1_000);
  dispatcher.push([delivery('b', 0)]);
  // Neither a start n8n cannot report nor a batch given up is evidence against a0.
  started[1].finish('unconfirmed');
  jest.advanceTimersByTime(5_000 * OVERDUE_BOUND_FACTOR - 1_001);
  expect(flow).toEqual([]);
  expect(names().flat()).toEqual(['a0', 'b0']);
  jest.advanceTimersByTime(1);
  expect(flow).toEqual(['overdue 1 after 50000 ms']);
  expect(names().flat()).toEqual(['a0', 'b0', 'a1']);
  started[2].finish('abandoned');
  expect(jest.getTimerCount()).toBe(0); // nothing in flight: no timer
});

test("another trigger's reports count: a topic of one element is not held ten limits by an execution n8n never reports", () => {
  // Two CI runs: a worker killed just after it ran an agent's execution (n8n found it successful in its database and
  // never reported its end); no later execution of that agent's trigger could tell, and its later states waited.
  const shared = new EndReports();
  const agent = fake({ orderBy: 'element', overdueMs: 5_000 }, shared);
  const other = fake({ orderBy: 'element', overdueMs: 5_000 }, shared);
  other.dispatcher.push([delivery('early')]); // handed over before the agent's: its report proves nothing
  agent.dispatcher.push([delivery('agent', 0), delivery('agent', 1)]);
  other.started[0].finish();
  jest.advanceTimersByTime(10_000);
  expect(agent.names().flat()).toEqual(['agent0']);
  other.dispatcher.push([delivery('later')]);
  other.started[1].finish(); // handed over after agent0 and reported: the limit runs from here
  jest.advanceTimersByTime(4_999);
  expect(agent.flow).toEqual([]);
  jest.advanceTimersByTime(1);
  expect(agent.flow).toEqual(['overdue 1 after 15000 ms']);
  expect(agent.names().flat()).toEqual(['agent0', 'agent1']);
  expect(other.flow).toEqual([]);
  // A closed trigger hears nothing more: its timer is gone with it.
  agent.dispatcher.close();
  other.dispatcher.push([delivery('last')]);
  other.started[2].finish();
  expect(jest.getTimerCount()).toBe(0);
  // Without the shared reports (a trigger alone), the same execution holds its element ten limits.
  const alone = fake({ orderBy: 'element', overdueMs: 5_000 });
  alone.dispatcher.push([delivery('agent', 0), delivery('agent', 1)]);
  other.dispatcher.push([delivery('after')]);
  other.started[3].finish();
  jest.advanceTimersByTime(5_000 * OVERDUE_BOUND_FACTOR - 1);
  expect(alone.names().flat()).toEqual(['agent0']);
  jest.advanceTimersByTime(1);
  expect(alone.flow).toEqual(['overdue 1 after 50000 ms']);
  alone.dispatcher.close();
  other.dispatcher.close();
});

test('the limit frees a parallel slot too, and what is kept stays bounded behind an execution never reported', () => {
  const { dispatcher, started, names, flow } = fake({ maxParallel: 2, overdueMs: 5_000 });
  dispatcher.push([delivery('stuck')]);
  for (let i = 0; i < 2_000; i++) {
    dispatcher.push([delivery(`x${i}`)]);
    started[started.length - 1].finish(i % 2 ? 'finished' : 'unconfirmed');
  }
  const kept = dispatcher as unknown as { watch: { flights: Map<number, unknown>; unproven: []; overtaken: [] } };
  expect(kept.watch.flights.size).toBe(1);
  expect(kept.watch.unproven.length + kept.watch.overtaken.length).toBeLessThanOrEqual(40);
  dispatcher.push([delivery('y'), delivery('z')]);
  expect(names().flat().slice(-1)).toEqual(['y0']); // one slot is the stuck one's
  jest.advanceTimersByTime(5_000);
  expect(flow).toEqual(['overdue 1 after 5000 ms']);
  expect(names().flat().slice(-2)).toEqual(['y0', 'z0']);
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

describe('without dispatch options', () => {
  const flagged = (d: Delivery, flags: Partial<RealtimeEvent>, dedupKey?: string): Delivery => ({
    ...d,
    event: { ...d.event, ...flags },
    dedupKey,
  });
  const names = (executions: Delivery[][]) =>
    executions.map((e) => e.map((d) => `${String(d.event.data._id)}${d.dedupKey ? `@${d.dedupKey}` : ''}`));

  test('a live event is an execution of its own; recovered and snapshot events that arrive together share one', () => {
    const executions = executionsWithoutDispatch([
      flagged(delivery('s1'), { snapshot: true }),
      flagged(delivery('s2'), { snapshot: true }),
      delivery('live1'),
      flagged(delivery('r1'), { recovered: true }),
      flagged(delivery('r2'), { recovered: true }),
      delivery('live2'),
      delivery('live3'),
    ]);
    expect(names(executions)).toEqual([['s1', 's2'], ['live1'], ['r1', 'r2'], ['live2'], ['live3']]);
  });

  test('events that went out under one key before a restart go out together again, apart from the others', () => {
    const executions = executionsWithoutDispatch([
      flagged(delivery('a'), { recovered: true }, 'k1'),
      flagged(delivery('b'), { recovered: true }),
      flagged(delivery('c'), { recovered: true }, 'k2'),
      flagged(delivery('d'), { recovered: true }, 'k1'),
      delivery('live'),
    ]);
    expect(names(executions)).toEqual([['a@k1', 'd@k1'], ['c@k2'], ['b'], ['live']]);
  });

  test('nothing in, no execution out', () => {
    expect(executionsWithoutDispatch([])).toEqual([]);
  });
});
