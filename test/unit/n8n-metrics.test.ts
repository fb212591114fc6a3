// The n8n nodes' live metrics: Forecast Staffing and Get Live Metrics (action), the Live Metrics resource of the
// trigger (condition with hold and cool-down, interval, manual test), in faked n8n contexts against the emulator.
import { closeAllConnections } from '../../core';
import { startEmulator, type Emulator } from '../../emulator';
import { sleep, waitFor } from '../helpers/wait';
import { runAction, runTrigger, type TriggerRun } from './n8n-fakes';

jest.setTimeout(60_000);

let emu: Emulator;
const runs: TriggerRun[] = [];

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.close()));
  await closeAllConnections();
  await emu.close();
});

const creds = () => ({ accessToken: emu.tokens.owner, endpoint: emu.url });
const queue = () => emu.getRequests(emu.projectId).filter((r) => r.status === 100);

async function activate(params: Record<string, unknown>, mode: 'trigger' | 'manual' = 'trigger') {
  const run = await runTrigger({
    credentials: creds(),
    mode,
    params: { resource: 'liveMetrics', projectId: emu.projectId, ...params },
  });
  runs.push(run);
  return run;
}

describe('Forecast Staffing', () => {
  test('the worked example from the parameters, without credentials', async () => {
    const { output } = await runAction({
      params: {
        operation: 'forecastStaffing',
        arrivals: 100,
        periodMinutes: 30,
        ahtSeconds: 180,
        targetPercent: 80,
        targetSeconds: 20,
        forecastOptions: { maxOccupancyPercent: 85, shrinkagePercent: 30, patienceSeconds: 300, agents: 14 },
      },
    });
    expect(output).toHaveLength(1);
    const f = output[0].json as Record<string, any>;
    expect(f.required).toMatchObject({
      agents: 14,
      scheduled: 20,
      figures: {
        serviceLevel: 0.88835,
        probabilityOfWaiting: 0.1741319,
        averageSpeedOfAnswerSeconds: 7.836,
        occupancy: 0.7142857,
      },
    });
    expect(f.erlangA.now.serviceLevel).toBeCloseTo(0.916792, 6);
    expect(output[0].pairedItem).toEqual({ item: 0 });
  });

  test('a bad value fails the item with the reason; continueOnFail turns it into an error item', async () => {
    const params = {
      operation: 'forecastStaffing',
      arrivals: 100,
      periodMinutes: 30,
      ahtSeconds: 0,
      targetPercent: 80,
      targetSeconds: 20,
    };
    await expect(runAction({ params })).rejects.toThrow(
      /average handle time is 0: it must be a number of seconds above 0/,
    );
    const { output } = await runAction({ params, continueOnFail: true });
    expect(output[0].json.error).toMatch(/average handle time/);
  });
});

describe('Get Live Metrics', () => {
  test('one item with the figures now, agents read from their records, and nothing left subscribed', async () => {
    emu.updateProjectUser(emu.projectId, emu.projectUsers.agent, {
      user_available: true,
      isBusy: false,
      max_assigned_chat: 3,
      number_assigned_requests: 1,
    });
    emu.updateProjectUser(emu.projectId, emu.projectUsers.agent2, { user_available: false });
    const { output } = await runAction({
      credentials: creds(),
      params: { operation: 'getLiveMetrics', projectId: emu.projectId },
    });
    expect(output).toHaveLength(1);
    const m = output[0].json as Record<string, any>;
    const open = emu.getRequests(emu.projectId).filter((r) => r.status < 1000);
    expect(m.requests).toMatchObject({ open: open.length, queue: queue().length });
    expect(m.requests.longestWaitSeconds).toBeGreaterThan(19 * 60);
    expect(m.agents).toMatchObject({ known: 2, available: 1, unavailable: 1, assigned: 1, capacity: 3 });
    await waitFor(() => emu.stats().subscriptions === 0, 'every topic unsubscribed');
  });

  test('an invalid project id fails before connecting', async () => {
    await expect(
      runAction({ credentials: creds(), params: { operation: 'getLiveMetrics', projectId: 'a/b' } }),
    ).rejects.toThrow(/not allowed in an id/);
    expect(emu.stats().connectionsAccepted).toBe(0);
  });
});

describe('Live Metrics trigger', () => {
  test('fires once when the queue crosses the bound and once when it clears', async () => {
    const run = await activate({
      emit: 'condition',
      condition: 'queueAbove',
      conditionValue: 2,
      holdSeconds: 0,
      coolDownSeconds: 0,
      checkSeconds: 1,
    });
    expect(queue()).toHaveLength(1);
    const added = [
      emu.createRequest(emu.projectId, { status: 100 }),
      emu.createRequest(emu.projectId, { status: 100 }),
    ];
    await waitFor(() => run.executions.length === 1, 'the alert to fire');
    expect(run.items()[0]).toMatchObject({ event: 'fired', condition: 'queue longer than 2', value: 3 });
    emu.createRequest(emu.projectId, { status: 100 }); // still above: no new execution
    await sleep(1500);
    expect(run.executions).toHaveLength(1);
    for (const r of [...added, queue()[0]]) emu.closeRequest(emu.projectId, r.request_id);
    await waitFor(() => run.executions.length === 2, 'the alert to clear');
    expect(run.items()[1]).toMatchObject({ event: 'cleared', value: queue().length });
    await sleep(1500);
    expect(run.executions).toHaveLength(2);
  });

  test('the cool-down holds back a quick clear, then sends it', async () => {
    const run = await activate({
      emit: 'condition',
      condition: 'queueAbove',
      conditionValue: 1,
      holdSeconds: 0,
      coolDownSeconds: 3,
      checkSeconds: 1,
    });
    const extra = emu.createRequest(emu.projectId, { status: 100 });
    await waitFor(() => run.executions.length === 1, 'the alert to fire');
    const firedAt = Date.now();
    emu.closeRequest(emu.projectId, extra.request_id);
    await waitFor(() => run.executions.length === 2, 'the clear after the cool-down', 10_000);
    expect(Date.now() - firedAt).toBeGreaterThanOrEqual(2500);
    expect(run.items().map((i) => i.event)).toEqual(['fired', 'cleared']);
  });

  test('every interval: the figures; manual test: the figures at once with what the condition says', async () => {
    const test = await activate({ emit: 'condition', condition: 'longestWaitAbove', conditionValue: 60 }, 'manual');
    await waitFor(() => test.executions.length === 1, 'the test item');
    expect(test.items()[0]).toMatchObject({ event: 'test', condition: 'longest wait over 60 s', holds: true });
    const run = await activate({ emit: 'interval', intervalSeconds: 5 });
    await waitFor(() => run.executions.length === 1, 'one interval', 8_000);
    expect((run.items()[0].metrics as Record<string, any>).requests.queue).toBe(queue().length);
  });
});
