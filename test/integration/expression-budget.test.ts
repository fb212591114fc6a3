// Runaway JSONata over a real connection: each evaluation is stopped at its budget, the event is reported, the
// event loop keeps running (the server's heartbeats are answered, so it never cuts the client) and later events flow.
import { startEmulator, type Emulator } from '../../emulator';
import {
  acquireConnection,
  closeAllConnections,
  connectionStats,
  createEventPipeline,
  ExpressionBudgetError,
  type RealtimeEvent,
} from '../../core';
import { waitFor } from '../helpers/wait';

jest.setTimeout(60_000);

let emu: Emulator;
beforeAll(async () => {
  // A heartbeat every 250 ms: a client whose event loop stalls for two of them is cut off by the server.
  emu = await startEmulator({ heartbeatIntervalMs: 250 });
});
afterAll(async () => {
  await closeAllConnections();
  await emu.close();
});

/** The longest the event loop went without running a 10 ms interval, while `work` runs. */
async function worstLoopLag<T>(work: () => Promise<T>): Promise<{ result: T; lagMs: number }> {
  let last = Date.now();
  let lagMs = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    lagMs = Math.max(lagMs, now - last - 10);
    last = now;
  }, 10);
  try {
    return { result: await work(), lagMs };
  } finally {
    clearInterval(timer);
  }
}

const RUNAWAYS: Array<[label: string, expression: string, what: RegExp]> = [
  ['endless recursion', '($f := function($n){ $f($n + 1) }; $f(0))', /time budget of 300 ms/],
  ['deep recursion', '($f := function($n){ 1 + $f($n + 1) }; $f(0))', /depth budget of 200 levels/],
  [
    '$reduce calling back a million times',
    '$count([1..1000000]) > 0 and $reduce([1..1000000], function($a, $b){ $a + $b }) > 0',
    /time budget of 300 ms/,
  ],
  ['a catastrophic regular expression on server text', '$contains(first_text, /^(a+)+$/)', /time budget of 300 ms/],
];

test.each(RUNAWAYS)(
  '%s is stopped at its budget, reported with the expression, and later events flow',
  async (_label, expression, what) => {
    const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, lingerMs: 0 });
    try {
      const passed: RealtimeEvent[] = [];
      const errors: Array<{ error: Error; event: RealtimeEvent }> = [];
      // Only the event marked "runaway" runs the expression; the others pass at once.
      const pipeline = createEventPipeline(
        { when: `first_text = "next" ? true : (${expression})`, expressionBudget: { timeMs: 300, depth: 200 } },
        (_output, event) => passed.push(event),
        (error, event) => errors.push({ error, event }),
      );
      const subscription = handle.subscribe(`/${emu.projectId}/requests`, { onEvent: (e) => pipeline.push(e) });
      await subscription.ready;
      const before = connectionStats().connections[0].stats.connectsOpened;
      const { lagMs } = await worstLoopLag(async () => {
        emu.createRequest(emu.projectId, { first_text: `${'a'.repeat(40)}!` });
        emu.createRequest(emu.projectId, { first_text: 'next' });
        await waitFor(() => passed.some((e) => e.data.first_text === 'next'), 'the next event', 20_000);
      });
      expect(errors).toHaveLength(1);
      expect(errors[0].error).toBeInstanceOf(ExpressionBudgetError);
      expect(errors[0].error.message).toMatch(what);
      expect(errors[0].error.message).toContain(expression.slice(0, 40));
      expect(errors[0].event.data.first_text).toBe(`${'a'.repeat(40)}!`);
      expect(lagMs).toBeLessThan(200);
      // The server's heartbeats were answered throughout: it never cut the client.
      expect(connectionStats().connections[0].stats.connectsOpened).toBe(before);
    } finally {
      handle.release();
    }
  },
);

test('sane expressions are untouched by the defaults, regular expressions included', async () => {
  const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, lingerMs: 0 });
  try {
    const outputs: unknown[] = [];
    const errors: Error[] = [];
    const pipeline = createEventPipeline(
      {
        when: '$contains(first_text, /sane/i) and ($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(100)) > 0',
        output: { map: '{"words": $split(first_text, /\\s+/), "sum": $sum([1..100000])}' },
      },
      (output) => outputs.push(output),
      (error) => errors.push(error),
    );
    const subscription = handle.subscribe(`/${emu.projectId}/requests`, { onEvent: (e) => pipeline.push(e) });
    await subscription.ready;
    for (let i = 0; i < 20; i++) emu.createRequest(emu.projectId, { first_text: `a Sane request ${i}` });
    await waitFor(() => outputs.length >= 20, '20 outputs', 20_000);
    expect(errors).toEqual([]);
    expect(outputs[19]).toEqual({ words: ['a', 'Sane', 'request', '19'], sum: 5000050000 });
  } finally {
    handle.release();
  }
});
