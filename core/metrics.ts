// Live support metrics of one project, computed from its open-requests events and its agents' project-user
// records. Pure: no sockets, no timers, no host; time comes from an injectable clock. Each event costs O(1)
// (map and counter updates, amortised window pruning); a metrics() call costs O(queue + window samples),
// which a host calls every few seconds, not per event. See docs/metrics.md for every figure's definition.
import type { Element, RealtimeEvent } from './types';

/** Request status codes of the server (see PROTOCOL-NOTES). */
export const REQUEST_STATUS = {
  temporary: 50,
  unassigned: 100,
  abandoned: 150,
  assigned: 200,
  served: 300,
  closed: 1000,
} as const;

export interface MetricsOptions {
  /** Sliding window of the rates, waits and service level. Default 30 min. */
  windowMs?: number;
  /** Service-level threshold: a first response within this counts as answered in time. Default 60 s. */
  serviceLevelThresholdMs?: number;
  /** Waiting requests listed in the metrics object (oldest first); the queue length counts them all. Default 20. */
  maxWaitingListed?: number;
  /** Bounds on memory: open requests and agents kept, samples per window series. */
  maxRequests?: number;
  maxAgents?: number;
  maxWindowSamples?: number;
  /** The project's `max_agent_assigned_chat` setting, when known: an agent's capacity is the larger of it and their own. */
  projectMaxChats?: number;
  /**
   * Count in the window what happened before the engine started (waits and closes the first snapshot shows). Default
   * false: rates are over the time watched. True suits a one-shot reading (n8n's Get Live Metrics).
   */
  countBeforeStart?: boolean;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

export interface WaitingRequest {
  id: string;
  requestId?: string;
  department?: string;
  createdAt: string;
  waitSeconds: number;
}

export interface RequestFigures {
  /** Open requests known (every status below 1000). */
  open: number;
  byStatus: {
    temporary: number;
    unassigned: number;
    assigned: number;
    served: number;
    abandoned: number;
    other: number;
  };
  /** Unassigned requests (status 100). */
  queue: number;
  /** Now minus createdAt of the oldest unassigned request; null with an empty queue. */
  longestWaitSeconds: number | null;
  /** The oldest waiting requests, oldest first (at most maxWaitingListed). */
  waiting: WaitingRequest[];
}

export interface WindowFigures {
  /** Start of the window: now minus the window, or the engine's start when later. */
  from: string;
  minutes: number;
  arrivals: number;
  closed: number;
  abandoned: number;
  arrivalsPerHour: number;
  closedPerHour: number;
  abandonedPerHour: number;
  firstResponse: {
    count: number;
    avgSeconds: number | null;
    p50Seconds: number | null;
    p90Seconds: number | null;
    maxSeconds: number | null;
  };
  handleTime: { count: number; avgSeconds: number | null };
  serviceLevel: {
    thresholdSeconds: number;
    /** answeredWithin / (answered + waitingPastThreshold); null when both are zero. */
    value: number | null;
    answered: number;
    answeredWithin: number;
    waitingPastThreshold: number;
  };
}

export interface AgentFigures {
  /** Agents with a known project-user record. */
  known: number;
  /** user_available and not isBusy. */
  available: number;
  /** user_available and isBusy. */
  busy: number;
  /** user_available false. */
  unavailable: number;
  /** Requests assigned to agents on line (available or busy) whose capacity is known. */
  assigned: number;
  /** Sum of those agents' chat capacity. */
  capacity: number;
  /** assigned / capacity; null when no capacity is known. */
  occupancy: number | null;
}

/** One agent as a dashboard's table shows it. */
export interface AgentRow {
  userId: string;
  state: 'available' | 'busy' | 'unavailable';
  /** Requests assigned now (number_assigned_requests). */
  assigned: number;
  /** Chats at once; 0 when not known. */
  capacity: number;
}

export interface DepartmentMetrics {
  requests: RequestFigures;
  window: WindowFigures;
}

export interface LiveMetrics extends DepartmentMetrics {
  projectId: string;
  at: string;
  agents: AgentFigures;
  departments: Record<string, DepartmentMetrics>;
  /** Requests whose state is being confirmed after a reconnect (see LiveMetricsSession); 0 means exact as far as visible. */
  confirming: number;
  /** True when a bound was reached and figures may be incomplete. */
  truncated: boolean;
}

interface RequestState {
  status: number;
  department: string;
  createdAtMs: number;
  createdAt: string;
  requestId?: string;
  updatedAt: string;
  everAssigned: boolean;
  /** A first reply was seen (its wait is counted once). */
  responded: boolean;
}

interface AgentState {
  available: boolean;
  busy: boolean;
  assigned: number;
  capacity: number;
  updatedAt: string;
}

interface Sample {
  t: number;
  id: string;
  department: string;
  /** Seconds (a wait or a handle time); 0 for plain counts. */
  value: number;
}

interface Bucket {
  key: number;
  samples: Sample[];
}

/**
 * Samples of a sliding window in a ring of time buckets (at most 3 600 over the window): a sample lands in its
 * bucket in O(1) whatever its time, so a late one (a recovered change) costs no more than a live one; whole
 * buckets leave the window at once. An id counts once while its bucket is kept.
 */
class WindowSeries {
  private readonly buckets: Array<Bucket | undefined>;
  private readonly widthMs: number;
  private readonly ids = new Set<string>();
  private count = 0;
  truncated = false;

