// Which events go into which execution, and when: order per key (one request or one element), batches, a limit
// on executions in flight, and back-pressure. Later events of a key wait until the execution holding the key's
// previous event has finished (emit()'s done promise, through the ExecutionEmitter), so a key's executions never
// overlap and never swap; different keys run in parallel. What waits is bounded: past `maxHeld` the subscription
// is paused (the socket is not read, the server's frames wait in the kernel), so nothing is dropped.
import type { Delivery, Outcome } from './execution-emitter';
import type { Clock, TimerHandle } from '../../core/platform';

export type OrderBy = 'none' | 'element' | 'request';

export interface DispatchOptions {
  orderBy: OrderBy;
  /** Items per execution at most; 1: one event per execution. */
  batchSize: number;
  /** How long the first event of a batch waits for more (0: a batch holds what is there at once). */
  batchMs: number;
  /** Executions handed to n8n and not finished yet, at most (0: no limit). */
  maxParallel: number;
  /** Events waiting here before the subscription is paused; it resumes below half of it. */
  maxHeld: number;
  /**
   * The Order Wait Limit: how long an execution may stay unreported after n8n reported the end of an execution
   * handed to it later, before its keys are freed anyway (see OverdueWatch). n8n can miss an execution's end (e.g.
   * Redis restarted as a worker finished it), and its elements' later events must not wait forever.
   */
  overdueMs: number;
}

export interface DispatchHost {
  /** The platform's clock: no Node timer globals in the n8n package. */
  clock: Clock;
  /** Shared with the other triggers of this n8n (see EndReports); the process's own by default. */
  endReports?: EndReports;
  /** Hands one execution to n8n; `settled` is called once when it ended (see Outcome). */
  start(batch: Delivery[], settled: (outcome: Outcome) => void): void;
  pause(): void;
  resume(): void;
  /** An execution of `items` events handed over `waitedMs` ago was found overdue (OverdueWatch): its keys were freed. */
  overdue(items: number, waitedMs: number): void;
}

export const DEFAULT_MAX_HELD = 5_000;
export const DEFAULT_OVERDUE_SECONDS = 300;
/** Without a later execution reported (a stream gone quiet), an execution is overdue after this many limits. */
export const OVERDUE_BOUND_FACTOR = 10;

/**
 * Without Keep Order Per, batches or a limit (no Dispatcher): each live event is an execution of its own; recovered
 * and snapshot events, which arrive together, share one (an item each, like a polling trigger's batch); events that
 * went out under one key before a restart go out together again as that execution, on their own.
 */
export function executionsWithoutDispatch(deliveries: readonly Delivery[]): Delivery[][] {
  const again = new Map<string, Delivery[]>();
  let together: Delivery[] = [];
  const executions: Delivery[][] = [];
  const closeTogether = () => {
    executions.push(...again.values(), together);
    again.clear();
    together = [];
  };
  for (const delivery of deliveries) {
    const { dedupKey, event } = delivery;
    if (dedupKey !== undefined) {
      const group = again.get(dedupKey);
      if (group) group.push(delivery);
      else again.set(dedupKey, [delivery]);
    } else if (event.snapshot || event.recovered) together.push(delivery);
    else {
      closeTogether();
      executions.push([delivery]);
    }
  }
  closeTogether();
  return executions.filter((execution) => execution.length > 0);
}

/** An execution handed to n8n, not reported finished yet. */
interface Flight {
  /** Hand-over order. */
  seq: number;
  handedAt: number;
  items: number;
  keys: string[];
  /** When n8n first reported the end of an execution handed over after this one. */
  overtakenAt?: number;
  done: boolean;
}

/**
 * n8n's reports of executions' ends, shared by the triggers of one n8n process, in one hand-over order: n8n runs all
 * their executions from one queue (unless worker pools split it, see docs/n8n.md), so the end of one that any trigger
 * handed over later is evidence against an earlier one n8n has not reported. A trigger alone often has no later
 * execution of its own: its topic holds one element (an agent, one request) whose later events wait for the lost one.
 * Only watches with executions not overtaken yet listen.
 */
export class EndReports {
  private seq = 0;
  private readonly listening = new Set<OverdueWatch>();

  /** The next hand-over's place in the order. */
  next(): number {
    return ++this.seq;
  }

  /** n8n reported the end of the execution handed over at `seq`. */
  reported(seq: number): void {
    for (const watch of this.listening) watch.overtakenBy(seq);
  }

  listen(watch: OverdueWatch, listening: boolean): void {
    if (listening) this.listening.add(watch);
    else this.listening.delete(watch);
  }
}

/** The triggers of this process share n8n's queue (see EndReports). */
const processEndReports = new EndReports();

/**
 * Which executions n8n will not report: not by age alone, since a queue that is merely behind holds executions
 * longer than any fixed limit and freeing their keys then breaks the order. An execution is overdue once n8n has
 * reported the end of an execution handed over after it (by any trigger: see EndReports) and `limitMs` has passed
 * since the first such report (its own report was lost), or `OVERDUE_BOUND_FACTOR` limits after its hand-over whatever
 * happened. One timer; what is kept is bounded by the executions in flight.
 */
