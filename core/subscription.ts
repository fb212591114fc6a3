// One holder of a topic: its ready promise and timers, its own bounded resume record if asked, and delivery of events to
// the host's callbacks. It sees its connection only through SubscriptionHost; the connection sees it only through
// the methods it calls (receiveInitial, receiveRecovered, deliver, the snapshot timer, fail).
import { ConnectionClosedError, HandshakeError, PingstreamsError, SubscriptionTimeoutError } from './errors';
import { redactError } from './redact';
import { timerDelay } from './limits';
import { fingerprint } from './tracker';
import { ResumeRecord, UNDELIVERED_FINGERPRINT } from './resume';
import type { Change } from './snapshot-diff';
import type { ParsedTopic } from './topics';
import { TOPIC_KIND_DESCRIPTIONS } from './topic-kinds';
import type { Clock, TimerHandle } from './platform';
import type { ConnectionStatus, Element, RealtimeEvent, ResumeState, SubscribeOptions } from './types';

export const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 10_000;
// Requests looked up after one reconnect (or one resume).
export const MAX_PROBES_PER_SNAPSHOT = 500;

export type ProbeOutcome = { state: 'found'; element: Element } | { state: 'gone' } | { state: 'unknown' };

/** What a subscription needs from its connection. */
export interface SubscriptionHost {
  readonly clock: Clock;
  readonly options: {
    readonly token: string;
    readonly handshakeTimeoutMs: number;
    readonly requestsSnapshotLimit: number;
  };
  readonly isOpen: boolean;
  readonly status: ConnectionStatus;
  readonly endpointForDisplay: string;
  /** The permanent failure, once the connection has failed for good. */
  failure(): Error | undefined;
  countDelivered(): void;
  removeHolder(subscription: SubscriptionImpl): void;
  /** Requests missing from a snapshot, each looked up on its own topic and judged; the changes go to `emit`. */
  lookUpRequests(
    topic: string,
    projectId: string,
    requests: readonly Element[],
    emit: (changes: Change[]) => void,
    judge: (request: Element, outcome: ProbeOutcome) => Change | undefined,
  ): void;
}

/** One holder of a topic. If asked, keeps its own bounded record of what it has seen, for resuming later. */
export class SubscriptionImpl {
  readonly topic: string;
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private readyState: 'pending' | 'ready' | 'rejected' = 'pending';
  private snapshotTimer?: TimerHandle;
  private connectTimer?: TimerHandle;
  private closed = false;
  /**
   * What this holder has seen, for resuming later: kept only when asked (resumable, or a resumeState to resume
   * from), as it costs on every event (a map entry per element, evictions) and only exportState() reads it.
   */
  private readonly record: ResumeRecord | undefined;

  constructor(
    private readonly connection: SubscriptionHost,
    topic: string,
    private readonly parsed: ParsedTopic,
    private readonly options: SubscribeOptions,
  ) {
    this.topic = topic;
    this.record = options.resumable === true || options.resumeState !== undefined ? new ResumeRecord() : undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Callers may never await `ready`; an unobserved rejection must not crash the host.
    this.ready.catch(() => undefined);
    if (!connection.isOpen) {
      // Bound the wait when the connection cannot be established at all.
      const limit = connection.options.handshakeTimeoutMs + this.subscribeTimeoutMs;
      this.connectTimer = connection.clock.setTimeout(() => {
        if (this.readyState === 'pending' && !connection.isOpen) {
          this.reject(
            connection.failure() ??
              new HandshakeError(
                `Could not connect to ${connection.endpointForDisplay} within ${Math.round(limit / 1000)} s` +
                  `${connection.status.error ? ` (${connection.status.error.message})` : ''}.`,
              ),
          );
        }
      }, timerDelay(limit));
    }
  }

