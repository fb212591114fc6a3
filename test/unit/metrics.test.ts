import { MetricsEngine, type MetricsOptions } from '../../core/metrics';
import { MetricAlert, evaluateCondition } from '../../core/metric-alert';
import type { Element, Method } from '../../core';

const P = '5eb45fbc1f9e1f0012d62207';
const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const S = 1000;
const MIN = 60 * S;

/** An engine on a hand-driven clock, and helpers that build request records as the server shapes them. */
function setup(options: MetricsOptions = {}) {
  let now = T0;
  const engine = new MetricsEngine(P, { now: () => now, ...options });
  let stamp = 0;
  const send = (method: Method, data: Element) =>
    engine.applyRequestEvent({ method, data: { updatedAt: iso(now - T0 + stamp++), ...data } });
  return {
    engine,
    at: (ms: number) => (now = T0 + ms),
    send,
    request: (id: string, fields: Element) => ({
      _id: id,
      id,
      request_id: `support-group-${id}`,
      department: 'd1',
      ...fields,
    }),
  };
}

describe('metrics engine: open requests', () => {
  test('counts by status, the queue and the longest wait, oldest first, per department', () => {
    const { engine, at, send, request } = setup({ maxWaitingListed: 2 });
    send('CREATE', request('a', { status: 100, createdAt: iso(0) }));
    at(10 * S);
    send('CREATE', request('b', { status: 100, createdAt: iso(10 * S), department: { _id: 'd2', name: 'Sales' } }));
    send('CREATE', request('c', { status: 200, createdAt: iso(10 * S), assigned_at: iso(10 * S) }));
    send('CREATE', request('d', { status: 300, createdAt: iso(10 * S) }));
    send('CREATE', request('e', { status: 50, createdAt: iso(10 * S) }));
    send('CREATE', request('f', { status: 150, createdAt: iso(10 * S) }));
    send('CREATE', request('g', { status: 100, createdAt: iso(5 * S) }));
    at(70 * S);
    const m = engine.metrics();
    expect(m.requests.byStatus).toEqual({
      temporary: 1,
      unassigned: 3,
      assigned: 1,
      served: 1,
      abandoned: 1,
      other: 0,
    });
    expect(m.requests.open).toBe(7);
    expect(m.requests.queue).toBe(3);
    expect(m.requests.longestWaitSeconds).toBe(70);
    expect(m.requests.waiting.map((w) => [w.id, w.waitSeconds])).toEqual([
      ['a', 70],
      ['g', 65],
    ]);
    expect(m.departments.d2.requests.queue).toBe(1);
    expect(m.departments.d2.requests.longestWaitSeconds).toBe(60);
    expect(m.departments.d1.requests.queue).toBe(2);
    expect(m.departments.d1.requests.open).toBe(6);
  });

  test('a status change moves a request between counts; close and DELETE remove it; an older state is ignored', () => {
    const { engine, at, send, request } = setup();
    send('CREATE', request('a', { status: 100, createdAt: iso(0), updatedAt: iso(0) }));
    at(5 * S);
    send(
      'UPDATE',
      request('a', {
        status: 200,
        createdAt: iso(0),
        updatedAt: iso(5 * S),
        participants: ['u1'],
        assigned_at: iso(5 * S),
      }),
    );
    // A look-up answered late with the state from before the assignment must not bring the request back to the queue.
    send('UPDATE', request('a', { status: 100, createdAt: iso(0), updatedAt: iso(0) }));
    expect(engine.metrics().requests.byStatus).toMatchObject({ unassigned: 0, assigned: 1 });
    send('CREATE', request('b', { status: 100, createdAt: iso(5 * S) }));
    send('DELETE', request('b', {}));
    send(
      'UPDATE',
      request('a', {
        status: 1000,
        createdAt: iso(0),
        updatedAt: iso(9 * S),
        closed_at: iso(9 * S),
        assigned_at: iso(5 * S),
      }),
    );
    const m = engine.metrics();
    expect(m.requests.open).toBe(0);
    expect(m.requests.longestWaitSeconds).toBeNull();
    expect(engine.openRequests).toBe(0);
    expect(m.departments).toEqual(expect.objectContaining({ d1: expect.anything() }));
    expect(m.departments.d1.requests.open).toBe(0);
  });

  test('repeating an event (a snapshot after a reconnect) changes nothing', () => {
    const { engine, send, request } = setup();
    const a = request('a', { status: 100, createdAt: iso(0), updatedAt: iso(0) });
    send('CREATE', a);
    send('CREATE', a);
    send('UPDATE', a);
    const m = engine.metrics();
    expect(m.requests.queue).toBe(1);
    expect(m.window.arrivals).toBe(1);
  });
});

