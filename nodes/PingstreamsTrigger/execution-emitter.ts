// Hands executions to n8n through emit() and its done promise, and emits again the ones n8n reports it could not
// start (e.g. its database was busy), backing off while that keeps happening. Each execution carries a deduplication
// key: until n8n reports it finished, the saved record counts its events as not delivered, and a restart emits them
// again under the same key, which n8n refuses to run twice (its executions table holds the key). Kept apart from
// trigger() so the state it keeps (what is in flight, what waits, the retry timer) is tested on its own.
import type { INodeExecutionData, IRun } from 'n8n-workflow';
import { redact } from '../../core/portable';
import type { RealtimeEvent } from '../../core/portable';
import type { Clock, TimerHandle } from '../../core/platform';
import { InFlightElements } from './execution-keys';

/** n8n's IDeferredPromise (from @n8n/utils, not re-exported by n8n-workflow). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** What the emitter needs of n8n's trigger functions. */
export interface EmitHost {
  /** The platform's clock: no Node timer globals in the n8n package. */
  clock: Clock;
  emit(
    data: INodeExecutionData[][],
    responsePromise?: undefined,
    donePromise?: Deferred<IRun>,
    deduplicationKey?: string,
  ): void;
  createDeferredPromise<T>(): Deferred<T>;
  logger: { warn(message: string): void; error(message: string): void };
}

/** An event that passed the filter, and the output it becomes. */
export interface Delivery {
  output: unknown;
  event: RealtimeEvent;
  /**
   * The deduplication key of the execution that carried this event before a restart, when n8n had not reported
   * its end by the last save: emitted again under it, n8n runs it only if it never did.
   */
  dedupKey?: string;
}

/** An execution handed to n8n whose end n8n has not reported yet. */
export interface InFlight {
  key: string;
  deliveries: Delivery[];
}

/** How an execution handed to n8n ended, as far as the trigger can tell. */
export type Outcome =
  /** It ran (successfully or not), or was cancelled: its events are done with. */
  | 'finished'
  /** n8n cannot report it (e.g. Engine 2.0): handed over, nothing more is known. */
  | 'unconfirmed'
  /** Given up: dropped at the bound, or the trigger closed before n8n started it. */
  | 'abandoned';

/** When n8n cannot start an execution: wait, then emit it again (backing off while it keeps failing). */
export const RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** While executions end one after another: the record in memory is brought up to date at most this often. */
export const REFRESH_DELAY_MS = 1_000;
/**
 * How often an execution whose worker stopped while running it (see workerLost) is emitted again: a batch that kills
 * its worker every time (out of memory) must not take the workers down forever.
 */
export const MAX_RERUNS = 3;
/** Items kept for emitting again, per trigger, so a long outage of n8n's database cannot exhaust memory. */
export const MAX_ITEMS_WAITING = 10_000;
/**
 * How long events that went out under a key before a restart, recovered apart from the first execution sent under
 * it again, wait for n8n's answer to that one. n8n skips a duplicate key as it inserts the execution (at once); an
 * execution not skipped by then was created, so its key had not run.
 */
export const VERDICT_WAIT_MS = 30_000;

/**
 * Whether an error is of an n8n error class, by name along its prototype chain: the package may load its own copy
 * of n8n-workflow, so `instanceof` against n8n's classes is unreliable.
 */
export function isErrorClass(error: unknown, name: string): boolean {
  for (
    let proto = error !== null && typeof error === 'object' ? Object.getPrototypeOf(error) : null;
    proto;
    proto = Object.getPrototypeOf(proto)
  ) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === name) return true;
  }
  return false;
}

/**
 * Whether n8n rejected the done promise of emit() because the execution ran, or was stopped while it ran (by a user,
 * a timeout or a shutdown): its events are done with. Any other rejection means no node ran: n8n could not create or
 * queue it (e.g. its database or Redis was busy), or ended it inside its start, before the trigger could wait for it
 * (n8n 2.40's `failExecution`, e.g. a pre-execution check reading Redis while it loads: the execution is gone, so the
 * wait fails with ExecutionNotFoundError).
 */
export function executionRan(error: unknown): boolean {
  return isErrorClass(error, 'ExecutionCancelledError');
}

/**
 * Whether a finished run is one whose worker stopped while running it (killed, out of memory): in queue mode n8n
 * marks such a job failed and never runs it again (Bull's maxStalledCount is 0), keeping only the error's message.
 */
export function workerLost(run: unknown): boolean {
  const message = resultDataOf(run)?.error?.message;
  return typeof message === 'string' && WORKER_LOST.test(message);
}
const WORKER_LOST = /failed to be processed too many times|job stalled more than maxStalledCount/;