  get isReady(): boolean {
    return this.readyState === 'ready';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private get subscribeTimeoutMs(): number {
    return this.options.subscribeTimeoutMs ?? DEFAULT_SUBSCRIBE_TIMEOUT_MS;
  }

  /** Also after a reconnect: a server may refuse the re-subscribe (silence) as it would a first one. */
  startSnapshotTimer(): void {
    if (this.closed) return;
    const clock = this.connection.clock;
    clock.clearTimeout(this.snapshotTimer);
    this.snapshotTimer = clock.setTimeout(() => {
      this.snapshotTimer = undefined;
      // Reported exactly as a refused first subscribe; the connection keeps its other topics.
      const refused = new SubscriptionTimeoutError(this.topic, this.subscribeTimeoutMs);
      if (this.readyState !== 'ready') this.reject(refused);
      else this.reportError(refused);
    }, timerDelay(this.subscribeTimeoutMs));
  }

  stopSnapshotTimer(): void {
    this.connection.clock.clearTimeout(this.snapshotTimer);
    this.snapshotTimer = undefined;
  }

  /** The first snapshot this holder sees: emitted only when asked, or diffed against a resumed record. */
  receiveInitial(elements: Element[], receivedAt = new Date(this.connection.clock.now()).toISOString()): void {
    if (this.closed || this.readyState === 'ready') return;
    this.stopSnapshotTimer();
    this.connection.clock.clearTimeout(this.connectTimer);
    const resume =
      this.options.resumeState?.topic === this.topic ? ResumeRecord.read(this.options.resumeState) : undefined;
    if (resume) {
      const { changes, present } = resume.diff(elements);
      this.readyState = 'ready';
      for (const element of elements) this.record?.remember(element);
      this.receiveRecovered(changes, receivedAt);
      if (elements.length === 0 && TOPIC_KIND_DESCRIPTIONS[this.parsed.kind].shape === 'single')
        this.receiveRecovered(this.deletedMeanwhile(resume), receivedAt);
      this.resumeMissing(resume, present, elements.length, receivedAt);
    } else {
      this.readyState = 'ready';
      for (const element of elements) {
        this.record?.remember(element);
        if (this.options.emitSnapshot)
          this.deliver({ method: 'CREATE', data: element }, { snapshot: true, recovered: false, receivedAt });
      }
    }
    this.resolveReady();
  }

  /**
   * A single-object topic answers an empty snapshot when its object is gone: what the record holds was deleted
   * meanwhile, as the tracker concludes after a reconnect. The record keeps no content, so the DELETE carries ids.
   */
  private deletedMeanwhile(resume: ResumeRecord): Change[] {
    return [...resume.ids()].map((id) => {
      const requestId = resume.requestIdOf(id);
      return { method: 'DELETE', data: { _id: id, id, ...(requestId ? { request_id: requestId } : {}) } };
    });
  }

  /** Requests seen before the downtime and absent now: look each up, as after a reconnect. */
  private resumeMissing(resume: ResumeRecord, present: Set<string>, snapshotSize: number, receivedAt: string): void {
    if (
      TOPIC_KIND_DESCRIPTIONS[this.parsed.kind].lookUpMissing !== true ||
      snapshotSize >= this.connection.options.requestsSnapshotLimit
    )
      return;
    const missing: Element[] = [];
    for (const id of resume.ids()) {
      const requestId = resume.requestIdOf(id);
      if (!present.has(id) && requestId) missing.push({ _id: id, id, request_id: requestId, __resumed: true });
    }
    if (!missing.length) return;
    const { projectId } = this.parsed;
    const emit = (changes: Change[]) => this.receiveRecovered(changes, receivedAt);
    this.connection.lookUpRequests(
      this.topic,
      projectId,
      missing.slice(0, MAX_PROBES_PER_SNAPSHOT),
      emit,
      (stub, outcome) => {
        const id = String(stub._id);
        if (this.closed || this.record?.has(id)) return undefined;
        if (outcome.state === 'unknown') {
          // Keep it in the record so the next resume asks again.
          this.record?.rememberFingerprint(
            id,
            resume.fingerprintOf(id) ?? UNDELIVERED_FINGERPRINT,
            String(stub.request_id),
          );
          return undefined;
        }
        if (outcome.state === 'gone') return { method: 'DELETE', data: { _id: id, id, request_id: stub.request_id } };
        return fingerprint(outcome.element) !== resume.fingerprintOf(id)
          ? { method: 'UPDATE', data: outcome.element }
          : undefined;
      },
    );
  }

  receiveRecovered(changes: Change[], receivedAt: string): void {
    for (const change of changes) {
      if (this.options.emitRecovered === false) this.record?.record(change, this.parsed.kind);
      else this.deliver(change, { snapshot: false, recovered: true, receivedAt });
    }
  }

  deliver(change: Change, flags: { snapshot: boolean; recovered: boolean; receivedAt: string }): void {
    if (this.closed) return;
    this.record?.record(change, this.parsed.kind);
    const parsed = this.parsed;
    // One literal per shape, no spreads: this runs for every event. The keys keep the order of RealtimeEvent.
    const { method, data, previous } = change;
    const { snapshot, recovered, receivedAt } = flags;
    const topic = this.topic;
    const { kind, projectId, requestId } = parsed;
    let event: RealtimeEvent;
    if (requestId === undefined)
      event =
        previous === undefined
          ? { method, topic, kind, projectId, data, snapshot, recovered, receivedAt }
          : { method, topic, kind, projectId, data, previous, snapshot, recovered, receivedAt };
    else
      event =
        previous === undefined
          ? { method, topic, kind, projectId, requestId, data, snapshot, recovered, receivedAt }
          : { method, topic, kind, projectId, requestId, data, previous, snapshot, recovered, receivedAt };
    this.connection.countDelivered();
    try {
      this.options.onEvent(event);
    } catch (error) {
      this.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  exportState(undelivered?: readonly RealtimeEvent[], stateOf?: (event: RealtimeEvent) => string): ResumeState {
    if (this.record === undefined)
      throw new Error(
        `exportState() on ${this.topic}: this subscription keeps no resume record. Subscribe with resumable: true to export one.`,
      );
    return this.record.toState(this.topic, undelivered, stateOf);
  }

  /** Permanent failure (token refused, gave up, closed). */
  fail(error: Error): void {
    this.reject(error);
    this.stopTimers();
  }

  private reject(error: Error): void {
    if (this.readyState === 'pending') {
      this.readyState = 'rejected';
      this.rejectReady(error);
    }
    this.reportError(error);
  }

  private reportError(error: Error): void {
    if (this.closed) return;
    try {
      this.options.onError?.(
        error instanceof PingstreamsError ? error : redactError(error, this.connection.options.token),
      );
    } catch {
      // A host's error callback must never break the connection.
    }
  }

  private stopTimers(): void {
    this.stopSnapshotTimer();
    this.connection.clock.clearTimeout(this.connectTimer);
  }

  close(): void {
    if (this.closed) return;
    this.stopTimers();
    if (this.readyState === 'pending') {
      this.readyState = 'rejected';
      this.rejectReady(new ConnectionClosedError('The subscription was closed before its snapshot arrived.'));
    }
    this.closed = true;
    this.connection.removeHolder(this);
  }
}
