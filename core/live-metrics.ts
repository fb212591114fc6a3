// A metrics engine kept live on a connection handle: the project's open requests, the agents found in their
// participants (or listed), and, after every reconnect, a paced confirmation of the requests the snapshot
// could not vouch for. Built on the public subscribe API only; hosts own the interval at which they read it.
import { buildTopic } from './topics';
import { timerDelay } from './limits';
import { MetricsEngine, type LiveMetrics, type MetricsOptions } from './metrics';
import { forecastStaffing, type Forecast, type ForecastInput } from './forecast';
import type { ConnectionHandle, Subscription } from './registry';
import type { TimerHandle } from './platform';
import type { ConnectionStatus, RealtimeEvent } from './types';

export interface LiveMetricsOptions extends MetricsOptions {
  projectId: string;
  /** Agents' user ids to watch from the start (besides those found in requests' participants). */
  agents?: readonly string[];
  /** Watch every participant of a request as an agent. Default true. */
  discoverAgents?: boolean;
  /** Agent topics held at most. Default 500. */
  maxAgentTopics?: number;
  /** After a reconnect: requests looked up per second, at once, and at most. Defaults 50, 10, 5 000. */
  confirmPerSecond?: number;
  confirmConcurrency?: number;
  maxConfirmations?: number;
  subscribeTimeoutMs?: number;
  /** After every applied event (hosts rate-limit their output on it). */
  onChange?: () => void;
  /** Non-fatal trouble (an agent topic refused, the requests topic failing), already redacted. */
  onWarning?: (message: string) => void;
}

export class LiveMetricsSession {
  readonly engine: MetricsEngine;
  /** Resolves when the open-requests snapshot arrived. */
  readonly ready: Promise<void>;
  private readonly requests: Subscription;
  private readonly agentSubs = new Map<string, Subscription>();
  private readonly offStatus: () => void;
  private readonly confirmQueue: Array<{ id: string; requestId: string }> = [];
  private readonly confirmSubs = new Set<Subscription>();
  private confirmTimer?: TimerHandle;
  private wasDisconnected = false;
  private closed = false;
  /** Look-ups answered and left unanswered since the session started, for diagnostics. */
  readonly confirmations = { looked: 0, unknown: 0 };

  constructor(
    private readonly handle: ConnectionHandle,
    private readonly options: LiveMetricsOptions,
  ) {
    this.engine = new MetricsEngine(options.projectId, options);
    this.offStatus = handle.onStatus((status) => this.onStatus(status));
    this.requests = handle.subscribe(buildTopic({ kind: 'requests', projectId: options.projectId }), {
      emitSnapshot: true,
      subscribeTimeoutMs: options.subscribeTimeoutMs,
      onEvent: (event) => this.onRequest(event),
      onError: (error) => this.warn(error.message),
    });
    this.ready = this.requests.ready;
    for (const userId of options.agents ?? []) this.watchAgent(userId);
  }

