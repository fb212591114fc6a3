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
   * How long an execution may stay unreported before its keys are freed anyway: n8n can miss an execution's end
   * (e.g. Redis restarted as a worker finished it), and its elements' later events must not wait forever.
   */
  overdueMs: number;
}

export interface DispatchHost {
  /** The platform's clock: no Node timer globals in the n8n package. */
  clock: Clock;
  /** Hands one execution to n8n; `settled` is called once when it ended (see Outcome). */
  start(batch: Delivery[], settled: (outcome: Outcome) => void): void;
  pause(): void;
  resume(): void;
  /** An execution of `items` events was not reported within overdueMs: its keys were freed. */
  overdue(items: number): void;
}

export const DEFAULT_MAX_HELD = 5_000;
export const DEFAULT_OVERDUE_SECONDS = 300;

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
  private readonly overdueTimers = new Set<TimerHandle>();
  private paused = false;
  private closed = false;

  constructor(
    private readonly options: DispatchOptions,
    private readonly host: DispatchHost,
  ) {}

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
    for (const timer of this.overdueTimers) this.host.clock.clearTimeout(timer);
    this.overdueTimers.clear();
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
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        this.host.clock.clearTimeout(overdue);
        this.overdueTimers.delete(overdue);
        this.inFlight -= 1;
        for (const key of keys) this.busyKeys.delete(key);
        this.dispatch(false);
      };
      const overdue = this.host.clock.setTimeout(() => {
        if (settled || this.closed) return;
        this.host.overdue(deliveries.length);
        settle();
      }, this.options.overdueMs);
      this.overdueTimers.add(overdue);
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