/**
 * Why n8n ended a run before any node ran, or undefined when the workflow ran (successfully or not). In queue mode
 * a job its worker failed while preparing it (Redis still loading after a restart, its execution gone from the
 * database) ends with the job's error and no node's data, not even the trigger's; a run of the workflow, failed or
 * not, has the trigger's data (or, as a worker reports it, the last node executed). Nothing ran: it is emitted again
 * like an execution n8n could not start.
 */
export function endedBeforeAnyNode(run: unknown): string | undefined {
  const resultData = resultDataOf(run);
  const message = resultData?.error?.message;
  if (typeof message !== 'string' || workerLost(run)) return undefined;
  const { runData } = resultData!;
  const noNodeRan =
    runData !== null &&
    typeof runData === 'object' &&
    Object.keys(runData).length === 0 &&
    resultData!.lastNodeExecuted === undefined;
  return noNodeRan ? `n8n ended it before any node ran: ${message}` : undefined;
}

function resultDataOf(
  run: unknown,
): { error?: { message?: unknown }; runData?: unknown; lastNodeExecuted?: unknown } | undefined {
  return (run as { data?: { resultData?: ReturnType<typeof resultDataOf> } } | undefined)?.data?.resultData;
}

export function toItem(output: unknown): INodeExecutionData {
  return {
    json: (output !== null && typeof output === 'object' && !Array.isArray(output)
      ? output
      : { value: output }) as INodeExecutionData['json'],
  };
}

interface Waiting {
  deliveries: Delivery[];
  settled?: (outcome: Outcome) => void;
  /** How often its worker stopped while running it (see MAX_RERUNS). */
  reruns?: number;
}

/**
 * A key from before a restart. n8n takes one execution under a key, so the first one sent under it again asks n8n
 * whether it ran: skipped as a duplicate, it did, and so did every event that went out under it; else none did.
 * Events of the key recovered apart from that first execution (a later snapshot diff, a look-up, a batch limit)
 * wait for the answer, then are done with or go out under a new key.
 */
interface RestoredKey {
  /** Undefined until the answer: whether n8n had run an execution under this key. */
  ranBefore?: boolean;
  held: Waiting[];
  timer?: TimerHandle;
}

export interface ExecutionEmitterOptions {
  nodeName: string;
  /** Starts every deduplication key: n8n's key is unique across all workflows, so it names the workflow and node. */
  keyPrefix: string;
  /** Redacted from every logged error message. */
  token: string;
  /** Called before each emit and whenever what waits changes: the trigger saves its catch-up record then. */
  onStateChange(): void;
  maxItemsWaiting?: number;
  retryDelaysMs?: number[];
}

export class ExecutionEmitter {
  /** Executions n8n could not start, waiting to be emitted again. */
  private readonly notStarted: Waiting[] = [];
  /** Executions handed to n8n, by deduplication key, until n8n reports their end. */
  private readonly inFlight = new Map<string, Delivery[]>();
  /** Their elements, for the saved record (execution-keys.ts). */
  readonly inFlightElements = new InFlightElements();
  /** Keys from before a restart that came back (see RestoredKey). Bounded by the note they came from. */
  private readonly restoredKeys = new Map<string, RestoredKey>();
  private keysMade = 0;
  private retryTimer: TimerHandle | undefined;
  private refreshTimer: TimerHandle | undefined;
  private failuresInARow = 0;
  /** Whether emit()'s done promise tells if n8n started the execution. */
  private reportsStart = true;
  private closed = false;
  private readonly maxItemsWaiting: number;
  private readonly retryDelaysMs: number[];

  constructor(
    private readonly host: EmitHost,
    private readonly options: ExecutionEmitterOptions,
  ) {
    this.maxItemsWaiting = options.maxItemsWaiting ?? MAX_ITEMS_WAITING;
    this.retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  }

  /** The events of executions n8n has not started yet: not delivered, so a restart emits them again. */
  undelivered(): RealtimeEvent[] {
    return this.notStarted.flatMap(({ deliveries }) => deliveries.map(({ event }) => event));
  }

  /** Executions handed to n8n and not reported finished: the saved record counts them as not delivered yet. */
  executionsInFlight(): InFlight[] {
    return Array.from(this.inFlight, ([key, deliveries]) => ({ key, deliveries }));
  }

  /** Items waiting to be emitted again. */
  get waiting(): number {
    return this.notStarted.reduce((sum, { deliveries }) => sum + deliveries.length, 0);
  }