  /** Resolves once the requests snapshot and the agent records asked for so far have answered (or after `timeoutMs`). */
  async settled(timeoutMs = 5_000): Promise<void> {
    await this.ready;
    const clock = this.handle.clock;
    let timer: TimerHandle | undefined;
    const limit = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, timerDelay(timeoutMs))));
    try {
      await Promise.race([Promise.allSettled([...this.agentSubs.values()].map((sub) => sub.ready)), limit]);
    } finally {
      clock.clearTimeout(timer);
    }
  }

  metrics(): LiveMetrics {
    this.engine.confirming = this.confirmQueue.length + this.confirmSubs.size;
    return this.engine.metrics();
  }

  /** The forecast for the live figures (arrival rate and handle time from the window unless given). */
  forecast(
    input: Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>,
  ): Forecast | { error: string } {
    return forecastFromMetrics(this.metrics(), input);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.clock.clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    this.confirmQueue.length = 0;
    this.offStatus();
    this.requests.close();
    for (const sub of this.agentSubs.values()) sub.close();
    this.agentSubs.clear();
    for (const sub of this.confirmSubs) sub.close();
    this.confirmSubs.clear();
  }

  private onRequest(event: RealtimeEvent): void {
    if (this.closed) return;
    this.engine.applyRequestEvent(event);
    if (this.options.discoverAgents !== false && Array.isArray(event.data.participants)) {
      for (const userId of event.data.participants) if (typeof userId === 'string') this.watchAgent(userId);
    }
    this.options.onChange?.();
  }

  private watchAgent(userId: string): void {
    if (this.closed || this.agentSubs.has(userId)) return;
    if (this.agentSubs.size >= (this.options.maxAgentTopics ?? 500)) return;
    let topic: string;
    try {
      topic = buildTopic({ kind: 'custom', topic: `/${this.options.projectId}/project_users/users/${userId}` });
    } catch {
      return; // a participant id that cannot form a topic (a bot's name with a space...) is not an agent we can watch
    }
    const sub = this.handle.subscribe(topic, {
      emitSnapshot: true,
      subscribeTimeoutMs: this.options.subscribeTimeoutMs,
      onEvent: (event) => {
        if (this.closed) return;
        this.engine.applyAgentRecord(event.data, event.method);
        this.options.onChange?.();
      },
      onError: () => undefined, // reported once below, from `ready`
    });
    this.agentSubs.set(userId, sub);
    sub.ready.catch((error: Error) => {
      if (this.closed) return;
      this.warn(
        `The agent record of user ${userId} is not available (${error.message}); that agent is left out of the agent figures.`,
      );
      sub.close();
      this.engine.removeAgent(userId);
    });
  }

  private onStatus(status: ConnectionStatus): void {
    if (status.state === 'connecting' || status.state === 'reconnecting') {
      if (this.requests.isReady) this.wasDisconnected = true;
    } else if (status.state === 'connected' && this.wasDisconnected) {
      this.wasDisconnected = false;
      this.scheduleConfirmation();
    }
  }

  /**
   * A full open-requests snapshot (the server's limit, 100) proves nothing about the requests not in it: each known
   * request is looked up on its own topic, at a bounded pace, so closed ones leave and the others stay.
   */
  private scheduleConfirmation(): void {
    if (this.closed) return;
    const max = this.options.maxConfirmations ?? 5_000;
    const queued = new Set(this.confirmQueue.map((c) => c.id));
    for (const known of this.engine.knownRequests()) {
      if (this.confirmQueue.length >= max) break;
      if (known.requestId && !queued.has(known.id))
        this.confirmQueue.push({ id: known.id, requestId: known.requestId });
    }
    if (this.confirmTimer || this.confirmQueue.length === 0) return;
    const perSecond = Math.max(1, this.options.confirmPerSecond ?? 50);
    const concurrency = Math.max(1, this.options.confirmConcurrency ?? 10);
    // A budget that grows with elapsed time keeps the average pace at perSecond whatever the timer's granularity.
    const clock = this.handle.clock;
    const startedAt = clock.now();
    const tickMs = Math.max(5, Math.min(100, Math.floor(1000 / perSecond)));
    let started = 0;
    // An interval, as a timeout re-armed at each tick until the queue and the look-ups in flight are done.
    const tick = () => {
      this.confirmTimer = undefined;
      if (this.closed) return;
      if (this.confirmQueue.length === 0) {
        if (this.confirmSubs.size === 0) return this.options.onChange?.();
        this.confirmTimer = clock.setTimeout(tick, tickMs);
        return;
      }
      const allowed = Math.floor(((clock.now() - startedAt) * perSecond) / 1000) + 1 - started;
      for (let i = 0; i < allowed && this.confirmQueue.length && this.confirmSubs.size < concurrency; i++) {
        started++;
        this.confirmOne(this.confirmQueue.shift()!);
      }
      this.confirmTimer = clock.setTimeout(tick, tickMs);
    };
    this.confirmTimer = clock.setTimeout(tick, tickMs);
  }

  private confirmOne(item: { id: string; requestId: string }): void {
    let found = false;
    let sub: Subscription;
    try {
      sub = this.handle.subscribe(
        buildTopic({ kind: 'request', projectId: this.options.projectId, requestId: item.requestId }),
        {
          emitSnapshot: true,
          subscribeTimeoutMs: this.options.subscribeTimeoutMs,
          onEvent: (event) => {
            found = true;
            if (this.closed) return;
            this.engine.applyRequestEvent({ method: event.method, data: event.data });
            this.options.onChange?.();
          },
        },
      );
    } catch {
      this.confirmations.unknown += 1;
      return;
    }
    this.confirmSubs.add(sub);
    sub.ready.then(
      () => {
        this.confirmations.looked += 1;
        // The request topic answers null when the request is gone or no longer visible: it leaves the figures.
        if (!found && !this.closed) {
          this.engine.applyRequestEvent({ method: 'DELETE', data: { _id: item.id } });
          this.options.onChange?.();
        }
        sub.close();
        this.confirmSubs.delete(sub);
      },
      () => {
        // No answer in time proves nothing: kept as it is, asked again after the next reconnect.
        this.confirmations.unknown += 1;
        sub.close();
        this.confirmSubs.delete(sub);
      },
    );
  }

  private warn(message: string): void {
    try {
      this.options.onWarning?.(message);
    } catch {
      // A host's callback must not break the session.
    }
  }
}

/**
 * Forecast input from live metrics: the window's arrival rate and average handle time unless given, and the agents
 * on line now (available or busy). Returns { error } when a figure the forecast needs is not known yet.
 */
export function forecastFromMetrics(
  metrics: LiveMetrics,
  input: Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>,
): Forecast | { error: string } {
  const arrivalsPerHour = input.arrivalsPerHour ?? metrics.window.arrivalsPerHour;
  const ahtSeconds = input.ahtSeconds ?? metrics.window.handleTime.avgSeconds ?? undefined;
  if (ahtSeconds === undefined || ahtSeconds <= 0) {
    return {
      error:
        'No handle time is known yet (no request was closed after an assignment in the window): give the average handle time.',
    };
  }
  try {
    return forecastStaffing({
      ...input,
      arrivalsPerHour,
      ahtSeconds,
      agents: input.agents ?? metrics.agents.available + metrics.agents.busy,
    });
  } catch (error) {
    return { error: (error as Error).message };
  }
}