describe('metrics engine: sliding window', () => {
  test('arrivals, closed and abandoned per hour over the window, each request once', () => {
    const { engine, at, send, request } = setup({ windowMs: 30 * MIN });
    for (let i = 0; i < 6; i++) send('CREATE', request(`r${i}`, { status: 100, createdAt: iso(0) }));
    at(10 * MIN);
    // r0, r1 served and closed; r2 closed never assigned (abandoned); r3 marked abandoned (150) then closed.
    for (const id of ['r0', 'r1'])
      send('UPDATE', request(id, { status: 1000, createdAt: iso(0), assigned_at: iso(MIN), closed_at: iso(10 * MIN) }));
    send('UPDATE', request('r2', { status: 1000, createdAt: iso(0), closed_at: iso(10 * MIN) }));
    send('UPDATE', request('r3', { status: 150, createdAt: iso(0) }));
    send('UPDATE', request('r3', { status: 1000, createdAt: iso(0), closed_at: iso(10 * MIN) }));
    at(30 * MIN);
    let w = engine.metrics().window;
    expect([w.arrivals, w.closed, w.abandoned]).toEqual([6, 4, 2]);
    expect([w.arrivalsPerHour, w.closedPerHour, w.abandonedPerHour]).toEqual([12, 8, 4]);
    expect(w.minutes).toBe(30);
    expect(w.handleTime).toEqual({ count: 2, avgSeconds: 540 });
    // 35 min: the arrivals at 0 left the window; the closes at 10 min are still in it.
    at(35 * MIN);
    w = engine.metrics().window;
    expect([w.arrivals, w.closed, w.abandoned]).toEqual([0, 4, 2]);
    at(41 * MIN);
    w = engine.metrics().window;
    expect([w.arrivals, w.closed, w.abandoned, w.handleTime.count]).toEqual([0, 0, 0, 0]);
  });

  test('before a whole window has passed, rates are over the time since the engine started', () => {
    const { engine, at, send, request } = setup();
    at(6 * MIN);
    send('CREATE', request('a', { status: 100, createdAt: iso(6 * MIN) }));
    send('CREATE', request('b', { status: 100, createdAt: iso(-MIN) })); // older than the engine: not an arrival it saw
    at(12 * MIN);
    const w = engine.metrics().window;
    expect(w.arrivals).toBe(1);
    expect(w.arrivalsPerHour).toBe(5); // 1 in 12 minutes
    expect(w.from).toBe(iso(0));
  });

  test('first-response wait from waiting_time, else first_response_at minus createdAt: avg, p50, p90, max', () => {
    const { engine, at, send, request } = setup();
    const waits = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    at(5 * MIN);
    waits.forEach((w, i) => {
      const createdAt = iso(i * S);
      const fields = i % 2 ? { waiting_time: w * S } : { first_response_at: iso(i * S + w * S) };
      send('CREATE', request(`r${i}`, { status: 200, createdAt, ...fields }));
    });
    const f = engine.metrics().window.firstResponse;
    expect(f).toEqual({ count: 10, avgSeconds: 55, p50Seconds: 50, p90Seconds: 90, maxSeconds: 100 });
  });

  test('service level counts requests still waiting past the threshold as missed', () => {
    const { engine, at, send, request } = setup({ serviceLevelThresholdMs: 60 * S });
    send('CREATE', request('fast', { status: 200, createdAt: iso(0), waiting_time: 30 * S }));
    send('CREATE', request('edge', { status: 200, createdAt: iso(0), waiting_time: 60 * S }));
    send('CREATE', request('slow', { status: 200, createdAt: iso(0), waiting_time: 90 * S }));
    send('CREATE', request('late', { status: 100, createdAt: iso(0) }));
    at(50 * S);
    send('CREATE', request('early', { status: 100, createdAt: iso(50 * S) }));
    at(70 * S);
    let sl = engine.metrics().window.serviceLevel;
    expect(sl).toEqual({ thresholdSeconds: 60, value: 0.5, answered: 3, answeredWithin: 2, waitingPastThreshold: 1 });
    at(111 * S);
    sl = engine.metrics().window.serviceLevel;
    expect(sl.waitingPastThreshold).toBe(2);
    expect(sl.value).toBe(0.4);
  });

  test('an empty window gives null figures, never NaN', () => {
    const { engine } = setup();
    const m = engine.metrics();
    expect(m.window.firstResponse.avgSeconds).toBeNull();
    expect(m.window.serviceLevel.value).toBeNull();
    expect(m.agents.occupancy).toBeNull();
    expect(JSON.stringify(m)).not.toMatch(/NaN|Infinity|null,"p50Seconds":NaN/);
  });

  test('window samples are bounded: the oldest go first and the object says so', () => {
    const { engine, at, send, request } = setup({ maxWindowSamples: 3 });
    at(10 * S);
    for (let i = 0; i < 5; i++) send('CREATE', request(`r${i}`, { status: 100, createdAt: iso(i * S) }));
    const m = engine.metrics();
    expect(m.window.arrivals).toBe(3);
    expect(m.requests.queue).toBe(5);
    expect(m.truncated).toBe(true);
  });

  test('the open requests are bounded', () => {
    const { engine, send, request } = setup({ maxRequests: 2 });
    for (let i = 0; i < 3; i++) send('CREATE', request(`r${i}`, { status: 100, createdAt: iso(i) }));
    expect(engine.openRequests).toBe(2);
    expect(engine.metrics().truncated).toBe(true);
  });
});