  constructor(
    private readonly max: number,
    windowMs: number,
  ) {
    this.widthMs = Math.max(1000, Math.ceil(windowMs / 3600));
    // Two spare buckets: the partial one at each end of the window.
    this.buckets = new Array<Bucket | undefined>(Math.ceil(windowMs / this.widthMs) + 2);
  }

  /** Adds a sample unless this id is already counted in the window. */
  add(sample: Sample): boolean {
    if (this.ids.has(sample.id)) return false;
    const key = Math.floor(sample.t / this.widthMs);
    const slot = ((key % this.buckets.length) + this.buckets.length) % this.buckets.length;
    let bucket = this.buckets[slot];
    if (bucket && bucket.key !== key) {
      if (bucket.key > key) return false; // older than anything the ring still covers: outside the window
      this.drop(slot); // a bucket a whole ring older: it left the window
      bucket = undefined;
    }
    if (!bucket) this.buckets[slot] = bucket = { key, samples: [] };
    bucket.samples.push(sample);
    this.ids.add(sample.id);
    this.count++;
    if (this.count > this.max) {
      this.truncated = true;
      this.dropOldestSample();
    }
    return true;
  }

  prune(from: number): void {
    const fromKey = Math.floor(from / this.widthMs);
    for (let slot = 0; slot < this.buckets.length; slot++)
      if (this.buckets[slot] && this.buckets[slot]!.key < fromKey) this.drop(slot);
  }

  /** Every sample at or after `from`, in no particular order. */
  forEachSince(from: number, fn: (sample: Sample) => void): void {
    for (const bucket of this.buckets)
      if (bucket) for (const sample of bucket.samples) if (sample.t >= from) fn(sample);
  }

  get size(): number {
    return this.count;
  }

  private drop(slot: number): void {
    const bucket = this.buckets[slot];
    if (!bucket) return;
    for (const sample of bucket.samples) this.ids.delete(sample.id);
    this.count -= bucket.samples.length;
    this.buckets[slot] = undefined;
  }

