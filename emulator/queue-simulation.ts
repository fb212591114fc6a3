// A support queue a supervisor would recognise: Poisson arrivals, agents with availability and a chat capacity,
// oldest-first assignment to the least loaded agent, first responses, handle times and closing, abandonment after
// an exponential patience, and project-user updates as agents' load changes. Ground truth is read from the store.
import { Rng, STATUS, type ProjectUser, type User } from './model';
import type { Store } from './store';

export interface QueueSimulationOptions {
  /** Poisson arrival rate. */
  arrivalsPerMinute: number;
  /** Mean time from the first response to closing (exponential). Default 180 s. */
  ahtSeconds?: number;
  /** Mean time from assignment to the agent's first reply (exponential). Default 10 s. */
  firstResponseSeconds?: number;
  /** Mean patience of a waiting customer (exponential); unanswered past it, the request is abandoned. Default 120 s. */
  patienceSeconds?: number;
  /** Chats an agent takes at once (its max_assigned_chat). Default 2. */
  chatsPerAgent?: number;
  /** Simulated agents (created in the project besides the demo users). Default 4. */
  agents?: number;
  /** Agents going off line or back on line, per minute in all. Default 1. */
  availabilityChangesPerMinute?: number;
  /** Abandoned requests (status 150) are closed this long after. Default 2 000 ms. */
  abandonedCloseMs?: number;
  /** Start paused (resume through the admin API or resume()). Default false. */
  paused?: boolean;
  /** Simulation step. Default 100 ms. */
  tickMs?: number;
}

export interface QueueTruth {
  at: string;
  paused: boolean;
  open: number;
  byStatus: {
    temporary: number;
    unassigned: number;
    assigned: number;
    served: number;
    abandoned: number;
    other: number;
  };
  queue: number;
  longestWaitSeconds: number | null;
  /** Unassigned requests, oldest first (ids). */
  waiting: string[];
  agents: { known: number; available: number; busy: number; unavailable: number; assigned: number; capacity: number };
  /** User ids of the project's agents (active project users with role agent: the simulated ones and the seed's). */
  agentIds: string[];
  totals: { arrivals: number; assigned: number; firstResponses: number; abandoned: number; closed: number };
}

interface Agent {
  userId: string;
  projectUserId: string;
  capacity: number;
  chats: Set<string>;
}

interface Pending {
  at: number;
  requestId: string;
  action: 'abandon' | 'respond' | 'close';
}

