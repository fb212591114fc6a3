// The n8n soaks' sink accounting (test/e2e/n8n/soak.ts): which posts count as deliveries, and how long to wait for
// them.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpSink, SinkRequest } from '../e2e/n8n/harness';
import { EmissionOrder, LoggedRetries, largestExecution } from '../e2e/n8n/soak';

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

test("the drain sees the trigger's retries in n8n's log: whole lines only, across the main's restarts", () => {
  // Retries failing in a row keep the sink quiet up to 48 s, longer than the drain's 35 s: an event still to be
  // emitted again would count as lost. (The line's wording is checked by the emitter's test.)
  const dir = mkdtempSync(join(tmpdir(), 'pingstreams-retries-'));
  try {
    let log = join(dir, 'n8n-start-1.log');
    const retries = new LoggedRetries(() => log);
    const line = (seconds: number) => `warn [Pingstreams] T: n8n could not start …; emitting again in ${seconds} s.\n`;
    writeFileSync(log, `${line(1)}${line(2).slice(0, 30)}`);
    expect(retries.newDelaysMs()).toEqual([1_000]);
    appendFileSync(log, `${line(2).slice(30)}${line(5)}`);
    expect(retries.newDelaysMs()).toEqual([2_000, 5_000]);
    expect(retries.newDelaysMs()).toEqual([]);
    appendFileSync(log, line(10)); // written before the restart, read after it
    log = join(dir, 'n8n-start-2.log');
    writeFileSync(log, line(30));
    expect(retries.newDelaysMs()).toEqual([10_000, 30_000]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