class OverdueWatch {
  /** In flight, in hand-over order. */
  private readonly flights = new Map<number, Flight>();
  /** Handed over after the latest reported one (not overtaken yet), in hand-over order; may hold done ones. */
  private unproven: Flight[] = [];
  /** Overtaken, in the order they were (overtakenAt ascending); may hold done ones. */
  private overtaken: Flight[] = [];
  private latestReported = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly limitMs: number,
    private readonly reports: EndReports,
    private readonly onOverdue: (flights: Flight[]) => void,
  ) {}

  add(items: number, keys: string[]): Flight {
    const flight: Flight = { seq: this.reports.next(), handedAt: this.clock.now(), items, keys, done: false };
    this.flights.set(flight.seq, flight);
    this.unproven.push(flight);
    this.reports.listen(this, true);
    this.arm(flight.handedAt + this.limitMs * OVERDUE_BOUND_FACTOR);
    return flight;
  }

  /** n8n reported the end of `flight` (also when it was found overdue before): evidence for those handed earlier. */
  reported(flight: Flight): void {
    this.reports.reported(flight.seq);
  }

  /** n8n reported the end of the execution handed over at `seq`, by this trigger or another. */
  overtakenBy(seq: number): void {
    if (seq <= this.latestReported) return;
    this.latestReported = seq;
    const now = this.clock.now();
    let overtook = false;
    while (this.unproven.length && this.unproven[0].seq <= seq) {
      const earlier = this.unproven.shift()!;
      if (earlier.done || earlier.seq === seq) continue;
      earlier.overtakenAt = now;
      this.overtaken.push(earlier);
      overtook = true;
    }
    if (this.unproven.length === 0) this.reports.listen(this, false);
    if (overtook) this.arm(now + this.limitMs);
  }

  settled(flight: Flight): void {
    flight.done = true;
    this.flights.delete(flight.seq);
    if (this.flights.size === 0) this.disarm();
    // Done ones are dropped from the lists' heads as they go; this bounds what stays behind a stuck one.
    const bound = 2 * this.flights.size + 32;
    if (this.unproven.length > bound) this.unproven = this.unproven.filter((f) => !f.done);
    if (this.overtaken.length > bound) this.overtaken = this.overtaken.filter((f) => !f.done);
  }

  close(): void {
    this.flights.clear();
    this.unproven = [];
    this.overtaken = [];
    this.closed = true;
    this.reports.listen(this, false);
    this.disarm();
  }

  private disarm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    const bound = this.limitMs * OVERDUE_BOUND_FACTOR;
    const due: Flight[] = [];
    while (this.overtaken.length && (this.overtaken[0].done || this.overtaken[0].overtakenAt! + this.limitMs <= now)) {
      const flight = this.overtaken.shift()!;
      if (flight.done) continue;
      this.settled(flight);
      due.push(flight);
    }
    for (const flight of this.flights.values()) {
      if (flight.handedAt + bound > now) break;
      this.settled(flight);
      due.push(flight);
    }
    const first = this.flights.values().next().value;
    const next = Math.min(
      this.overtaken.length ? this.overtaken[0].overtakenAt! + this.limitMs : Infinity,
      first ? first.handedAt + bound : Infinity,
    );
    if (next < Infinity) this.arm(next);
    if (due.length) this.onOverdue(due);
  }
}

/** The key an event is ordered by: its element, or the request it belongs to (a message's recipient). */
export function orderKey(orderBy: OrderBy, delivery: Delivery): string | undefined {
  if (orderBy === 'none') return undefined;
  const data = delivery.event.data as Record<string, unknown>;
  const element = String(data._id ?? data.id ?? '');
  if (orderBy === 'element') return element;
  const request = delivery.event.requestId ?? data.request_id ?? data.recipient;
  return typeof request === 'string' && request ? request : element;
}

export class Dispatcher {
  private readonly held: Delivery[] = [];
  /** Keys of executions in flight (an execution holds at most one event per key). */
  private readonly busyKeys = new Set<string>();
  private inFlight = 0;
  private batchTimer: TimerHandle | undefined;
  private readonly watch: OverdueWatch;
  private paused = false;
  private closed = false;

  constructor(
    private readonly options: DispatchOptions,
    private readonly host: DispatchHost,
  ) {
    this.watch = new OverdueWatch(host.clock, options.overdueMs, host.endReports ?? processEndReports, (flights) => {
      const now = host.clock.now();
      for (const flight of flights) {
        this.free(flight);
        host.overdue(flight.items, now - flight.handedAt);
      }
      this.dispatch(false);
    });
  }

  /** Events not handed to n8n yet: not delivered, so the saved record must say so. */
  waiting(): Delivery[] {
    return this.held;
  }

  get executionsInFlight(): number {
    return this.inFlight;
  }