  /** One execution holding one item per delivery; `settled` hears once how it ended. */
  emit(deliveries: Delivery[], settled?: (outcome: Outcome) => void): void {
    this.emitAll([{ deliveries, settled }]);
  }

  /**
   * Several executions at once (a burst): all are counted in flight first and the record is brought up to date
   * once, so a burst of N costs one record, not N. A record that counts one as in flight a moment before it is
   * handed over is on the safe side: a restart would emit it again under a key n8n never saw.
   */
  emitAll(executions: Waiting[]): void {
    if (this.closed) return;
    const ready: Array<Waiting & { key: string }> = [];
    const ranBefore: Waiting[] = [];
    for (const execution of executions) {
      if (execution.deliveries.length === 0) continue;
      const restoredKey = sharedRestoredKey(execution.deliveries);
      const restored = restoredKey === undefined ? undefined : this.restoredKeys.get(restoredKey);
      if (restoredKey === undefined || restored?.ranBefore === false) {
        ready.push({ ...execution, key: this.newKey() });
      } else if (restored === undefined) {
        // The first execution under it again. Without n8n's answer to come, later ones cannot wait for one.
        this.restoredKeys.set(restoredKey, { held: [], ranBefore: this.reportsStart ? undefined : false });
        ready.push({ ...execution, key: restoredKey });
      } else if (restored.ranBefore) ranBefore.push(execution);
      else this.hold(restoredKey, restored, execution);
    }
    if (ready.length > 0) {
      if (this.reportsStart) {
        for (const { key, deliveries } of ready) {
          this.inFlight.set(key, deliveries);
          this.inFlightElements.add(key, deliveries);
        }
      }
      this.options.onStateChange();
      for (const execution of ready) this.handOver(execution);
    }
    for (const { settled } of ranBefore) this.finished(settled);
  }

  /** Waits for n8n's answer to the first execution under `key` (bounded), counted in flight under that key. */
  private hold(key: string, restored: RestoredKey, execution: Waiting): void {
    restored.held.push(execution);
    this.inFlightElements.add(key, execution.deliveries);
    restored.timer ??= this.host.clock.setTimeout(() => this.answered(key, false), VERDICT_WAIT_MS);
  }

  /** n8n's answer for a key from before a restart: what waited for it is done with, or goes out under a new key. */
  private answered(key: string, ranBefore: boolean): void {
    const restored = this.restoredKeys.get(key);
    if (restored === undefined || restored.ranBefore !== undefined) return;
    restored.ranBefore = ranBefore;
    this.host.clock.clearTimeout(restored.timer);
    restored.timer = undefined;
    const held = restored.held.splice(0);
    for (const { deliveries } of held) this.inFlightElements.remove(key, deliveries);
    if (ranBefore) for (const { settled } of held) this.finished(settled);
    else this.emitAll(held);
  }