describe('metrics engine: recent arrivals', () => {
  test('counts arrivals since a time, within the window, each once', () => {
    const { engine, at, send, request } = setup({ windowMs: 10 * MIN });
    at(5 * MIN);
    send('CREATE', request('r1', { status: 100, createdAt: iso(1 * MIN) }));
    send('CREATE', request('r2', { status: 100, createdAt: iso(4.5 * MIN) }));
    send('UPDATE', request('r2', { status: 200, createdAt: iso(4.5 * MIN) }));
    send('CREATE', request('r3', { status: 100, createdAt: iso(4.9 * MIN) }));
    // Before the engine started (T0) nothing counts: the window starts there.
    send('CREATE', request('r0', { status: 100, createdAt: iso(-1 * MIN) }));
    expect(engine.arrivalsSince(T0 + 4 * MIN)).toBe(2);
    expect(engine.arrivalsSince(T0 - 60 * MIN)).toBe(3);
    at(12 * MIN); // r1 left the 10-minute window
    expect(engine.arrivalsSince(T0 - 60 * MIN)).toBe(2);
  });
});

describe('metrics engine: agents', () => {
  const agent = (user: string, fields: Element) => ({ _id: `pu-${user}`, id_user: user, role: 'agent', ...fields });

  test('available, busy, unavailable and occupancy from project-user records', () => {
    const { engine } = setup();
    engine.applyAgentRecord(
      agent('u1', {
        user_available: true,
        isBusy: false,
        number_assigned_requests: 1,
        max_assigned_chat: 4,
        updatedAt: iso(0),
      }),
    );
    engine.applyAgentRecord(
      agent('u2', {
        user_available: true,
        isBusy: true,
        number_assigned_requests: 4,
        max_assigned_chat: 4,
        updatedAt: iso(0),
      }),
    );
    engine.applyAgentRecord(
      agent('u3', {
        user_available: false,
        isBusy: false,
        number_assigned_requests: 2,
        max_assigned_chat: 4,
        updatedAt: iso(0),
      }),
    );
    engine.applyAgentRecord(
      agent('u4', { user_available: true, isBusy: false, number_assigned_requests: 0, updatedAt: iso(0) }),
    ); // capacity unknown
    expect(engine.metrics().agents).toEqual({
      known: 4,
      available: 2,
      busy: 1,
      unavailable: 1,
      assigned: 5,
      capacity: 8,
      occupancy: 0.625,
    });
    // u2 goes off line; an older record of u1 is ignored.
    engine.applyAgentRecord(
      agent('u2', {
        user_available: false,
        isBusy: true,
        number_assigned_requests: 4,
        max_assigned_chat: 4,
        updatedAt: iso(S),
      }),
    );
    engine.applyAgentRecord(agent('u1', { user_available: false, updatedAt: iso(-S) }));
    expect(engine.metrics().agents).toEqual({
      known: 4,
      available: 2,
      busy: 0,
      unavailable: 2,
      assigned: 1,
      capacity: 4,
      occupancy: 0.25,
    });
    engine.removeAgent('u1');
    expect(engine.metrics().agents).toMatchObject({
      known: 3,
      available: 1,
      assigned: 0,
      capacity: 0,
      occupancy: null,
    });
  });

  test('the agents as table rows: available, then busy, then away, each with its load', () => {
    const { engine } = setup();
    engine.applyAgentRecord(agent('u3', { user_available: false, number_assigned_requests: 0, max_assigned_chat: 2 }));
    engine.applyAgentRecord(
      agent('u2', { user_available: true, isBusy: true, number_assigned_requests: 2, max_assigned_chat: 2 }),
    );
    engine.applyAgentRecord(agent('u1', { user_available: true, isBusy: false, number_assigned_requests: 1 }));
    expect(engine.agentList()).toEqual([
      { userId: 'u1', state: 'available', assigned: 1, capacity: 0 },
      { userId: 'u2', state: 'busy', assigned: 2, capacity: 2 },
      { userId: 'u3', state: 'unavailable', assigned: 0, capacity: 2 },
    ]);
    expect(engine.agentList(1).map((a) => a.userId)).toEqual(['u1']);
  });

  test("the project's chat limit is the capacity when larger than the agent's own", () => {
    const { engine } = setup({ projectMaxChats: 3 });
    engine.applyAgentRecord(agent('u1', { user_available: true, number_assigned_requests: 3, max_assigned_chat: 2 }));
    expect(engine.metrics().agents).toMatchObject({ capacity: 3, occupancy: 1 });
  });
});