  /** Over the bound: the oldest bucket goes whole, so the scan for it is paid once per bucket, not per sample. */
  private dropOldestSample(): void {
    let oldest = -1;
    for (let slot = 0; slot < this.buckets.length; slot++) {
      const bucket = this.buckets[slot];
      if (bucket && (oldest < 0 || bucket.key < this.buckets[oldest]!.key)) oldest = slot;
    }
    this.drop(oldest);
  }
}

const NO_DEPARTMENT = '(none)';

/** What one metrics() pass gathers for the project or one department. */
interface Tally {
  waiting: WaitingRequest[];
  longestWaitMs: number | null;
  waitingPastThreshold: number;
  arrivals: number;
  closed: number;
  abandoned: number;
  waits: number[];
  handles: number[];
}

const emptyTally = (): Tally => ({
  waiting: [],
  longestWaitMs: null,
  waitingPastThreshold: 0,
  arrivals: 0,
  closed: 0,
  abandoned: 0,
  waits: [],
  handles: [],
});

function waitingEntry(id: string, state: RequestState, now: number): WaitingRequest {
  return {
    id,
    requestId: state.requestId,
    department: state.department,
    createdAt: state.createdAt,
    waitSeconds: round(Math.max(0, now - state.createdAtMs) / 1000, 3),
  };
}

export class MetricsEngine {
  readonly projectId: string;
  private readonly windowMs: number;
  private readonly thresholdMs: number;
  private readonly maxWaitingListed: number;
  private readonly maxRequests: number;
  private readonly maxAgents: number;
  private readonly projectMaxChats: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly countBeforeStart: boolean;
  private readonly requests = new Map<string, RequestState>();
  /** Unassigned requests, for the queue figures: id -> state (same object as in `requests`). */
  private readonly queue = new Map<string, RequestState>();
  /** department -> status -> count, kept per event so counts never need a scan. */
  private readonly counts = new Map<string, Map<number, number>>();
  private readonly agents = new Map<string, AgentState>();
  private readonly agentTotals = { available: 0, busy: 0, unavailable: 0, assigned: 0, capacity: 0 };
  private readonly arrivals: WindowSeries;
  private readonly closes: WindowSeries;
  private readonly abandons: WindowSeries;
  private readonly responses: WindowSeries;
  private readonly handles: WindowSeries;
  private truncated = false;
  /** Set by the live session while it confirms requests after a reconnect. */
  confirming = 0;

  constructor(projectId: string, options: MetricsOptions = {}) {
    this.projectId = projectId;
    this.windowMs = positive(options.windowMs, 30 * 60_000);
    this.thresholdMs = positive(options.serviceLevelThresholdMs, 60_000);
    this.maxWaitingListed = Math.max(0, options.maxWaitingListed ?? 20);
    this.maxRequests = positive(options.maxRequests, 50_000);
    this.maxAgents = positive(options.maxAgents, 5_000);
    this.projectMaxChats = Math.max(0, options.projectMaxChats ?? 0);
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.countBeforeStart = options.countBeforeStart === true;
    const maxSamples = positive(options.maxWindowSamples, 100_000);
    this.arrivals = new WindowSeries(maxSamples, this.windowMs);
    this.closes = new WindowSeries(maxSamples, this.windowMs);
    this.abandons = new WindowSeries(maxSamples, this.windowMs);
    this.responses = new WindowSeries(maxSamples, this.windowMs);
    this.handles = new WindowSeries(maxSamples, this.windowMs);
  }

  get openRequests(): number {
    return this.requests.size;
  }

  /** The open requests known, with their request_id and last updatedAt (for confirming them after a reconnect). */
  *knownRequests(): Iterable<{ id: string; requestId?: string; updatedAt: string }> {
    for (const [id, state] of this.requests) yield { id, requestId: state.requestId, updatedAt: state.updatedAt };
  }

