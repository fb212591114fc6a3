// The chaos soak's consumer for a real n8n: one workflow per project, one Pingstreams Trigger per topic
// (Create, Update, Delete; snapshot emitted at activation), all posting their items to an HTTP sink run by
// the test. The sink's requests are turned back into ObservedEvent for the soak's exactly-once accounting
// (test/integration/soak-harness.ts), in the order n8n emitted them.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseTopic } from '../../../core';
import type { ConsumerContext, ObservedEvent, SoakConsumer } from '../../integration/soak-harness';
import { sleep, waitFor } from '../../helpers/wait';
import { HttpSink, type N8n, type SinkRequest } from './harness';
import { CREDENTIAL_ID, credential, postToSink } from './workflows';

export const SOAK_PRELOAD = join(__dirname, 'soak-preload.js');

/** n8n settings for a long run: no execution data kept, little logging (see docs/soak-results.md). */
export const SOAK_N8N_ENV: NodeJS.ProcessEnv = {
  EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'none',
  EXECUTIONS_DATA_SAVE_ON_ERROR: 'all',
  EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS: 'false',
  EXECUTIONS_DATA_SAVE_ON_PROGRESS: 'false',
  EXECUTIONS_DATA_PRUNE: 'true',
  N8N_LOG_LEVEL: 'warn',
  N8N_METRICS: 'false',
  // The production backoff is shortened (see soak-preload.js); the connection budget is not.
  NODE_OPTIONS: `--require ${SOAK_PRELOAD}`,
  PINGSTREAMS_SOAK_DEFAULTS: JSON.stringify({ backoffInitialMs: 100, backoffMaxMs: 1_000 }),
};

/** The trigger parameters for one topic; `extra` adds options (e.g. order and batches). */
export function triggerParameters(topic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const parsed = parseTopic(topic);
  const base = { projectId: parsed.projectId, events: ['CREATE', 'UPDATE', 'DELETE'], output: 'event' };
  // Short heartbeats so a half-open socket is noticed within seconds (the node's minimum values).
  const options = {
    emitSnapshot: true,
    emitRecovered: true,
    heartbeatInterval: 5,
    heartbeatTimeout: 3,
    subscribeTimeout: 60,
    ...extra,
  };
  switch (parsed.kind) {
    case 'requests':
      return { resource: 'requests', ...base, options };
    case 'request':
      return { resource: 'request', requestId: parsed.requestId, ...base, options };
    case 'messages':
      return { resource: 'messages', requestId: parsed.requestId, ...base, options };
    case 'agent':
      return { resource: 'agent', projectUserId: parsed.projectUserId, ...base, options };
    default:
      return { resource: 'custom', topic, ...base, options };
  }
}

/**
 * One workflow per topic: a trigger wired to an HTTP Request node posting each item. n8n rewrites a workflow's
 * whole static data (every trigger's catch-up record) with each execution the trigger starts, so many triggers
 * in one workflow multiply the bytes written per event (see docs/soak-results.md).
 */