describe('metric alert: hold, clear and cool-down', () => {
  test('fires once the condition held for the hold time, clears when it stops, and keeps quiet within the cool-down', () => {
    const alert = new MetricAlert(120 * S, 300 * S);
    expect(alert.update(true, 0)).toBeUndefined();
    expect(alert.update(true, 119 * S)).toBeUndefined();
    expect(alert.update(true, 120 * S)).toBe('fired');
    expect(alert.update(true, 130 * S)).toBeUndefined();
    // Clears within the cool-down: told when the cool-down ends, if still clear.
    expect(alert.update(false, 200 * S)).toBeUndefined();
    expect(alert.isFiring).toBe(true);
    expect(alert.update(false, 420 * S)).toBe('cleared');
    // Flapping: true for less than the hold time never fires.
    expect(alert.update(true, 800 * S)).toBeUndefined();
    expect(alert.update(false, 900 * S)).toBeUndefined();
    expect(alert.update(true, 901 * S)).toBeUndefined();
    expect(alert.update(true, 1021 * S)).toBe('fired');
  });

  test('a clear that turns true again within the cool-down is not notified at all', () => {
    const alert = new MetricAlert(0, 60 * S);
    expect(alert.update(true, 0)).toBe('fired');
    expect(alert.update(false, 10 * S)).toBeUndefined();
    expect(alert.update(true, 20 * S)).toBeUndefined();
    expect(alert.update(true, 70 * S)).toBeUndefined();
    expect(alert.isFiring).toBe(true);
  });

  test('conditions read the figures they name; an unknown service level does not hold', () => {
    const { engine, at, send, request } = setup();
    for (let i = 0; i < 6; i++) send('CREATE', request(`r${i}`, { status: 100, createdAt: iso(0) }));
    at(90 * S);
    const m = engine.metrics();
    expect(evaluateCondition('queueAbove', 5, m)).toEqual({ value: 6, holds: true });
    expect(evaluateCondition('queueAbove', 6, m).holds).toBe(false);
    expect(evaluateCondition('longestWaitAbove', 60, m)).toEqual({ value: 90, holds: true });
    expect(evaluateCondition('serviceLevelBelow', 80, m)).toEqual({ value: 0, holds: true }); // six waiting past 60 s, none answered
    expect(evaluateCondition('agentsAvailableBelow', 1, m)).toEqual({ value: 0, holds: true });
    expect(evaluateCondition('serviceLevelBelow', 80, setup().engine.metrics())).toEqual({ value: null, holds: false });
  });
});

describe('metrics engine: window ring', () => {
  test('a late sample (a recovered change) lands in its place; a server clock ahead does not wipe older samples', () => {
    const { engine, at, send, request } = setup({ windowMs: 30 * MIN });
    at(20 * MIN);
    for (let i = 0; i < 5; i++) send('CREATE', request(`old${i}`, { status: 100, createdAt: iso(MIN + i * S) }));
    // Closed "3 s from now" by a server whose clock runs ahead: counted as closed now.
    send(
      'UPDATE',
      request('old0', {
        status: 1000,
        createdAt: iso(MIN),
        closed_at: iso(20 * MIN + 3 * S),
        assigned_at: iso(2 * MIN),
      }),
    );
    // A first reply recovered late, timed 10 minutes ago.
    send('UPDATE', request('old1', { status: 200, createdAt: iso(MIN + S), first_response_at: iso(10 * MIN) }));
    const w = engine.metrics().window;
    expect([w.arrivals, w.closed, w.firstResponse.count]).toEqual([5, 1, 1]);
    expect(w.handleTime.avgSeconds).toBe(18 * 60);
    at(31 * MIN + 2 * S); // the window starts at 1 min 2 s: old0 and old1 arrived before it
    expect(engine.metrics().window.arrivals).toBe(3);
    at(40 * MIN + 1 * S); // the reply at 10 min has left too
    expect(engine.metrics().window.firstResponse.count).toBe(0);
    expect(engine.metrics().window.closed).toBe(1);
  });
});