  /** An event of `/P/requests` or `/P/requests/R` (snapshot, live or recovered). Returns false when ignored. */
  applyRequestEvent(event: Pick<RealtimeEvent, 'method' | 'data'>): boolean {
    const data = event.data;
    const id = idOf(data);
    if (id === undefined) return false;
    const known = this.requests.get(id);
    // A state older than the one known (a slow look-up racing a live event) must not roll the model back.
    const updatedAt = typeof data.updatedAt === 'string' ? data.updatedAt : '';
    if (known && updatedAt && known.updatedAt && updatedAt < known.updatedAt) return false;
    if (event.method === 'DELETE') {
      if (known) this.remove(id, known);
      return true;
    }
    const status = typeof data.status === 'number' ? data.status : known?.status;
    if (status === undefined) return false;
    const now = this.now();
    const department = departmentOf(data) ?? known?.department ?? NO_DEPARTMENT;
    // Parsed once per request: later events of a known request carry the same createdAt.
    const createdAtMs =
      known && (data.createdAt === undefined || data.createdAt === known.createdAt)
        ? known.createdAtMs
        : (timeOf(data.createdAt) ?? now);
    const windowFrom = this.windowFrom(now);
    // A server clock ahead of ours must not place a sample in the future (the window ring would wrap onto old ones).
    const past = (t: number) => Math.min(t, now);
    // An arrival counts at the first sighting (createdAt never changes); the series also dedupes by id.
    if (!known && createdAtMs >= windowFrom) this.arrivals.add({ t: past(createdAtMs), id, department, value: 0 });

    const wait = known?.responded ? undefined : firstResponseWait(data, createdAtMs);
    if (wait !== undefined) {
      const t = past(timeOf(data.first_response_at) ?? createdAtMs + wait);
      if (t >= windowFrom) this.responses.add({ t, id, department, value: wait / 1000 });
    }
    const everAssigned =
      Boolean(known?.everAssigned) ||
      status === REQUEST_STATUS.assigned ||
      status === REQUEST_STATUS.served ||
      (data.assigned_at !== undefined && data.assigned_at !== null) ||
      wait !== undefined;
    const previousStatus = known?.status;

    if (status === REQUEST_STATUS.abandoned && previousStatus !== REQUEST_STATUS.abandoned) {
      this.abandons.add({ t: now, id, department, value: 0 });
    }
    if (status >= REQUEST_STATUS.closed) {
      const closedAt = past(timeOf(data.closed_at) ?? now);
      if (closedAt >= windowFrom) {
        this.closes.add({ t: closedAt, id, department, value: 0 });
        // Left the queue without ever reaching an agent: abandoned, once.
        if (!everAssigned) this.abandons.add({ t: closedAt, id, department, value: 0 });
        const assignedAt = timeOf(data.assigned_at);
        if (assignedAt !== undefined && closedAt >= assignedAt)
          this.handles.add({ t: closedAt, id, department, value: (closedAt - assignedAt) / 1000 });
      }
      if (known) this.remove(id, known);
      return true;
    }

    if (known) {
      // Updated in place: counts move only when the status or the department changes.
      const moved = known.status !== status || known.department !== department;
      if (moved) this.count(known, -1);
      known.status = status;
      known.department = department;
      if (typeof data.request_id === 'string') known.requestId = data.request_id;
      if (updatedAt) known.updatedAt = updatedAt;
      known.everAssigned = everAssigned;
      known.responded ||= wait !== undefined;
      if (moved) this.count(known, +1);
      if (status === REQUEST_STATUS.unassigned) this.queue.set(id, known);
      else this.queue.delete(id);
      return true;
    }
    if (this.requests.size >= this.maxRequests) {
      this.truncated = true;
      return false;
    }
    const state: RequestState = {
      status,
      department,
      createdAtMs,
      createdAt: typeof data.createdAt === 'string' ? data.createdAt : new Date(createdAtMs).toISOString(),
      requestId: typeof data.request_id === 'string' ? data.request_id : undefined,
      updatedAt,
      everAssigned,
      responded: wait !== undefined,
    };
    this.requests.set(id, state);
    this.count(state, +1);
    if (status === REQUEST_STATUS.unassigned) this.queue.set(id, state);
    return true;
  }

  /** A project-user record (from `/P/project_users/users/U` or `/P/project_users/PU`). */
  applyAgentRecord(record: Element, method: RealtimeEvent['method'] = 'UPDATE'): boolean {
    const key = typeof record.id_user === 'string' ? record.id_user : idOf(record);
    if (key === undefined) return false;
    const known = this.agents.get(key);
    const updatedAt = typeof record.updatedAt === 'string' ? record.updatedAt : '';
    if (known && updatedAt && known.updatedAt && updatedAt < known.updatedAt) return false;
    if (known) this.addAgent(known, -1);
    if (method === 'DELETE') {
      this.agents.delete(key);
      return true;
    }
    if (!known && this.agents.size >= this.maxAgents) {
      this.truncated = true;
      return false;
    }
    const own =
      typeof record.max_assigned_chat === 'number' && record.max_assigned_chat > 0 ? record.max_assigned_chat : 0;
    const state: AgentState = {
      available: record.user_available === true,
      busy: record.isBusy === true,
      assigned:
        typeof record.number_assigned_requests === 'number' && record.number_assigned_requests > 0
          ? record.number_assigned_requests
          : 0,
      capacity: Math.max(own, this.projectMaxChats),
      updatedAt,
    };
    this.agents.set(key, state);
    this.addAgent(state, +1);
    return true;
  }

  /** Forgets an agent (no longer a member, or its topic was refused). */
  removeAgent(userId: string): void {
    const known = this.agents.get(userId);
    if (!known) return;
    this.addAgent(known, -1);
    this.agents.delete(userId);
  }