export function soakWorkflows(topics: string[], sinkUrl: string, tuning: SoakTuning = {}) {
  return topics.map((topic, w) => {
    const post = postToSink('Post Event', sinkUrl, [400, 0]);
    // Execution id, item index and item count let the sink tell when an execution posted all its items,
    // and break ties when restoring the emission order (see EmissionOrder).
    post.parameters.headerParameters.parameters.push(
      { name: 'x-item', value: '={{ $itemIndex }}' },
      { name: 'x-count', value: '={{ $input.all().length }}' },
    );
    const trigger = {
      id: `soak-trigger-${w}`,
      name: 'Pingstreams Trigger',
      type: 'n8n-nodes-pingstreams.pingstreamsTrigger',
      typeVersion: 1,
      position: [0, 0] as [number, number],
      parameters: triggerParameters(topic, tuning.triggerOptions),
      credentials: { pingstreamsApi: { id: CREDENTIAL_ID, name: 'Pingstreams emulator' } },
    };
    // A step that takes a while before the post, as real workflows do (and a worker can be killed in it).
    const wait = tuning.codeDelayMs
      ? {
          id: `soak-wait-${w}`,
          name: 'Work',
          type: 'n8n-nodes-base.code',
          typeVersion: 2,
          position: [200, 0] as [number, number],
          parameters: {
            mode: 'runOnceForAllItems',
            jsCode: `await new Promise((resolve) => setTimeout(resolve, ${tuning.codeDelayMs}));\nreturn $input.all();`,
          },
        }
      : undefined;
    return {
      id: `PsSoakFlow${String(w).padStart(6, '0')}`,
      name: `Pingstreams soak ${topic}`,
      active: false,
      nodes: wait ? [trigger, wait, post] : [trigger, post],
      connections: wait
        ? {
            [trigger.name]: { main: [[{ node: wait.name, type: 'main', index: 0 }]] },
            [wait.name]: { main: [[{ node: 'Post Event', type: 'main', index: 0 }]] },
          }
        : { [trigger.name]: { main: [[{ node: 'Post Event', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1', saveDataSuccessExecution: 'none', saveManualExecutions: false },
      pinData: {},
    };
  });
}

export interface SoakTuning {
  /** Added to every trigger's options. */
  triggerOptions?: Record<string, unknown>;
  /** A Code node waiting this long before the post. */
  codeDelayMs?: number;
  /**
   * Deliver the sink's requests in the order they arrived, without restoring the emission order: for triggers that
   * keep the order per element themselves, this proves it at the sink.
   */
  arrivalOrder?: boolean;
  /** Starts n8n (default: `n8n.start()`); e.g. a queue-mode cluster's main and workers. */
  start?: () => Promise<void>;
  /** Awaited once the workflows are activated (e.g. queue-mode workers that boot meanwhile). */
  ready?: () => Promise<void>;
  /**
   * With arrivalOrder: the executions whose posts do not count (n8n marked them failed because their worker died;
   * the trigger emitted their events again, so what such an execution had posted before it died is repeated).
   */
  discountExecutions?: () => Set<number>;
}

interface Execution {
  id: number;
  count: number;
  items: Map<number, SinkRequest>;
}

interface Pending {
  receivedAt: string;
  batch: boolean;
  execution: number;
  item: number;
  request: SinkRequest;
}

/**
 * Restores the order in which the triggers emitted their items. n8n starts executions concurrently and does
 * not even number them in emission order (its SQLite pool answers the queries before the insert out of
 * order), and the HTTP Request node posts the items of one execution concurrently. Each item carries
 * `receivedAt` (when the core received its frame, in order per topic); ties are broken by batch first (a
 * recovered batch is emitted before the live events that follow it), then execution id, then item index.
 * An item is released once the sink has seen items received `holdMs` later, or after `holdMs` of quiet.
 */
export class EmissionOrder {
  private read = 0;
  private readonly executions = new Map<number, Execution>();
  private readonly pending: Pending[] = [];
  private frontier = '';
  private lastArrival = Date.now();
  released = 0;
  /** Items whose place in the order had already been passed when they arrived (counted, then delivered). */
  late = 0;
  /**
   * Posts of an item its execution had posted already: n8n ran (part of) that execution again, not the trigger,
   * which hands each execution over once under a new id. Left out, counted.
   */
  repeatedPosts = 0;
  private readonly posted = new Set<string>();
  private lastReleased = '';
  private readonly arrivedAt = new WeakMap<SinkRequest, number>();
  /** Arrival mode: complete executions' items in arrival order, delivered by release(). */
  private readonly arrived: SinkRequest[] = [];

  /**
   * Arrival mode: delivers what arrived, in arrival order, except the items of executions `discount` names (also
   * those never complete); returns how many items it left out.
   */
  release(discount: (execution: number) => boolean): number {
    let left = 0;
    for (const r of this.arrived.splice(0)) {
      if (discount(Number(r.headers['x-execution']))) left += 1;
      else {
        this.deliver(r);
        this.released += 1;
      }
    }
    for (const [id, execution] of this.executions)
      if (discount(id)) {
        left += execution.items.size;
        this.executions.delete(id);
      }
    return left;
  }

  constructor(
    private readonly sink: HttpSink,
    private readonly deliver: (request: SinkRequest) => void,
    /** Longer than the trigger's longest wait before emitting again an execution n8n could not start (30 s). */
    private readonly holdMs = 45_000,
    /** Release each complete execution's items in the order they reached the sink: no order restored. */
    private readonly arrival = false,
  ) {}

  pump(now = Date.now()): void {
    const requests = this.sink.requests;
    if (this.read < requests.length) this.lastArrival = now;
    for (; this.read < requests.length; this.read++) {
      const request = requests[this.read];
      const id = Number(request.headers['x-execution']);
      const post = `${id}:${request.headers['x-item']}`;
      if (this.posted.has(post)) {
        this.repeatedPosts += 1;
        continue;
      }
      this.posted.add(post);
      let execution = this.executions.get(id);
      if (!execution)
        this.executions.set(id, (execution = { id, count: Number(request.headers['x-count']), items: new Map() }));
      execution.items.set(Number(request.headers['x-item']), request);
      if (this.arrival) this.arrivedAt.set(request, this.read);
      if (execution.items.size < execution.count) continue;
      if (this.arrival) {
        this.executions.delete(id);
        const arrived = (r: SinkRequest) => this.arrivedAt.get(r) ?? 0;
        this.arrived.push(...[...execution.items.values()].sort((a, b) => arrived(a) - arrived(b)));
        continue;
      }
      // Complete: its items join the pending ones.
      this.executions.delete(id);
      for (const [item, r] of execution.items) {
        const body = r.body as { receivedAt?: string; recovered?: boolean; snapshot?: boolean };
        const receivedAt = String(body.receivedAt ?? '');
        if (receivedAt > this.frontier) this.frontier = receivedAt;
        this.pending.push({
          receivedAt,
          batch: body.recovered === true || body.snapshot === true,
          execution: id,
          item,
          request: r,
        });
      }
    }
    const quiet = now - this.lastArrival >= this.holdMs;
    const horizon = quiet
      ? '\uffff'
      : new Date(Date.parse(this.frontier || new Date(0).toISOString()) - this.holdMs).toISOString();
    const ready = this.pending.filter((p) => p.receivedAt <= horizon);
    if (!ready.length) return;
    ready.sort((a, b) =>
      a.receivedAt < b.receivedAt
        ? -1
        : a.receivedAt > b.receivedAt
          ? 1
          : Number(b.batch) - Number(a.batch) || a.execution - b.execution || a.item - b.item,
    );
    const keep = this.pending.filter((p) => p.receivedAt > horizon);
    this.pending.length = 0;
    this.pending.push(...keep);
    for (const p of ready) {
      if (p.receivedAt < this.lastReleased) this.late += 1;
      this.lastReleased = p.receivedAt;
      this.deliver(p.request);
      this.released += 1;
    }
  }

  /** Items not delivered yet (waiting for order, or for the rest of their execution). */
  get buffered(): number {
    return this.pending.length + [...this.executions.values()].reduce((n, e) => n + e.items.size, 0);
  }

  get incompleteExecutions(): number {
    return this.executions.size;
  }
}

/** The most items one execution posted, each item counted once: n8n running an execution again posts them again. */
export function largestExecution(requests: readonly SinkRequest[]): number {
  const items = new Map<string, Set<string>>();
  for (const r of requests) {
    const execution = String(r.headers['x-execution']);
    let posted = items.get(execution);
    if (!posted) items.set(execution, (posted = new Set()));
    posted.add(String(r.headers['x-item']));
  }
  return Math.max(0, ...[...items.values()].map((posted) => posted.size));
}

export function toObserved(request: SinkRequest): ObservedEvent {
  const body = request.body as {
    topic: string;
    method: ObservedEvent['method'];
    recovered: boolean;
    snapshot: boolean;
    data: Record<string, unknown>;
  };
  return {
    topic: body.topic,
    method: body.method,
    id: String(body.data?._id ?? body.data?.id),
    updatedAt: typeof body.data?.updatedAt === 'string' ? body.data.updatedAt : '',
    recovered: body.recovered === true,
    snapshot: body.snapshot === true,
  };
}

/** The delays of the retries a Pingstreams Trigger logged in `text` ("… emitting again in N s."), in ms. */
export function retryDelaysMs(text: string): number[] {
  return Array.from(text.matchAll(/emitting again in (\d+(?:\.\d+)?) s\./g), (m) => Number(m[1]) * 1000);
}

/**
 * The trigger's retries, as n8n's main logs them: each is a post still to come, however quiet the sink is until then.
 * Reads only what was appended since the last call, whole lines, and follows the log to the next start's file.
 */
export class LoggedRetries {
  private path = '';
  private offset = 0;
  private partialLine = Buffer.alloc(0);

  constructor(private readonly currentLog: () => string) {}

  /** The delays (ms) of the retries logged since the last call. */
  newDelaysMs(): number[] {
    const delays = this.read();
    const path = this.currentLog();
    if (path === this.path) return delays;
    this.path = path;
    this.offset = 0;
    this.partialLine = Buffer.alloc(0);
    return [...delays, ...this.read()];
  }

  private read(): number[] {
    if (!this.path || !existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size <= this.offset) return [];
    const appended = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, appended, 0, appended.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = Buffer.concat([this.partialLine, appended]);
    const end = text.lastIndexOf(0x0a) + 1;
    this.partialLine = text.subarray(end);
    return retryDelaysMs(text.subarray(0, end).toString('utf8'));
  }
}

export interface N8nSoakStats {
  /** The credential and workflows imported (n8n's CLI). */
  importMs?: number;
  /** n8n started and every workflow activated. */
  startMs: number;
  /** How long n8n kept posting after the last fault and resubscription (its backlog of executions). */
  drainMs?: number;
  rssAfterStartMb?: number;
  /** Executions of which the sink never got every item. */
  incompleteExecutions: number;
  /** Items delivered after later-received ones (the restored order could not be kept). */
  lateItems: number;
  sinkRequests: number;
  executions: number;
  /** Arrival mode: items posted by executions n8n ended without running them through, left out (emitted again). */
  postsOfExecutionsNotRunThrough?: number;
  executionsNotRunThrough?: number;
  /** Posts of an item its execution had posted already (see EmissionOrder.repeatedPosts). */
  repeatedPosts?: number;
}

/** A SoakConsumer driving a real n8n (already installed with the package, not started). */
export function n8nConsumer(
  n8n: N8n,
  log: (line: string) => void = () => undefined,
  tuning: SoakTuning = {},
): SoakConsumer & { stats: N8nSoakStats; sink: HttpSink } {
  const sink = new HttpSink();
  const warnings: string[] = [];
  const stats: N8nSoakStats = { startMs: 0, incompleteExecutions: 0, lateItems: 0, sinkRequests: 0, executions: 0 };
  let pump: NodeJS.Timeout | undefined;
  const retries = new LoggedRetries(() => n8n.logFile);
  /** When the latest retry the trigger logged is due. */
  let retryDueAt = 0;
  let retryWatch: NodeJS.Timeout | undefined;
  let order: EmissionOrder | undefined;
  return {
    name: 'n8n',
    stats,
    sink,
    async start(context: ConsumerContext) {
      await sink.start();
      const importing = Date.now();
      const workflows = soakWorkflows(context.topics, sink.url('/events'), tuning);
      await n8n.cli(
        [
          'import:credentials',
          `--input=${n8n.writeJson('credentials.json', credential(context.endpoint, context.token))}`,
        ],
        'soak-import-credentials',
      );
      await n8n.cli(
        ['import:workflow', `--input=${n8n.writeJson('workflows.json', workflows)}`],
        'soak-import-workflows',
      );
      stats.importMs = Date.now() - importing;
      order = new EmissionOrder(
        sink,
        (request) => context.onEvent(toObserved(request)),
        undefined,
        tuning.arrivalOrder,
      );
      pump = setInterval(() => order?.pump(), 50);
      retryWatch = setInterval(() => {
        for (const delayMs of retries.newDelaysMs()) retryDueAt = Math.max(retryDueAt, Date.now() + delayMs);
      }, 1_000);
      const started = Date.now();
      await (tuning.start ? tuning.start() : n8n.start());
      // Published through the REST API as the editor does (one CLI boot per workflow would take minutes).
      for (const workflow of workflows) {
        const current = await n8n.rest('GET', `/workflows/${workflow.id}`);
        const versionId = (current.body as { data?: { versionId?: string } }).data?.versionId;
        const res = await n8n.rest('POST', `/workflows/${workflow.id}/activate`, { versionId });
        if (res.status !== 200)
          throw new Error(`activating ${workflow.id}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
      }
      await tuning.ready?.();
      stats.startMs = Date.now() - started;
      log(`n8n ready in ${stats.startMs} ms; ${workflows.length} workflows, ${context.topics.length} triggers`);
      // Every topic's snapshot posted (each seeded topic holds at least one element), then quiet.
      const snapshotTopics = () =>
        new Set(sink.requests.filter((r) => r.body.snapshot === true).map((r) => String(r.body.topic)));
      await waitFor(
        () => context.topics.every((t) => snapshotTopics().has(t)),
        'a snapshot posted for every topic',
        4 * 60_000,
        200,
      );
      let last = -1;
      await waitFor(
        () => {
          const quiet = sink.requests.length === last && order!.buffered === 0;
          last = sink.requests.length;
          return quiet;
        },
        'the snapshots posted completely',
        3 * 60_000,
        1_000,
      );
      stats.rssAfterStartMb = n8n.rssMb();
    },
    // n8n runs executions behind the trigger when busy; the trigger emits again what n8n could not start, up to 30 s
    // later each time it fails again (several failures in a row: 48 s of silence in all), and an element whose
    // execution n8n never reports waits the Order Wait Limit. Done when the sink has been quiet, and the last retry
    // logged due, for longer than that limit (35 s at least).
    async drain() {
      const started = Date.now();
      const orderWaitSeconds = Number(tuning.triggerOptions?.orderWaitSeconds ?? 0);
      const quietMs = Math.max(35_000, orderWaitSeconds * 1000 + 5_000);
      let last = -1;
      let quietSince = Date.now();
      await waitFor(
        () => {
          if (sink.requests.length !== last || order!.buffered > 0) {
            last = sink.requests.length;
            quietSince = Date.now();
          }
          return Date.now() - Math.max(quietSince, retryDueAt) >= quietMs;
        },
        'n8n to post every queued execution',
        15 * 60_000,
        500,
      );
      stats.drainMs = Date.now() - started;
      log(`n8n drained in ${stats.drainMs} ms`);
      if (tuning.arrivalOrder) {
        const discounted = tuning.discountExecutions?.() ?? new Set<number>();
        stats.postsOfExecutionsNotRunThrough = order!.release((id) => discounted.has(id));
        stats.executionsNotRunThrough = discounted.size;
      }
    },
    async stop() {
      order?.pump(Date.now() + 60_000);
      clearInterval(pump);
      clearInterval(retryWatch);
      stats.incompleteExecutions = order?.incompleteExecutions ?? 0;
      stats.lateItems = order?.late ?? 0;
      stats.repeatedPosts = order?.repeatedPosts ?? 0;
      stats.sinkRequests = sink.requests.length;
      stats.executions = new Set(sink.requests.map((r) => r.headers['x-execution'])).size;
      if (order?.buffered) warnings.push(`${order.buffered} sink requests of incomplete executions`);
      await sleep(0);
      await sink.close();
    },
    warnings: () => warnings,
  };
}
