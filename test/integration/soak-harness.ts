// Chaos soak harness: a change generator with a ground-truth ledger, a fault injector, and an exact
// accounting of what a consumer observed. The consumer is pluggable: the core today, the n8n trigger or
// a Node-RED flow later (they map their own output to ObservedEvent).
//
// What "exactly once" means here (the server only sends snapshots after a reconnect, so a client can only
// observe the state an element has when it resubscribes; intermediate states changed while it was away
// are not observable by any client):
//   for every (topic, element id), with truth = the ordered states the emulator published on that topic
//   (keyed by updatedAt, or "DELETE"), and obs = what the consumer emitted:
//   - phantom:    an observed state that never existed on that topic                         must be 0
//   - duplicate:  a state observed twice                                                      must be 0
//   - regression: a state observed after a later one (order)                                 must be 0
//   - unexplained gap: states skipped by an event that is neither recovered nor a snapshot      must be 0
//                 (skipping is only legitimate when recovering from a snapshot)
//   - lost:       the final state was not observed although it is observable: it is in what
//                 the topic shows on subscribe (an open request, a message, an agent, a single
//                 request whatever its status) or the consumer knew an earlier state of the
//                 element (then it must learn its end: closed or deleted)                      must be 0
//   - wrong method: CREATE for an element already observed, or a non-CREATE first sighting     must be 0
//   Elements created and closed/deleted entirely while disconnected are invisible to every client of the
//   open-requests topic; they are counted as `unobservable`, not lost.
import { defaultSeed, DEMO_IDS, startEmulator, type Emulator } from '../../emulator';
import type { SeedData } from '../../emulator';
import { acquireConnection, closeAllConnections, type ConnectionHandle, type ConnectionOptions } from '../../core';
import { sleep, waitFor } from '../helpers/wait';

export type Method = 'CREATE' | 'UPDATE' | 'DELETE';

/** One emitted event, reduced to what the accounting needs. */
export interface ObservedEvent {
  topic: string;
  method: Method;
  id: string;
  /** updatedAt of the element, or '' when absent. */
  updatedAt: string;
  recovered: boolean;
  snapshot: boolean;
}

export interface ConsumerContext {
  endpoint: string;
  token: string;
  topics: string[];
  maxConnectsPerMinute: number;
  onEvent(event: ObservedEvent): void;
  /** Client-side record of each new connection attempt (ms epoch), when the consumer can tell. */
  onConnectAttempt?(at: number): void;
}

/** Whatever turns a Pingstreams stream into events: the core, an n8n trigger, a Node-RED flow. */
export interface SoakConsumer {
  readonly name: string;
  /** Subscribes every topic; resolves when every initial snapshot was emitted. */
  start(context: ConsumerContext): Promise<void>;
  stop(): Promise<void>;
  /** Optional: resolves once events still in flight inside the host (e.g. queued n8n executions) have been reported. */
  drain?(): Promise<void>;
  /** Malformed-frame, probe-limit and other warnings seen so far. */
  warnings(): string[];
}

export interface SoakOptions {
  consumer: SoakConsumer;
  /** Store changes to generate (default 20 000). */
  events: number;
  /** Effective faults to inject (default 50). */
  faults: number;
  /** Changes per second (default 250). */
  ratePerSecond?: number;
  maxConnectsPerMinute?: number;
  projects?: number;
  log?: (line: string) => void;
  /**
   * Faults of the host (e.g. an n8n worker killed, Redis restarted): every `hostFaultEvery`th fault (default 3) is
   * one of them, in turn. Each resolves true when it took effect.
   */
  hostFaults?: Array<{ kind: string; run: () => Promise<boolean> }>;
  hostFaultEvery?: number;
}

export interface SoakReport {
  consumer: string;
  changes: number;
  byKind: Record<string, number>;
  faults: Record<string, number>;
  faultsTotal: number;
  durationMs: number;
  topics: number;
  observed: number;
  delivered: { live: number; recovered: number; snapshot: number };
  accounting: Accounting;
  connects: {
    budget: number;
    serverAttempts: number;
    clientAttempts: number;
    maxServerPerRollingMinute: number;
    maxClientPerRollingMinute: number;
    /** When the server saw each attempt (ms epoch), for checks with another window. */
    serverTimes: number[];
  };
  memory: { rssBeforeMb: number; rssAfterMb: number; heapBeforeMb: number; heapAfterMb: number };
  warnings: number;
}