export class QueueSimulation {
  private timer: NodeJS.Timeout | undefined;
  private pausedFlag: boolean;
  private readonly agents: Agent[] = [];
  /** Unassigned, oldest first. */
  private readonly waiting: string[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly assignedTo = new Map<string, Agent>();
  private nextArrival = 0;
  private nextToggle = 0;
  private pausedAt: number | undefined;
  readonly totals = { arrivals: 0, assigned: 0, firstResponses: 0, abandoned: 0, closed: 0 };
  private readonly o: Required<QueueSimulationOptions>;

  constructor(
    private readonly store: Store,
    private readonly projectId: string,
    options: QueueSimulationOptions,
    private readonly rng: Rng,
  ) {
    if (!(options.arrivalsPerMinute >= 0) || !Number.isFinite(options.arrivalsPerMinute))
      throw new Error('simulate.queue.arrivalsPerMinute must be a number, 0 or more.');
    this.o = {
      ahtSeconds: 180,
      firstResponseSeconds: 10,
      patienceSeconds: 120,
      chatsPerAgent: 2,
      agents: 4,
      availabilityChangesPerMinute: 1,
      abandonedCloseMs: 2_000,
      paused: false,
      tickMs: 100,
      ...options,
    };
    this.pausedFlag = this.o.paused;
    this.createAgents();
  }

  get paused(): boolean {
    return this.pausedFlag;
  }

  start(): void {
    if (this.timer) return;
    const now = Date.now();
    if (this.pausedFlag) this.pausedAt = now;
    this.nextArrival = now + this.exp(60_000 / Math.max(this.o.arrivalsPerMinute, 1e-9));
    this.nextToggle = now + this.exp(60_000 / Math.max(this.o.availabilityChangesPerMinute, 1e-9));
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Freezes the queue (no arrival, assignment, reply or close) so its state can be compared at leisure. */
  pause(): void {
    if (this.pausedFlag) return;
    this.pausedFlag = true;
    this.pausedAt = Date.now();
  }

  /** Resumes; time spent paused does not count (no burst of overdue arrivals or abandonments). */
  resume(): void {
    if (!this.pausedFlag) return;
    const shift = Date.now() - (this.pausedAt ?? Date.now());
    this.nextArrival += shift;
    this.nextToggle += shift;
    for (const p of this.pending.values()) p.at += shift;
    this.pausedFlag = false;
    this.pausedAt = undefined;
  }

  /** The state as the store holds it: what any correct client must report. */
  truth(now = Date.now()): QueueTruth {
    const byStatus = { temporary: 0, unassigned: 0, assigned: 0, served: 0, abandoned: 0, other: 0 };
    const names: Record<number, keyof typeof byStatus> = {
      50: 'temporary',
      100: 'unassigned',
      150: 'abandoned',
      200: 'assigned',
      300: 'served',
    };
    const waiting: Array<{ id: string; created: number }> = [];
    let open = 0;
    for (const r of this.store.requestsOf(this.projectId)) {
      if (r.status >= STATUS.CLOSED) continue;
      open++;
      byStatus[names[r.status] ?? 'other']++;
      if (r.status === STATUS.UNASSIGNED) waiting.push({ id: r._id, created: Date.parse(r.createdAt) });
    }
    waiting.sort((a, b) => a.created - b.created);
    const agents = { known: 0, available: 0, busy: 0, unavailable: 0, assigned: 0, capacity: 0 };
    const members = this.agentMembers();
    for (const pu of members) {
      agents.known++;
      if (!pu.user_available) agents.unavailable++;
      else if (pu.isBusy) agents.busy++;
      else agents.available++;
      if (pu.user_available) {
        agents.assigned += Number(pu.number_assigned_requests) || 0;
        agents.capacity += Number(pu.max_assigned_chat) || 0;
      }
    }
    return {
      at: new Date(now).toISOString(),
      paused: this.pausedFlag,
      open,
      byStatus,
      queue: byStatus.unassigned,
      longestWaitSeconds: waiting.length ? (now - waiting[0].created) / 1000 : null,
      waiting: waiting.map((w) => w.id),
      agents,
      agentIds: members.map((pu) => pu.id_user),
      totals: { ...this.totals },
    };
  }

  /** One step of the simulation up to now; exposed so tests can drive it. */
  tick(now = Date.now()): void {
    if (this.pausedFlag) return;
    try {
      while (this.nextArrival <= now) {
        this.arrive();
        this.nextArrival += this.exp(60_000 / Math.max(this.o.arrivalsPerMinute, 1e-9));
      }
      while (this.nextToggle <= now && this.agents.length) {
        this.toggleAvailability();
        this.nextToggle += this.exp(60_000 / Math.max(this.o.availabilityChangesPerMinute, 1e-9));
      }
      for (const p of [...this.pending.values()]) if (p.at <= now) this.run(p, now);
      this.assign(now);
    } catch {
      // A request removed through the admin API meanwhile: the simulation carries on with the others.
    }
  }

  private agentMembers(): ProjectUser[] {
    return this.store.projectUsersOf(this.projectId).filter((pu) => pu.role === 'agent' && pu.status === 'active');
  }

  private createAgents(): void {
    const now = this.store.stamp();
    for (let i = 0; i < this.o.agents; i++) {
      const userId = this.store.objectId();
      const projectUserId = this.store.objectId();
      const user: User = {
        _id: userId,
        id: userId,
        email: `sim-agent-${i + 1}@demo.pingstreams.test`,
        firstname: 'Agent',
        lastname: String(i + 1),
      };
      this.store.users.set(userId, user);
      const pu: ProjectUser = {
        _id: projectUserId,
        id: projectUserId,
        id_project: this.projectId,
        id_user: userId,
        role: 'agent',
        status: 'active',
        user_available: true,
        isBusy: false,
        number_assigned_requests: 0,
        max_assigned_chat: this.o.chatsPerAgent,
        createdAt: now,
        updatedAt: now,
      };
      this.store.projectUsers.set(projectUserId, pu);
      this.agents.push({ userId, projectUserId, capacity: this.o.chatsPerAgent, chats: new Set() });
    }
  }

  private arrive(): void {
    const r = this.store.createRequest(this.projectId, {
      status: STATUS.UNASSIGNED,
      first_text: 'Hello, I need some help.',
    });
    this.totals.arrivals++;
    this.waiting.push(r._id);
    this.pending.set(r._id, {
      at: Date.now() + this.exp(this.o.patienceSeconds * 1000),
      requestId: r._id,
      action: 'abandon',
    });
  }

  private assign(now: number): void {
    while (this.waiting.length) {
      const agent = this.leastLoadedAvailable();
      if (!agent) return;
      const id = this.waiting.shift()!;
      agent.chats.add(id);
      this.assignedTo.set(id, agent);
      this.store.updateRequest(this.projectId, id, { status: STATUS.ASSIGNED, participants: [agent.userId] });
      this.totals.assigned++;
      this.publishLoad(agent);
      this.pending.set(id, {
        at: now + this.exp(this.o.firstResponseSeconds * 1000),
        requestId: id,
        action: 'respond',
      });
    }
  }

  private run(p: Pending, now: number): void {
    const request = this.store.findRequest(this.projectId, p.requestId);
    if (!request || request.status >= STATUS.CLOSED) {
      this.forget(p.requestId);
      return;
    }
    if (p.action === 'abandon') {
      const index = this.waiting.indexOf(p.requestId);
      if (index >= 0) this.waiting.splice(index, 1);
      this.store.updateRequest(this.projectId, p.requestId, { status: STATUS.ABANDONED });
      this.totals.abandoned++;
      this.pending.set(p.requestId, { at: now + this.o.abandonedCloseMs, requestId: p.requestId, action: 'close' });
    } else if (p.action === 'respond') {
      const first = this.store.stamp();
      this.store.updateRequest(this.projectId, p.requestId, {
        first_response_at: first,
        waiting_time: Date.parse(first) - Date.parse(request.createdAt),
      });
      this.totals.firstResponses++;
      this.pending.set(p.requestId, {
        at: now + this.exp(this.o.ahtSeconds * 1000),
        requestId: p.requestId,
        action: 'close',
      });
    } else {
      this.store.closeRequest(this.projectId, p.requestId);
      this.totals.closed++;
      this.forget(p.requestId);
    }
  }

  private forget(id: string): void {
    this.pending.delete(id);
    const agent = this.assignedTo.get(id);
    this.assignedTo.delete(id);
    if (agent && agent.chats.delete(id)) this.publishLoad(agent);
  }

  private publishLoad(agent: Agent): void {
    this.store.updateProjectUser(this.projectId, agent.projectUserId, {
      number_assigned_requests: agent.chats.size,
      isBusy: agent.chats.size >= agent.capacity,
    });
  }

  private leastLoadedAvailable(): Agent | undefined {
    let best: Agent | undefined;
    for (const a of this.agents) {
      const pu = this.store.projectUsers.get(a.projectUserId);
      if (!pu?.user_available || a.chats.size >= a.capacity) continue;
      if (!best || a.chats.size < best.chats.size) best = a;
    }
    return best;
  }

  private toggleAvailability(): void {
    const agent = this.agents[Math.floor(this.rng.next() * this.agents.length)];
    const pu = this.store.projectUser(this.projectId, agent.projectUserId);
    this.store.updateProjectUser(this.projectId, agent.projectUserId, { user_available: !pu.user_available });
  }

  /** Exponential with the given mean (ms). */
  private exp(meanMs: number): number {
    return -Math.log(1 - this.rng.next()) * meanMs;
  }
}
