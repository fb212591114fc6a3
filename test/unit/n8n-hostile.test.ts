// Every frame of the hostile corpus (test/fixtures/hostile) sent by the real emulator to an active
// Pingstreams Trigger in a faked n8n context: the host never crashes, nothing is polluted, a malformed frame
// becomes one short warning on n8n's logger (this.logger, prefixed "[Pingstreams] <node>:"), what n8n
// receives and stores (items, static data) stays plain JSON, and the next real change is still emitted.
import type { IDataObject } from 'n8n-workflow';
import { closeAllConnections } from '../../core';
import { startEmulator, type Emulator } from '../../emulator';
import { hasCleanPrototypes, loadHostileCorpus, prototypePollution, type HostileCase } from '../fixtures/hostile';
import { waitFor } from '../helpers/wait';
import { runTrigger, type TriggerRun } from './n8n-fakes';

// The 10,000-element frame is 10,000 executions, and n8n saves the static data (the trigger's record) at each emit:
// about 35 s on a quiet machine, over 100 s on a loaded one. The limits are for that case, not for speed.
const SENTINEL_WAIT_MS = 150_000;
jest.setTimeout(SENTINEL_WAIT_MS + 30_000);

const corpus = loadHostileCorpus();
let emu: Emulator;
let run: TriggerRun | undefined;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await closeAllConnections();
  await emu.close();
});
afterEach(async () => {
  await run?.close();
  run = undefined;
  await closeAllConnections();
});

const label = (c: HostileCase) => `${c.expect}: ${c.name}${c.generated ? ' (generated)' : ''}`;

test.each(corpus.map((c) => [label(c), c] as const))('%s', async (_label, hostile) => {
  const accepted = emu.stats().connectionsAccepted;
  run = await runTrigger({
    credentials: { accessToken: emu.tokens.owner, endpoint: emu.url },
    params: {
      resource: 'requests',
      projectId: emu.projectId,
      events: ['CREATE', 'UPDATE', 'DELETE'],
      // The condition stage the host runs (core/conditions), reading keys of every element.
      options: {
        combineConditions: 'any',
        conditions: {
          condition: [
            { field: 'hostile', operator: 'exists' },
            { field: 'first_text', operator: 'exists' },
          ],
        },
      },
    },
  });
  const current = run;
  expect(emu.faults.sendRaw(hostile.frame(`/${emu.projectId}/requests`))).toBe(1);
  const sentinel = emu.createRequest(emu.projectId, { first_text: 'sentinel after a hostile frame' });
  await waitFor(
    () => current.items().some((item) => (item.data as IDataObject)?._id === sentinel._id),
    'the sentinel emitted',
    SENTINEL_WAIT_MS,
  );

  const items = current.items();
  const ofCase = items.filter((item) => (item.data as IDataObject)?.hostile === hostile.name);
  const warnings = current.logs.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.message);
  const malformedWarning = warnings.some(
    (w) => w.startsWith('[Pingstreams] Pingstreams Trigger: ') && /malformed frame/.test(w),
  );

  switch (hostile.expect) {
    case 'malformed':
      expect(malformedWarning).toBe(true);
      expect(items).toHaveLength(1);
      break;
    case 'ignored':
      expect(items).toHaveLength(1);
      expect(malformedWarning).toBe(false);
      break;
    case 'delivered':
      expect(ofCase.length).toBeGreaterThanOrEqual(1);
      expect(items.length).toBe(ofCase.length + 1);
      break;
    case 'tolerated':
      expect(ofCase.length >= 1 || malformedWarning).toBe(true);
      break;
  }
  // The sentinel is the last execution, a normal live CREATE, one item; the frame cost no reconnect.
  const last = current.executions[current.executions.length - 1];
  expect(last).toHaveLength(1);
  expect(last[0].json).toMatchObject({
    method: 'CREATE',
    snapshot: false,
    recovered: false,
    data: { _id: sentinel._id },
  });
  expect(emu.stats().connectionsAccepted).toBe(accepted + 1);
  expect(current.errors).toEqual([]);
  expect(current.failedExecutions).toEqual([]);
  expect(current.earlyEmits).toBe(0);
  // n8n logs each line as is: short, never a 10 MB echo of the payload.
  for (const w of warnings) expect(w.length).toBeLessThan(1_000);

  expect(prototypePollution()).toEqual([]);
  for (const item of items) {
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(hasCleanPrototypes(item)).toBe(true);
    // n8n copies items between nodes and stores executions as JSON.
    expect(() => JSON.stringify(item)).not.toThrow();
  }
  // Static data is saved by n8n as JSON: it must survive the round trip with the same keys.
  const stored = current.staticData['node:Pingstreams Trigger'] as IDataObject;
  const resume = stored.resumeState as { topic: string; seen: Record<string, string> };
  expect(Object.getPrototypeOf(resume.seen)).toBe(Object.prototype);
  // What n8n writes back to its database is what the trigger keeps: a JSON round trip loses nothing.
  expect(JSON.parse(JSON.stringify(stored))).toEqual(stored);
  expect(
    Object.keys((JSON.parse(JSON.stringify(stored)) as { resumeState: { seen: object } }).resumeState.seen).sort(),
  ).toEqual(Object.keys(resume.seen).sort());
  expect(resume.seen[String(sentinel._id)]).toBeDefined();
});