const CLOSED = 1000;
const OPEN_STATUSES = [100, 200, 300];
/** Stay below the server's snapshot limits (100 open requests, 300 messages): beyond them absence proves nothing. */
const MAX_OPEN_PER_PROJECT = 70;
const MIN_OPEN_PER_PROJECT = 30;
const MAX_MESSAGES_PER_TOPIC = 280;
const REQUEST_TOPICS_PER_PROJECT = 4;
const MESSAGE_TOPICS_PER_PROJECT = 6;

/** Deterministic randomness so a failing run can be replayed (SOAK_SEED). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex24 = (prefix: string, n: number): string => `${prefix}${n.toString(16).padStart(24 - prefix.length, '0')}`;

/** The demo project plus extra projects owned by the demo owner, each with open requests and messages. */
export function soakSeed(projects: number, openPerProject = 40): SeedData {
  const base = defaultSeed();
  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  const seed: Required<SeedData> = {
    projects: [...(base.projects ?? [])],
    users: [...(base.users ?? [])],
    project_users: [...(base.project_users ?? [])],
    requests: [...(base.requests ?? [])],
    messages: [...(base.messages ?? [])],
  };
  const projectIds: string[] = [DEMO_IDS.project];
  for (let p = 1; p < projects; p++) {
    const pid = hex24('a0', p);
    projectIds.push(pid);
    seed.projects.push({ _id: pid, name: `Soak project ${p}` });
    seed.project_users.push(
      {
        _id: hex24('b0', p * 10 + 1),
        id_project: pid,
        id_user: DEMO_IDS.users.owner,
        role: 'owner',
        updatedAt: at(60),
      },
      {
        _id: hex24('b0', p * 10 + 2),
        id_project: pid,
        id_user: DEMO_IDS.users.agent,
        role: 'agent',
        updatedAt: at(60),
      },
    );
  }
  projectIds.forEach((pid, p) => {
    for (let i = 0; i < openPerProject; i++) {
      const _id = hex24('c0', p * 1000 + i);
      const request_id = `support-group-soak-${p}-${i}`;
      seed.requests.push({
        _id,
        request_id,
        id_project: pid,
        status: 100,
        participants: [],
        first_text: `soak ${p}/${i}`,
        createdAt: at(59),
        updatedAt: at(58 - i / 100),
      });
      seed.messages.push({
        _id: hex24('d0', p * 1000 + i),
        id_project: pid,
        recipient: request_id,
        text: 'first',
        createdAt: at(58),
        updatedAt: at(58),
      });
    }
  });
  return seed;
}

interface State {
  key: string;
  /** Still visible on subscribe (open request, message, agent, single request not deleted). */
  visible: boolean;
}

/** Ground truth: every state the emulator published, per topic and element. */
export class Ledger {
  readonly topics = new Map<string, Map<string, State[]>>();
  add(topic: string, id: string, key: string, visible: boolean): void {
    let elements = this.topics.get(topic);
    if (!elements) this.topics.set(topic, (elements = new Map()));
    let states = elements.get(id);
    if (!states) elements.set(id, (states = []));
    states.push({ key, visible });
  }
}