  /** The agents with a record: available, then busy, then unavailable, by user id within each; at most `limit`. */
  agentList(limit = 100): AgentRow[] {
    const order = { available: 0, busy: 1, unavailable: 2 } as const;
    const rows: AgentRow[] = [];
    for (const [userId, a] of this.agents)
      rows.push({
        userId,
        state: !a.available ? 'unavailable' : a.busy ? 'busy' : 'available',
        assigned: a.assigned,
        capacity: a.capacity,
      });
    return rows
      .sort((x, y) => order[x.state] - order[y.state] || x.userId.localeCompare(y.userId))
      .slice(0, Math.max(0, limit));
  }

  /** Arrivals (createdAt) from `fromMs` to now, within the window: a chart's recent arrivals. O(window samples). */
  arrivalsSince(fromMs: number): number {
    let n = 0;
    this.arrivals.forEachSince(Math.max(fromMs, this.windowFrom(this.now())), () => n++);
    return n;
  }

  metrics(): LiveMetrics {
    const now = this.now();
    const from = this.windowFrom(now);
    for (const series of [this.arrivals, this.closes, this.abandons, this.responses, this.handles]) series.prune(from);
    // One pass over the queue and each window series, tallied for the project and per department at once.
    const all = emptyTally();
    const byDepartment = new Map<string, Tally>();
    const tally = (department: string): Tally => {
      let t = byDepartment.get(department);
      if (!t) byDepartment.set(department, (t = emptyTally()));
      return t;
    };
    for (const department of this.counts.keys()) tally(department);
    const waiting = [...this.queue].sort(([a, x], [b, y]) => x.createdAtMs - y.createdAtMs || a.localeCompare(b));
    for (const [id, state] of waiting) {
      const past = now - state.createdAtMs > this.thresholdMs;
      for (const t of [all, tally(state.department)]) {
        if (t.waiting.length < this.maxWaitingListed) t.waiting.push(waitingEntry(id, state, now));
        if (t.longestWaitMs === null) t.longestWaitMs = Math.max(0, now - state.createdAtMs);
        if (past) t.waitingPastThreshold++;
      }
    }
    const walk = (series: WindowSeries, add: (t: Tally, s: Sample) => void) => {
      series.forEachSince(from, (s) => {
        add(all, s);
        add(tally(s.department), s);
      });
    };
    walk(this.arrivals, (t) => t.arrivals++);
    walk(this.closes, (t) => t.closed++);
    walk(this.abandons, (t) => t.abandoned++);
    walk(this.responses, (t, s) => t.waits.push(s.value));
    walk(this.handles, (t, s) => t.handles.push(s.value));
    const departments: Record<string, DepartmentMetrics> = {};
    for (const name of [...byDepartment.keys()].sort()) {
      const t = byDepartment.get(name)!;
      departments[name] = {
        requests: this.requestFigures(t, this.counts.get(name)),
        window: this.windowFigures(now, from, t),
      };
    }
    const agents = this.agentTotals;
    const onLine = agents.available + agents.busy;
    return {
      projectId: this.projectId,
      at: new Date(now).toISOString(),
      requests: this.requestFigures(all),
      window: this.windowFigures(now, from, all),
      agents: {
        known: this.agents.size,
        available: agents.available,
        busy: agents.busy,
        unavailable: agents.unavailable,
        assigned: agents.assigned,
        capacity: agents.capacity,
        occupancy: onLine > 0 && agents.capacity > 0 ? round(agents.assigned / agents.capacity, 4) : null,
      },
      departments,
      confirming: this.confirming,
      truncated:
        this.truncated ||
        [this.arrivals, this.closes, this.abandons, this.responses, this.handles].some((s) => s.truncated),
    };
  }

  private windowFrom(now: number): number {
    return this.countBeforeStart ? now - this.windowMs : Math.max(now - this.windowMs, this.startedAt);
  }

  /** Counts of one department (`counts`), or of all when omitted. */
  private requestFigures(t: Tally, counts?: Map<number, number>): RequestFigures {
    const byStatus = { temporary: 0, unassigned: 0, assigned: 0, served: 0, abandoned: 0, other: 0 };
    for (const c of counts ? [counts] : this.counts.values())
      for (const [status, n] of c) byStatus[statusName(status)] += n;
    return {
      open: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      queue: byStatus.unassigned,
      longestWaitSeconds: t.longestWaitMs === null ? null : round(t.longestWaitMs / 1000, 3),
      waiting: t.waiting,
    };
  }

