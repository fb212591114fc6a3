// The emulator's queueing simulation driven step by step on its store (no sockets): arrivals, assignment to
// agents within their chat capacity, replies, closing, abandonment, and a pause that leaves no burst behind.
import { QueueSimulation } from '../../emulator/queue-simulation';
import { Store } from '../../emulator/store';
import { defaultSeed, DEMO_IDS } from '../../emulator';
import { seededRng } from '../../emulator/model';
import { sleep } from '../helpers/wait';

const P = DEMO_IDS.project;

function simulation(options: Partial<ConstructorParameters<typeof QueueSimulation>[2]> = {}) {
  const store = new Store(defaultSeed(), seededRng(7));
  const changes: string[] = [];
  store.onChange = (c) => changes.push(c.kind === 'project_user' ? 'agent' : `${c.kind} ${c.method}`);
  const sim = new QueueSimulation(
    store,
    P,
    {
      arrivalsPerMinute: 6000,
      agents: 2,
      chatsPerAgent: 2,
      availabilityChangesPerMinute: 0.0001,
      tickMs: 10_000,
      ...options,
    },
    seededRng(3),
  );
  return { store, sim, changes };
}

test('agents take requests up to their capacity; the rest wait; their load is published', () => {
  const { sim, changes } = simulation({ firstResponseSeconds: 3600, ahtSeconds: 3600, patienceSeconds: 3600 });
  sim.start();
  try {
    const t0 = Date.now();
    sim.tick(t0 + 100); // about 10 arrivals at 100 per second
    const truth = sim.truth();
    expect(truth.totals.arrivals).toBeGreaterThan(3);
    // Two agents with two chats each: four assigned, every other arrival waits.
    expect(truth.totals.assigned).toBe(4);
    expect(truth.agents).toMatchObject({ known: 4, busy: 2, assigned: 4 });
    expect(truth.queue).toBe(1 + truth.totals.arrivals - 4); // the seed's waiting request and the new ones
    expect(truth.waiting).toHaveLength(truth.queue);
    expect(changes.filter((c) => c === 'agent')).toHaveLength(4);
  } finally {
    sim.stop();
  }
});

test('replies and closes as time passes', () => {
  const { sim, store } = simulation({
    arrivalsPerMinute: 600,
    firstResponseSeconds: 0.001,
    ahtSeconds: 0.001,
    patienceSeconds: 3600,
  });
  sim.start();
  try {
    const t0 = Date.now();
    for (let i = 1; i <= 30; i++) sim.tick(t0 + i * 100);
    const { totals } = sim.truth();
    expect(totals.firstResponses).toBeGreaterThan(0);
    expect(totals.closed).toBeGreaterThan(0);
    const replied = store.requestsOf(P).find((r) => typeof r.waiting_time === 'number');
    expect(Date.parse(String(replied?.first_response_at)) - Date.parse(String(replied?.createdAt))).toBe(
      replied?.waiting_time,
    );
  } finally {
    sim.stop();
  }
});

test('with no agent, a waiting request is abandoned (150) after its patience, then closed', () => {
  const { sim, store } = simulation({
    agents: 0,
    arrivalsPerMinute: 600,
    patienceSeconds: 0.001,
    abandonedCloseMs: 500,
  });
  // The seed's two agents would take the requests: make them unavailable.
  for (const pu of store.projectUsersOf(P)) pu.user_available = false;
  sim.start();
  try {
    const t0 = Date.now();
    sim.tick(t0 + 300);
    const truth = sim.truth();
    expect(truth.totals.abandoned).toBeGreaterThan(0);
    expect(truth.byStatus.abandoned).toBe(truth.totals.abandoned);
    expect(truth.totals.closed).toBe(0);
    sim.tick(t0 + 2000);
    expect(sim.truth().totals.closed).toBe(truth.totals.abandoned);
  } finally {
    sim.stop();
  }
});

test('a pause freezes the queue, and resuming brings no burst of overdue arrivals', async () => {
  const { sim } = simulation({ paused: true });
  sim.start();
  try {
    await sleep(300);
    sim.tick();
    expect(sim.truth().totals.arrivals).toBe(0);
    sim.resume();
    sim.tick();
    expect(sim.truth().totals.arrivals).toBeLessThan(5); // 300 ms paused at 100 per second would be about 30
    await sleep(200);
    sim.tick();
    expect(sim.truth().totals.arrivals).toBeGreaterThan(5);
    sim.pause();
    const frozen = sim.truth().totals;
    await sleep(100);
    sim.tick();
    expect(sim.truth().totals).toEqual(frozen);
  } finally {
    sim.stop();
  }
});