/** Largest number of timestamps falling in any window of `windowMs`. */
export function maxInRollingWindow(times: number[], windowMs = 60_000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

export interface Accounting {
  elements: number;
  required: number;
  lost: number;
  duplicate: number;
  phantom: number;
  regression: number;
  unexplainedGap: number;
  wrongMethod: number;
  collapsed: number;
  unobservable: number;
  examples: string[];
}

/** The accounting's failure counts: an exactly-once run has every one of them at 0. */
export function exactlyOnceFailures(
  a: Accounting,
): Record<'lost' | 'duplicate' | 'phantom' | 'regression' | 'unexplainedGap' | 'wrongMethod', number> {
  return {
    lost: a.lost,
    duplicate: a.duplicate,
    phantom: a.phantom,
    regression: a.regression,
    unexplainedGap: a.unexplainedGap,
    wrongMethod: a.wrongMethod,
  };
}

export const NO_FAILURES = { lost: 0, duplicate: 0, phantom: 0, regression: 0, unexplainedGap: 0, wrongMethod: 0 };

export function account(ledger: Ledger, observed: ObservedEvent[], topics: string[]): Accounting {
  const result: Accounting = {
    elements: 0,
    required: 0,
    lost: 0,
    duplicate: 0,
    phantom: 0,
    regression: 0,
    unexplainedGap: 0,
    wrongMethod: 0,
    collapsed: 0,
    unobservable: 0,
    examples: [],
  };
  const note = (what: string) => {
    if (result.examples.length < 20) result.examples.push(what);
  };
  const byElement = new Map<string, ObservedEvent[]>();
  for (const event of observed) {
    const k = `${event.topic}\u0000${event.id}`;
    let list = byElement.get(k);
    if (!list) byElement.set(k, (list = []));
    list.push(event);
  }
  for (const topic of topics) {
    const elements = ledger.topics.get(topic) ?? new Map<string, State[]>();
    const ids = new Set([...elements.keys()]);
    for (const k of byElement.keys()) if (k.startsWith(`${topic}\u0000`)) ids.add(k.slice(topic.length + 1));
    for (const id of ids) {
      result.elements += 1;
      const truth = elements.get(id) ?? [];
      const index = new Map(truth.map((s, i) => [s.key, i]));
      const obs = byElement.get(`${topic}\u0000${id}`) ?? [];
      const seen = new Set<string>();
      let last = -1;
      for (const event of obs) {
        const key = event.method === 'DELETE' ? 'DELETE' : event.updatedAt;
        const i = index.get(key);
        if (i === undefined) {
          result.phantom += 1;
          note(`phantom ${event.method} ${topic} ${id} ${key}`);
          continue;
        }
        if (seen.has(key)) {
          result.duplicate += 1;
          note(`duplicate ${event.method} ${topic} ${id} ${key} recovered=${event.recovered}`);
          continue;
        }
        if (event.method === 'CREATE' && seen.size > 0) {
          result.wrongMethod += 1;
          note(`CREATE for a known element ${topic} ${id}`);
        }
        if (event.method !== 'CREATE' && seen.size === 0 && !event.recovered) {
          result.wrongMethod += 1;
          note(`live ${event.method} as first sighting ${topic} ${id}`);
        }
        seen.add(key);
        if (i < last) {
          result.regression += 1;
          note(`regression ${topic} ${id}: state ${i} after ${last}`);
          continue;
        }
        if (i > last + 1) {
          // The first sighting of a pre-existing element is its snapshot state (index 0) or a recovery.
          result.collapsed += i - last - 1;
          if (!event.recovered && !event.snapshot) {
            result.unexplainedGap += 1;
            note(`live ${event.method} skipped ${i - last - 1} state(s) ${topic} ${id}`);
          }
        }
        last = i;
      }
      if (!truth.length) continue;
      const final = truth[truth.length - 1];
      const required = final.visible || seen.size > 0;
      if (!required) {
        result.unobservable += 1;
        continue;
      }
      result.required += 1;
      if (!seen.has(final.key)) {
        result.lost += 1;
        note(`lost final ${final.key} of ${topic} ${id} (observed ${obs.length} of ${truth.length} states)`);
      }
    }
  }
  return result;
}

interface RequestInfo {
  projectId: string;
  requestId: string;
  _id: string;
  status: number;
  messages: number;
}

/** Runs the soak and returns the report; assertions are the caller's. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const random = rng(Number(process.env.SOAK_SEED ?? 20240611));
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  const budget = options.maxConnectsPerMinute ?? 60;
  const rate = options.ratePerSecond ?? 250;
  const projectCount = options.projects ?? 3;

  const serverAttempts: number[] = [];
  const emu: Emulator = await startEmulator({
    seed: soakSeed(projectCount),
    // Sockets left half-open by the fault stay counted by the emulator until the next drop: do not let them
    // trip the concurrent limit, which is not what this soak measures.
    rateLimits: { concurrentPerUser: Infinity },
    log: (line) => {
      if (/^client #\d+ connected/.test(line) || /^refused upgrade/.test(line)) serverAttempts.push(Date.now());
    },
  });
  // Whatever fails below (a consumer that cannot start, a wait that times out), the generator stops and the
  // consumer and the emulator are closed, so the test run can end and report the failure.
  let stopped = false;
  let aborted = false;
  try {
    const ledger = new Ledger();
    const observed: ObservedEvent[] = [];
    const clientAttempts: number[] = [];
    const state = (await (await fetch(`${emu.adminUrl}/state`)).json()) as Required<SeedData>;
    const projectIds = state.projects.map((p) => String(p._id));

    // Topics: every project's open requests, some single requests, some messages, the project users.
    const requests = new Map<string, RequestInfo>();
    for (const r of state.requests) {
      const info = {
        projectId: String(r.id_project),
        requestId: String(r.request_id),
        _id: String(r._id),
        status: Number(r.status),
        messages: 0,
      };
      requests.set(info._id, info);
    }
    for (const m of state.messages) {
      const r = [...requests.values()].find((x) => x.requestId === m.recipient && x.projectId === m.id_project);
      if (r) r.messages += 1;
    }
    const topics: string[] = [];
    const requestTopicIds = new Set<string>();
    const messageTopics = new Map<string, RequestInfo>();
    for (const pid of projectIds) {
      topics.push(`/${pid}/requests`);
      const open = [...requests.values()].filter(
        (r) => r.projectId === pid && r.status < CLOSED && r.status !== 150 && r.status > 50,
      );
      for (const r of open.slice(0, REQUEST_TOPICS_PER_PROJECT)) {
        topics.push(`/${pid}/requests/${r.requestId}`);
        requestTopicIds.add(r._id);
      }
      for (const r of open.slice(REQUEST_TOPICS_PER_PROJECT, REQUEST_TOPICS_PER_PROJECT + MESSAGE_TOPICS_PER_PROJECT)) {
        const topic = `/${pid}/requests/${r.requestId}/messages`;
        topics.push(topic);
        messageTopics.set(topic, r);
      }
      for (const pu of state.project_users.filter((x) => x.id_project === pid))
        topics.push(`/${pid}/project_users/${String(pu._id)}`);
    }
    const agentTopics = topics.filter((t) => t.includes('/project_users/'));

    // Initial truth: what each topic holds at subscribe time.
    const isOpen = (r: { status?: unknown; preflight?: unknown }) => {
      const s = Number(r.status);
      return s > 50 && s < CLOSED && s !== 150 && r.preflight !== true;
    };
    for (const r of state.requests) {
      if (isOpen(r)) ledger.add(`/${String(r.id_project)}/requests`, String(r._id), String(r.updatedAt), true);
      ledger.add(`/${String(r.id_project)}/requests/${String(r.request_id)}`, String(r._id), String(r.updatedAt), true);
    }
    for (const m of state.messages)
      ledger.add(
        `/${String(m.id_project)}/requests/${String(m.recipient)}/messages`,
        String(m._id),
        String(m.updatedAt),
        true,
      );
    for (const pu of state.project_users)
      ledger.add(
        `/${String(pu.id_project)}/project_users/${String(pu._id)}`,
        String(pu._id),
        String(pu.updatedAt),
        true,
      );

    const recordRequest = (
      r: { _id: string; id_project: string; request_id: string; updatedAt: string; status: number },
      method: Method,
    ) => {
      const key = method === 'DELETE' ? 'DELETE' : r.updatedAt;
      const visibleInList = method !== 'DELETE' && isOpen(r);
      ledger.add(`/${r.id_project}/requests`, r._id, key, visibleInList);
      ledger.add(`/${r.id_project}/requests/${r.request_id}`, r._id, key, method !== 'DELETE');
    };

    const byKind: Record<string, number> = {};
    let changes = 0;
    const change = (kind: string, fn: () => void) => {
      fn();
      changes += 1;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    };
    const openOf = (pid: string) => [...requests.values()].filter((r) => r.projectId === pid && r.status < CLOSED);
    const step = () => {
      const pid = pick(projectIds);
      const open = openOf(pid);
      const roll = random();
      if ((roll < 0.1 && open.length < MAX_OPEN_PER_PROJECT) || open.length < MIN_OPEN_PER_PROJECT) {
        return change('request create', () => {
          const r = emu.createRequest(pid, { first_text: `soak ${changes}` });
          requests.set(r._id, { projectId: pid, requestId: r.request_id, _id: r._id, status: r.status, messages: 0 });
          recordRequest(r, 'CREATE');
        });
      }
      if (roll < 0.14) {
        const target = pick(open);
        return change('request close', () => {
          const r = emu.closeRequest(pid, target.requestId);
          target.status = r.status;
          recordRequest(r, 'UPDATE');
        });
      }
      if (roll < 0.15) {
        // Held single-request topics may be deleted (their DELETE must be recovered); requests whose messages are
        // held are not: a deleted request's messages vanish from the snapshot, which no client could notice.
        const deletable = open.filter((r) => ![...messageTopics.values()].includes(r));
        if (!deletable.length) return;
        const target = pick(deletable);
        return change('request delete', () => {
          const r = emu.deleteRequest(pid, target.requestId);
          requests.delete(target._id);
          recordRequest(r, 'DELETE');
        });
      }
      if (roll < 0.6) {
        // A third of the updates go to requests that also have their own topic.
        const held = open.filter((r) => requestTopicIds.has(r._id));
        const target = held.length && random() < 0.33 ? pick(held) : pick(open);
        return change('request update', () => {
          const patch = random() < 0.5 ? { status: pick(OPEN_STATUSES) } : { first_text: `edited ${changes}` };
          const r = emu.updateRequest(pid, target.requestId, patch);
          target.status = r.status;
          recordRequest(r, 'UPDATE');
        });
      }
      if (roll < 0.85) {
        const candidates = [...messageTopics.entries()].filter(
          ([, r]) => r.messages < MAX_MESSAGES_PER_TOPIC && requests.has(r._id),
        );
        if (candidates.length) {
          const [topic, r] = pick(candidates);
          return change('message', () => {
            const m = emu.addMessage(r.projectId, r.requestId, { text: `message ${changes}` });
            r.messages += 1;
            ledger.add(topic, m._id, m.updatedAt, true);
          });
        }
      }
      const topic = pick(agentTopics);
      const [, projectId, , projectUserId] = topic.split('/');
      return change('agent update', () => {
        const pu = emu.updateProjectUser(
          projectId,
          projectUserId,
          random() < 0.5 ? { user_available: random() < 0.5 } : { isBusy: random() < 0.5 },
        );
        ledger.add(topic, pu._id, pu.updatedAt, true);
      });
    };

    const memoryBefore = process.memoryUsage();
    const started = Date.now();
    const consumer = options.consumer;
    await consumer.start({
      endpoint: emu.url,
      token: emu.tokens.owner,
      topics,
      maxConnectsPerMinute: budget,
      onEvent: (event) => observed.push(event),
      onConnectAttempt: (at) => clientAttempts.push(at),
    });
    log(`${consumer.name}: ${topics.length} topics ready`);

    // Every topic subscribed by a live (not half-open) socket. Counted per socket: a socket made half-open
    // while it was still subscribing holds only some topics.
    const allSubscribed = () => {
      const live = emu.stats().liveSubscriptionsByTopic;
      return topics.every((t) => (live[t] ?? 0) > 0);
    };

    let generating = true;
    const generator = (async () => {
      const tickMs = 10;
      let due = 0;
      let last = Date.now();
      while (changes < options.events && !aborted) {
        const now = Date.now();
        due += ((now - last) * rate) / 1000;
        last = now;
        while (due >= 1 && changes < options.events && !aborted) {
          step();
          due -= 1;
        }
        await sleep(tickMs);
      }
      generating = false;
    })();

    const faults: Record<string, number> = {};
    let faultsTotal = 0;
    const count = (kind: string, effective: boolean) => {
      if (!effective) return;
      faults[kind] = (faults[kind] ?? 0) + 1;
      faultsTotal += 1;
    };
    const kinds = ['drop', 'half-open', 'restart', 'refuse 429', 'drop', 'refuse 429', 'restart', 'refuse 503'];
    let hostIndex = 0;
    let hostDone = 0; // effective host faults: the server's faults keep their own rotation
    while (faultsTotal < options.faults || generating) {
      await waitFor(allSubscribed, 'every topic subscribed again', 150_000, 25);
      await sleep(250 + random() * 650);
      if (faultsTotal >= options.faults) {
        await sleep(100);
        continue;
      }
      const hostFaults = options.hostFaults ?? [];
      const every = Math.max(2, options.hostFaultEvery ?? 3);
      const host =
        hostFaults.length && faultsTotal % every === every - 1
          ? hostFaults[hostIndex++ % hostFaults.length]
          : undefined;
      const kind = host?.kind ?? kinds[(faultsTotal - hostDone) % kinds.length];
      log(`t=${Date.now() - started} ms: ${kind} (changes ${changes})`);
      if (host) {
        const effective = await host.run();
        count(kind, effective);
        if (effective) hostDone += 1;
      } else if (kind === 'drop') count(kind, emu.faults.dropAll() > 0);
      else if (kind === 'half-open') count(kind, emu.faults.halfOpen() > 0);
      else if (kind === 'restart') {
        await emu.faults.restart({ downMs: 200 + Math.round(random() * 600) });
        count(kind, true);
      } else {
        const status = kind === 'refuse 503' ? 503 : 429;
        const n = 1 + Math.floor(random() * 2);
        const refusedBefore = emu.stats().connectionsRefused[String(status)] ?? 0;
        emu.faults.refuseNext(n, status, { retryAfterSec: 1, reason: 'soak: too many connections' });
        emu.faults.dropAll();
        await waitFor(
          () => (emu.stats().connectionsRefused[String(status)] ?? 0) >= refusedBefore + n,
          `${n} refusals`,
          60_000,
          25,
        );
        count(kind, true);
      }
    }
    await generator;
    log(`${consumer.name}: ${changes} changes and ${faultsTotal} faults injected in ${Date.now() - started} ms`);

    // Quiescence: connected again, then wait until everything observable was observed (or give up and report).
    await waitFor(allSubscribed, 'every topic subscribed after the last fault', 90_000, 25);
    await consumer.drain?.();
    await waitFor(
      () => account(ledger, observed, topics).lost === 0 || undefined,
      'every final state',
      30_000,
      200,
    ).catch(() => undefined);
    await sleep(1_000); // late duplicates would show up here
    const accounting = account(ledger, observed, topics);
    const warnings = consumer.warnings();
    stopped = true;
    await consumer.stop();
    await emu.close();
    const memoryAfter = process.memoryUsage();
    const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
    return {
      consumer: consumer.name,
      changes,
      byKind,
      faults,
      faultsTotal,
      durationMs: Date.now() - started,
      topics: topics.length,
      observed: observed.length,
      delivered: {
        live: observed.filter((e) => !e.recovered && !e.snapshot).length,
        recovered: observed.filter((e) => e.recovered).length,
        snapshot: observed.filter((e) => e.snapshot).length,
      },
      accounting,
      connects: {
        budget,
        serverAttempts: serverAttempts.length,
        clientAttempts: clientAttempts.length,
        maxServerPerRollingMinute: maxInRollingWindow(serverAttempts),
        maxClientPerRollingMinute: maxInRollingWindow(clientAttempts),
        serverTimes: serverAttempts,
      },
      memory: {
        rssBeforeMb: mb(memoryBefore.rss),
        rssAfterMb: mb(memoryAfter.rss),
        heapBeforeMb: mb(memoryBefore.heapUsed),
        heapAfterMb: mb(memoryAfter.heapUsed),
      },
      warnings: warnings.length,
    };
  } finally {
    aborted = true;
    if (!stopped)
      await Promise.resolve()
        .then(() => options.consumer.stop())
        .catch(() => undefined);
    await emu.close();
  }
}

/** The core itself: one handle, one subscription per topic, snapshots emitted. */
export function coreConsumer(connectionOptions: Partial<ConnectionOptions> = {}): SoakConsumer {
  let handle: ConnectionHandle | undefined;
  const warnings: string[] = [];
  return {
    name: 'core',
    async start(context) {
      handle = acquireConnection({
        endpoint: context.endpoint,
        token: context.token,
        maxConnectsPerMinute: context.maxConnectsPerMinute,
        lingerMs: 0,
        backoffInitialMs: 100,
        backoffMaxMs: 1_000,
        // Short heartbeats so a half-open socket is noticed within about two seconds.
        pingIntervalMs: 500,
        pongTimeoutMs: 1_500,
        ...connectionOptions,
      });
      handle.onWarning((message) => warnings.push(message));
      handle.onStatus((status) => {
        // A status without retryInMs while (re)connecting marks the start of a new attempt.
        if ((status.state === 'connecting' || status.state === 'reconnecting') && status.retryInMs === undefined)
          context.onConnectAttempt?.(Date.now());
      });
      const subscriptions = context.topics.map((topic) =>
        handle!.subscribe(topic, {
          emitSnapshot: true,
          subscribeTimeoutMs: 30_000,
          onEvent: (event) =>
            context.onEvent({
              topic: event.topic,
              method: event.method,
              id: String(event.data._id ?? event.data.id),
              updatedAt: typeof event.data.updatedAt === 'string' ? event.data.updatedAt : '',
              recovered: event.recovered,
              snapshot: event.snapshot,
            }),
          onError: (error) => warnings.push(`error: ${error.message}`),
        }),
      );
      await Promise.all(subscriptions.map((s) => s.ready));
    },
    async stop() {
      handle?.release();
      handle = undefined;
      await closeAllConnections();
    },
    warnings: () => warnings,
  };
}
