// The n8n soaks' sink accounting (test/e2e/n8n/soak.ts): which posts count as deliveries.
import type { HttpSink, SinkRequest } from '../e2e/n8n/harness';
import { EmissionOrder, largestExecution } from '../e2e/n8n/soak';

const post = (execution: number, item: number, count: number, id: string): SinkRequest => ({
  path: '/events',
  headers: { 'x-execution': String(execution), 'x-item': String(item), 'x-count': String(count) },
  body: { receivedAt: '2026-12-06T08:00:00.000Z', data: { _id: id } },
});

test('an item its execution posted already is left out and counted: n8n ran that execution again', () => {
  const sink = { requests: [] as SinkRequest[] } as unknown as HttpSink;
  const delivered: string[] = [];
  const order = new EmissionOrder(
    sink,
    (r) => delivered.push(String((r.body.data as { _id: string })._id)),
    45_000,
    true,
  );
  sink.requests.push(post(1, 0, 2, 'a'), post(1, 1, 2, 'b'));
  order.pump();
  // The whole execution posted again after it was complete, then part of another one twice before it is.
  sink.requests.push(post(1, 0, 2, 'a'), post(1, 1, 2, 'b'), post(2, 0, 2, 'c'), post(2, 0, 2, 'c'));
  sink.requests.push(post(2, 1, 2, 'd'));
  order.pump();
  order.release(() => false);

  expect(delivered).toEqual(['a', 'b', 'c', 'd']);
  expect(order.repeatedPosts).toBe(3);
  expect(order.incompleteExecutions).toBe(0);
});

test('the largest execution counts each item once, however often n8n ran it', () => {
  // Stop 22's CI: an execution of 16 items run twice counted as 32, above the Batch Size of 20.
  const runTwice = [0, 1, 2, 0, 1, 2].map((item) => post(7, item, 3, `r${item}`));
  expect(largestExecution([...runTwice, post(8, 0, 2, 'x'), post(8, 1, 2, 'y')])).toBe(3);
  expect(largestExecution([])).toBe(0);
});