  private handOver(execution: Waiting & { key: string }): void {
    const { key, deliveries, settled } = execution;
    const items = deliveries.map(({ output }) => toItem(output));
    if (!this.reportsStart) {
      this.host.emit([items], undefined, undefined, key);
      settled?.('unconfirmed');
      return;
    }
    const done = this.host.createDeferredPromise<IRun>();
    this.host.emit([items], undefined, done, key);
    done.promise.then(
      (run) => {
        this.ended(key, deliveries);
        const { reruns } = execution;
        if (run === undefined) {
          // No run: n8n skipped it as a duplicate of its key, or ended it inside its start without data (n8n 2.40's
          // failExecution). Only a key from before a restart can be a duplicate: that execution ran then.
          const restored = this.restoredKeys.has(key);
          this.answered(key, restored);
          if (restored) return this.finished(settled);
          return this.notStartedBy({ deliveries, settled, reruns }, new Error('n8n ended it before it ran'));
        }
        this.answered(key, false);
        if (workerLost(run)) return this.rerun(execution, 'the worker running it stopped before it finished');
        const notRun = endedBeforeAnyNode(run);
        if (notRun !== undefined) return this.notStartedBy({ deliveries, settled, reruns }, new Error(notRun));
        this.failuresInARow = 0;
        this.finished(settled);
      },
      (error: unknown) => {
        this.ended(key, deliveries);
        this.answered(key, false);
        if (executionRan(error)) return this.finished(settled);
        if (isErrorClass(error, 'UserError')) {
          // This workflow's settings rule out waiting (e.g. n8n's Engine 2.0): emit as before, unconfirmed.
          this.reportsStart = false;
          this.host.logger.warn(
            `[Pingstreams] ${this.options.nodeName}: n8n cannot report whether this workflow's executions start (${(error as Error).message}); emitting without that check.`,
          );
          return this.emit(deliveries, settled);
        }
        const { reruns } = execution;
        this.notStartedBy({ deliveries, settled, reruns }, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** Its worker stopped: emitted again, a few times (a side effect the workflow had made already is made again). */
  private rerun({ deliveries, settled, reruns = 0 }: Waiting, why: string): void {
    if (reruns >= MAX_RERUNS) {
      this.host.logger.error(
        `[Pingstreams] ${this.options.nodeName}: dropped ${deliveries.length} item(s): ${redact(why, this.options.token)}, ${reruns + 1} times. Check the workers' logs: a worker that runs out of memory on these items stops every time.`,
      );
      this.finished(settled);
      return;
    }
    this.notStartedBy({ deliveries, settled, reruns: reruns + 1 }, new Error(why));
  }

  private ended(key: string, deliveries: Delivery[]): void {
    this.inFlight.delete(key);
    this.inFlightElements.remove(key, deliveries);
  }

  /**
   * Its events are done with. The record in memory says so at once when nothing else is in flight, else within
   * REFRESH_DELAY_MS (ends trickling in cost one save a second); n8n stores it with the next emit, which brings it
   * up to date anyway.
   */
  private finished(settled: ((outcome: Outcome) => void) | undefined): void {
    if (this.closed) {
      // nothing: the record saved last stands
    } else if (this.inFlight.size === 0) {
      this.options.onStateChange(); // the last one of a burst, or one on its own: the record is current at once
    } else if (!this.refreshTimer) {
      this.refreshTimer = this.host.clock.setTimeout(() => {
        this.refreshTimer = undefined;
        if (!this.closed) this.options.onStateChange();
      }, REFRESH_DELAY_MS);
    }
    settled?.('finished');
  }

  /** Time and randomness make it unique across restarts; it only ever goes to n8n. */
  private newKey(): string {
    this.keysMade += 1;
    const random = Math.floor(Math.random() * 2 ** 48).toString(36);
    return `${this.options.keyPrefix}:${Date.now().toString(36)}.${this.keysMade.toString(36)}.${random}`;
  }

  /** Stops emitting; what still waits is given up (the saved record has it as undelivered). */
  close(): void {
    this.closed = true;
    this.host.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.host.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    // What waits for n8n's answer on a restored key stays noted under it: the next restart asks again.
    for (const restored of this.restoredKeys.values()) {
      this.host.clock.clearTimeout(restored.timer);
      restored.timer = undefined;
      for (const { settled } of restored.held) settled?.('abandoned');
    }
    // The list stays: the record saved last still marks these undelivered, and a later save must too.
    for (const { settled } of this.notStarted) settled?.('abandoned');
  }

  private notStartedBy(waiting: Waiting, error: Error): void {
    const name = this.options.nodeName;
    if (this.closed) {
      this.host.logger.warn(
        `[Pingstreams] ${name}: n8n did not start an execution for ${waiting.deliveries.length} item(s) before the trigger closed (${redact(error.message, this.options.token)}).`,
      );
      waiting.settled?.('abandoned');
      return;
    }
    this.notStarted.push(waiting);
    let count = this.waiting;
    while (count > this.maxItemsWaiting) {
      const dropped = this.notStarted.shift()!;
      count -= dropped.deliveries.length;
      this.host.logger.error(
        `[Pingstreams] ${name}: dropped ${dropped.deliveries.length} item(s) n8n could not start an execution for: more than ${this.maxItemsWaiting} items were waiting. Check n8n's log for why executions fail to start (often a busy database).`,
      );
      dropped.settled?.('abandoned');
    }
    this.options.onStateChange();
    if (this.retryTimer) return;
    this.failuresInARow += 1;
    const delays = this.retryDelaysMs;
    const delayMs = delays[Math.min(this.failuresInARow, delays.length) - 1];
    this.host.logger.warn(
      `[Pingstreams] ${name}: n8n could not start the execution for ${count} item(s) (${redact(error.message, this.options.token)}); emitting again in ${delayMs / 1000} s.`,
    );
    this.retryTimer = this.host.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.emitAll(this.notStarted.splice(0));
    }, delayMs);
  }
}

/** The key from before a restart that all of an execution's events went out under, if they share one. */
function sharedRestoredKey(deliveries: readonly Delivery[]): string | undefined {
  const key = deliveries[0].dedupKey;
  return key !== undefined && deliveries.every((d) => d.dedupKey === key) ? key : undefined;
}
