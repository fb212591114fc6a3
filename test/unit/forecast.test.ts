import { erlangB, erlangC, forecastStaffing, type ForecastInput } from '../../core/forecast';

// The published worked example: 100 contacts per 30 min, 3 min handle time, 80% within 20 s, 85% max occupancy, 30% shrinkage.
const example: ForecastInput = {
  arrivalsPerHour: 200,
  ahtSeconds: 180,
  targetServiceLevel: 0.8,
  targetSeconds: 20,
  maxOccupancy: 0.85,
  shrinkage: 0.3,
};

describe('staffing forecast', () => {
  test('Erlang C reproduces the worked example', () => {
    const f = forecastStaffing(example);
    expect(f.model).toBe('erlang-c');
    expect(f.trafficErlangs).toBe(10);
    expect(f.required.agents).toBe(14);
    expect(f.required.scheduled).toBe(20);
    expect(f.required.figures).toEqual({
      agents: 14,
      overloaded: false,
      serviceLevel: 0.88835,
      probabilityOfWaiting: 0.1741319,
      averageSpeedOfAnswerSeconds: 7.836,
      occupancy: 0.7142857,
    });
  });

  test('Erlang A with 5 min patience and 14 agents reproduces the worked example', () => {
    const f = forecastStaffing({ ...example, patienceSeconds: 300, agents: 14 });
    expect(f.model).toBe('erlang-a');
    const a = f.erlangA!.now!;
    expect(a.agents).toBe(14);
    expect(a.probabilityOfWaiting).toBeCloseTo(0.14526, 5);
    expect(a.probabilityOfAbandoning).toBeCloseTo(0.013984, 6);
    expect(a.serviceLevel).toBeCloseTo(0.916792, 6);
    expect(a.occupancy).toBeCloseTo(0.704297, 6);
    expect(a.averageSpeedOfAnswerSeconds! / 60).toBeCloseTo(0.069919, 5);
    // Patience shortens the queue: Erlang A never asks for more agents than Erlang C.
    expect(f.erlangA!.required.agents!).toBeLessThanOrEqual(f.required.agents!);
  });

  test('with the agents available now: the service level they give and the shortfall', () => {
    const short = forecastStaffing({ ...example, agents: 11 });
    expect(short.now).toMatchObject({ agents: 11, overloaded: false, shortfall: 3 });
    expect(short.now!.serviceLevel).toBeLessThan(0.8);
    expect(short.summary).toMatch(
      /^14 agents on line \(20 scheduled\) meet 80% within 20 s; with 11 agents on line now the service level is [\d.]+%: 3 more needed\.$/,
    );
    const enough = forecastStaffing({ ...example, agents: 16 });
    expect(enough.now!.shortfall).toBe(0);
    expect(enough.summary).toMatch(/are enough/);
  });

  test('an overloaded queue says so, and the JSON holds no NaN or Infinity', () => {
    const f = forecastStaffing({ ...example, agents: 10 }); // load 10 Erlangs on 10 agents
    expect(f.now).toMatchObject({
      overloaded: true,
      serviceLevel: 0,
      probabilityOfWaiting: 1,
      averageSpeedOfAnswerSeconds: null,
      occupancy: 1,
      shortfall: 4,
    });
    expect(f.summary).toMatch(/overloaded/);
    const text = JSON.stringify(forecastStaffing({ ...example, agents: 0, patienceSeconds: 1 }));
    expect(text).not.toMatch(/NaN|Infinity/);
    const impossible = forecastStaffing({ ...example, maxAgents: 5, agents: 3 });
    expect(impossible.required).toEqual({ agents: null, scheduled: null, figures: null });
    expect(impossible.now!.shortfall).toBeNull();
    expect(impossible.summary).toMatch(/No staffing up to 5 agents/);
  });

  test('hundreds of agents and heavy abandonment: no overflow, figures stay in range and monotone', () => {
    const big = forecastStaffing({ ...example, arrivalsPerHour: 20_000, patienceSeconds: 60, agents: 900 });
    expect(big.required.agents).toBeGreaterThan(1000);
    expect(JSON.stringify(big)).not.toMatch(/NaN|Infinity/);
    const a = big.erlangA!.now!;
    expect(a.probabilityOfAbandoning).toBeGreaterThan(0);
    expect(a.probabilityOfAbandoning).toBeLessThan(1);
    // Far overloaded with little patience: most callers abandon, the agents are all busy.
    const flooded = forecastStaffing({ ...example, arrivalsPerHour: 200_000, patienceSeconds: 10, agents: 50 });
    expect(flooded.erlangA!.now!.probabilityOfAbandoning).toBeGreaterThan(0.9);
    expect(flooded.erlangA!.now!.occupancy).toBeGreaterThan(0.99);
    expect(JSON.stringify(flooded)).not.toMatch(/NaN|Infinity/);
    expect(erlangB(5000, 4900)).toBeGreaterThan(0);
    expect(erlangC(5000, 4900)).toBeLessThan(1);
    let last = 1;
    for (let n = 11; n < 30; n++) {
      const c = erlangC(n, 10);
      expect(c).toBeLessThan(last);
      last = c;
    }
  });

  test('chat concurrency: an agent carries several chats, so fewer agents are needed', () => {
    const one = forecastStaffing({ ...example, maxOccupancy: 1, shrinkage: 0 });
    const three = forecastStaffing({ ...example, maxOccupancy: 1, shrinkage: 0, chatsPerAgent: 3 });
    // Three chat slots per agent: 14 slots is 5 agents (15 slots).
    expect(three.required.agents).toBe(Math.ceil(one.required.agents! / 3));
    expect(three.required.figures!.serviceLevel).toBeGreaterThanOrEqual(0.8);
  });

  test('bad input is refused with a sentence naming the value', () => {
    expect(() => forecastStaffing({ ...example, ahtSeconds: 0 })).toThrow(
      "The forecast's average handle time is 0: it must be a number of seconds above 0.",
    );
    expect(() => forecastStaffing({ ...example, targetServiceLevel: 80 })).toThrow(
      /service-level target is 80: it must be a share between 0 and 1/,
    );
    expect(() => forecastStaffing({ ...example, arrivalsPerHour: Number.NaN })).toThrow(/arrival rate/);
    expect(() => forecastStaffing({ ...example, chatsPerAgent: 1.5 })).toThrow(/chats per agent/);
  });

  test('no arrivals: nobody waits', () => {
    const f = forecastStaffing({ ...example, arrivalsPerHour: 0, agents: 2, patienceSeconds: 60 });
    expect(f.required.agents).toBe(1);
    expect(f.now).toMatchObject({ serviceLevel: 1, probabilityOfWaiting: 0, averageSpeedOfAnswerSeconds: 0 });
    expect(f.erlangA!.now).toMatchObject({ serviceLevel: 1, probabilityOfAbandoning: 0 });
  });
});
