// The n8n trigger's resume record against a busy event loop: an event the trigger has received but not yet handed
// to its dispatcher (that happens a timer later) must count as not delivered in a record n8n saves meanwhile.
// The queue-mode soak lost a change this way across a main restart.
import type { IDataObject } from 'n8n-workflow';
import { closeAllConnections } from '../../core';
import { startEmulator, type Emulator } from '../../emulator';
import { waitFor } from '../helpers/wait';
import { runTrigger, type TriggerRun } from './n8n-fakes';

/** How late n8n's zero-delay timers run: a busy main (the clock is faked here, nothing else). */
const busy = { zeroDelayMs: 0 };
jest.mock('n8n-workflow', () => {
  const actual = jest.requireActual<typeof import('n8n-workflow')>('n8n-workflow');
  return {
    ...actual,
    sleep: (ms: number, signal?: AbortSignal) => actual.sleep(ms === 0 ? busy.zeroDelayMs : ms, signal),
  };
});

jest.setTimeout(60_000);

let emu: Emulator;
const runs: TriggerRun[] = [];

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  busy.zeroDelayMs = 0;
  await Promise.all(runs.splice(0).map((run) => run.close()));
  await closeAllConnections();
  await emu.close();
});

test('an event not yet handed to the dispatcher when n8n saves the record is emitted again after a restart', async () => {
  const params = {
    resource: 'requests',
    projectId: emu.projectId,
    events: ['CREATE', 'UPDATE'],
    options: { orderBy: 'element', batchSize: 10, batchWaitMs: 500 },
  };
  const credentials = { accessToken: emu.tokens.owner, endpoint: emu.url };
  const executionKeys = new Set<string>();
  const first = await runTrigger({ credentials, params, executionKeys });
  runs.push(first);
  busy.zeroDelayMs = 1_000;
  // A reaches the dispatcher 1 s after it arrives and is emitted 0.5 s later; B arrives in between and would reach
  // the dispatcher 1 s after it arrived: when A is emitted (and the record saved), B has not.
  const a = emu.createRequest(emu.projectId, { first_text: 'emitted' });
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const b = emu.createRequest(emu.projectId, { first_text: 'received, not yet handed over' });
  await waitFor(() => first.executions.length === 1, 'the execution of A', 10_000, 10);
  await first.close(); // n8n stops before B is handed over: the record saved with A's emit is all that is left
  busy.zeroDelayMs = 0;
  expect(first.items().map((item) => (item.data as IDataObject)._id)).toEqual([a._id]);
  await waitFor(() => emu.stats().clients === 0, 'n8n stopped', 15_000);

  const second = await runTrigger({ credentials, params, executionKeys, staticData: first.savedStaticData });
  runs.push(second);
  await waitFor(() => second.items().length >= 1, 'B, emitted again', 10_000);
  expect(second.items()).toEqual([
    expect.objectContaining({ method: 'CREATE', recovered: true, data: expect.objectContaining({ _id: b._id }) }),
  ]);
});