  private windowFigures(now: number, from: number, t: Tally): WindowFigures {
    const hours = Math.max(now - from, 60_000) / 3_600_000; // at least a minute, so a fresh start gives no huge rate
    const waits = t.waits.sort((a, b) => a - b);
    const thresholdSeconds = this.thresholdMs / 1000;
    let answeredWithin = 0;
    for (const w of waits) if (w <= thresholdSeconds) answeredWithin++;
    const denominator = waits.length + t.waitingPastThreshold;
    return {
      from: new Date(from).toISOString(),
      minutes: round((now - from) / 60_000, 3),
      arrivals: t.arrivals,
      closed: t.closed,
      abandoned: t.abandoned,
      arrivalsPerHour: round(t.arrivals / hours, 3),
      closedPerHour: round(t.closed / hours, 3),
      abandonedPerHour: round(t.abandoned / hours, 3),
      firstResponse: {
        count: waits.length,
        avgSeconds: waits.length ? round(sum(waits) / waits.length, 3) : null,
        p50Seconds: percentile(waits, 0.5),
        p90Seconds: percentile(waits, 0.9),
        maxSeconds: waits.length ? round(waits[waits.length - 1], 3) : null,
      },
      handleTime: {
        count: t.handles.length,
        avgSeconds: t.handles.length ? round(sum(t.handles) / t.handles.length, 3) : null,
      },
      serviceLevel: {
        thresholdSeconds,
        value: denominator ? round(answeredWithin / denominator, 4) : null,
        answered: waits.length,
        answeredWithin,
        waitingPastThreshold: t.waitingPastThreshold,
      },
    };
  }

  private remove(id: string, state: RequestState): void {
    this.count(state, -1);
    this.requests.delete(id);
    this.queue.delete(id);
  }

  private count(state: RequestState, delta: number): void {
    let counts = this.counts.get(state.department);
    if (!counts) this.counts.set(state.department, (counts = new Map()));
    const n = (counts.get(state.status) ?? 0) + delta;
    if (n > 0) counts.set(state.status, n);
    else counts.delete(state.status);
    if (counts.size === 0) this.counts.delete(state.department);
  }

  private addAgent(state: AgentState, delta: number): void {
    const totals = this.agentTotals;
    if (!state.available) totals.unavailable += delta;
    else if (state.busy) totals.busy += delta;
    else totals.available += delta;
    if (state.available && state.capacity > 0) {
      totals.assigned += delta * state.assigned;
      totals.capacity += delta * state.capacity;
    }
  }
}

function statusName(status: number): keyof RequestFigures['byStatus'] {
  switch (status) {
    case REQUEST_STATUS.temporary:
      return 'temporary';
    case REQUEST_STATUS.unassigned:
      return 'unassigned';
    case REQUEST_STATUS.abandoned:
      return 'abandoned';
    case REQUEST_STATUS.assigned:
      return 'assigned';
    case REQUEST_STATUS.served:
      return 'served';
    default:
      return 'other';
  }
}

function idOf(element: Element): string | undefined {
  const id = element._id ?? element.id;
  return typeof id === 'string' && id ? id : undefined;
}

/** The department id: the server sends an id string, or a populated object with _id. */
export function departmentOf(data: Element): string | undefined {
  const d = data.department;
  if (typeof d === 'string' && d) return d;
  if (d && typeof d === 'object' && !Array.isArray(d)) {
    const id = (d as Element)._id ?? (d as Element).id;
    if (typeof id === 'string' && id) return id;
  }
  return undefined;
}

/** Milliseconds to the first agent reply: `waiting_time`, else first_response_at minus createdAt. */
export function firstResponseWait(data: Element, createdAtMs: number): number | undefined {
  if (typeof data.waiting_time === 'number' && Number.isFinite(data.waiting_time) && data.waiting_time >= 0)
    return data.waiting_time;
  const first = timeOf(data.first_response_at);
  return first !== undefined && first >= createdAtMs ? first - createdAtMs : undefined;
}

function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const t = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

/** Nearest-rank percentile of ascending values; null when empty. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return round(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)], 3);
}

function sum(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}