  push(deliveries: Delivery[]): void {
    if (this.closed) return;
    this.held.push(...deliveries);
    this.dispatch(false);
  }

  close(): void {
    this.closed = true;
    this.host.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.watch.close();
  }

  /** An execution's keys and slot, freed when it ended or was found overdue. */
  private free(flight: Flight): void {
    this.inFlight -= 1;
    for (const key of flight.keys) this.busyKeys.delete(key);
  }

  private dispatching = false;
  private again = false;

  /** Re-entrant calls (an execution settled while starting others) run after the current pass. */
  private dispatch(timerFired: boolean): void {
    if (this.closed) return;
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = true;
    try {
      let fired = timerFired;
      do {
        this.again = false;
        this.dispatchOnce(fired);
        fired = false;
      } while (this.again && !this.closed);
    } finally {
      this.dispatching = false;
    }
  }

  private dispatchOnce(timerFired: boolean): void {
    const { batchSize, batchMs, maxParallel, orderBy } = this.options;
    const blocked = new Set<string>(); // keys of which an earlier event still waits: later ones must too
    const taken = new Set<string>(); // keys in a batch of this pass
    const rest: Delivery[] = [];
    const batches: Array<{ deliveries: Delivery[]; keys: string[] }> = [];
    let batch: Delivery[] = [];
    let batchKeys = new Set<string>();
    const close = () => {
      batches.push({ deliveries: batch, keys: [...batchKeys] });
      batch = [];
      batchKeys = new Set();
    };
    const full = () => maxParallel > 0 && this.inFlight + batches.length >= maxParallel;
    for (const delivery of this.held) {
      // Events that went out under one deduplication key before a restart go out again as that execution alone.
      if (batch.length && batch[0].dedupKey !== delivery.dedupKey) close();
      const key = orderKey(orderBy, delivery);
      if (full() || (key !== undefined && (this.busyKeys.has(key) || blocked.has(key) || taken.has(key)))) {
        if (key !== undefined) blocked.add(key);
        rest.push(delivery);
        continue;
      }
      batch.push(delivery);
      if (key !== undefined) {
        batchKeys.add(key);
        taken.add(key);
      }
      if (batch.length >= batchSize) close();
    }
    // A partial batch waits for more while the batch time runs, unless the time is up.
    const partialWaits = batch.length > 0 && batchMs > 0 && !timerFired;
    if (batch.length && !partialWaits) close();
    // What stays held is set before anything starts: the record saved with each emit marks it undelivered.
    this.held.length = 0;
    this.held.push(...batch, ...rest);
    for (const { deliveries, keys } of batches) {
      for (const key of keys) this.busyKeys.add(key);
      this.inFlight += 1;
      const flight = this.watch.add(deliveries.length, keys);
      const settle = (outcome: Outcome) => {
        // Only n8n's report of the end is evidence against earlier executions (not a start it cannot report).
        if (outcome === 'finished') this.watch.reported(flight);
        if (flight.done) return;
        this.watch.settled(flight);
        this.free(flight);
        this.dispatch(false);
      };
      this.host.start(deliveries, settle);
    }
    if (!partialWaits) {
      this.host.clock.clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    } else if (!this.batchTimer) {
      this.batchTimer = this.host.clock.setTimeout(() => {
        this.batchTimer = undefined;
        this.dispatch(true);
      }, batchMs);
    }
    this.flowControl();
  }

  private flowControl(): void {
    const { maxHeld } = this.options;
    if (!this.paused && this.held.length > maxHeld) {
      this.paused = true;
      this.host.pause();
    } else if (this.paused && this.held.length <= maxHeld / 2) {
      this.paused = false;
      this.host.resume();
    }
  }
}

function whole(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : fallback;
  return Math.min(max, Math.max(min, n));
}

/** The trigger's options as dispatch options (clamped to the node's bounds), or undefined when all are off. */
export function dispatchOptions(options: {
  orderBy?: unknown;
  batchSize?: unknown;
  batchWaitMs?: unknown;
  maxParallel?: unknown;
  maxHeld?: unknown;
  orderWaitSeconds?: unknown;
}): DispatchOptions | undefined {
  const orderBy: OrderBy = options.orderBy === 'element' || options.orderBy === 'request' ? options.orderBy : 'none';
  const result: DispatchOptions = {
    orderBy,
    batchSize: whole(options.batchSize, 1, 1, 1000),
    batchMs: whole(options.batchWaitMs, 0, 0, 60_000),
    maxParallel: whole(options.maxParallel, 0, 0, 1000),
    maxHeld: whole(options.maxHeld, DEFAULT_MAX_HELD, 10, 100_000),
    overdueMs: whole(options.orderWaitSeconds, DEFAULT_OVERDUE_SECONDS, 5, 86_400) * 1000,
  };
  const off = orderBy === 'none' && result.batchSize === 1 && result.batchMs === 0 && result.maxParallel === 0;
  return off ? undefined : result;
}
