// One WebSocket to one (endpoint, token): handshake, heartbeats, reconnection, topic subscriptions,
// snapshot reconciliation and delivery to every subscriber. Hosts never see this class directly:
// they get ref-counted handles from registry.ts.
import { Backoff, type ConnectBudget } from './backoff';
import { ConnectionClosedError, RateLimitedError, TokenRefusedError, messageOf } from './errors';
import { FrameBatch } from './frame-batch';
import {
  heartbeatFrame,
  parseFrame,
  subscribeFrame,
  unsubscribeFrame,
  elementId,
  type IncomingFrame,
} from './protocol';
import { redact, redactError } from './redact';
import { openSocket } from './handshake';
import type { Clock, PlatformSocket, TimerHandle } from './platform';
import { checkBound, timerDelay } from './limits';
import { describeEndpoint } from './endpoint';
import { parseTopic, type ParsedTopic } from './topics';
import { TOPIC_KIND_DESCRIPTIONS } from './topic-kinds';
import { TopicTracker, sameState, type Change } from './tracker';
import {
  DEFAULT_SUBSCRIBE_TIMEOUT_MS,
  MAX_PROBES_PER_SNAPSHOT,
  SubscriptionImpl,
  type ProbeOutcome,
  type SubscriptionHost,
} from './subscription';
import type { ConnectionOptions, ConnectionStatus, Element, Logger, RealtimeEvent, SubscribeOptions } from './types';

export type ResolvedOptions = Required<Omit<ConnectionOptions, 'logger'>> & { logger?: Logger };

export const DEFAULTS = {
  allowInsecure: false,
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  pongTimeoutMs: 10_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
  stableAfterMs: 30_000,
  maxConnectsPerMinute: 10,
  defaultRetryAfterMs: 60_000,
  lingerMs: 3_000,
  maxFrameBytes: 32 * 1024 * 1024,
  maxFrameNodes: 200_000,
  requestsSnapshotLimit: TOPIC_KIND_DESCRIPTIONS.requests.snapshotLimit,
  maxTrackedPerTopic: 5_000,
  maxTrackedBytesPerTopic: 64 * 1024 * 1024,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
} as const;

// How many look-ups (brief subscribes) of missing requests are in flight at once.
const PROBE_CONCURRENCY = 20;
const CLOSE_GRACE_MS = 2_000;
// Frames waiting to be sent beyond this: the peer is not reading, whatever the timing says.
const MAX_SEND_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ConnectionStats {
  connectAttempts: number;
  connectsOpened: number;
  framesReceived: number;
  eventsDelivered: number;
  malformedFrames: number;
  duplicatesDropped: number;
  reconnects: number;
  pongsSent: number;
}

/** What a handle registers to hear connection-wide news. */
export interface ConnectionListener {
  status?(status: ConnectionStatus): void;
  warning?(message: string): void;
}

interface Channel {
  topic: string;
  parsed: ParsedTopic;
  tracker: TopicTracker;
  holders: Set<SubscriptionImpl>;
  awaitingSnapshot: boolean;
  /** Internal one-shot waiters (probes) resolved with the next snapshot. */
  snapshotWaiters: Array<(elements: Element[] | undefined) => void>;
  /** Live events of a list topic that arrived before its snapshot, applied in order after it. */
  earlyLive?: Array<{ method: RealtimeEvent['method']; elements: Element[]; receivedAt: string }>;
}

// A list topic's snapshot is an array; a single object while waiting for it is a live event that overtook it.
const MAX_EARLY_LIVE = 1_000;

export class RealtimeConnection implements SubscriptionHost {
  readonly stats: ConnectionStats = {
    connectAttempts: 0,
    connectsOpened: 0,
    framesReceived: 0,
    eventsDelivered: 0,
    malformedFrames: 0,
    duplicatesDropped: 0,
    reconnects: 0,
    pongsSent: 0,
  };
  private socket?: PlatformSocket;
  private statusValue: ConnectionStatus = { state: 'idle' };
  private readonly channels = new Map<string, Channel>();
  /** The channel of the last publish frame, while it is in `channels`. */
  private lastChannel?: Channel;
  private readonly listeners = new Set<ConnectionListener>();
  private readonly backoff: Backoff;
  private readonly budget: ConnectBudget;
  private reconnectTimer?: TimerHandle;
  private pingTimer?: TimerHandle;
  private deadTimer?: TimerHandle;
  private stableTimer?: TimerHandle;
  /** The socket being closed by stop(), and what to call when it has. */
  private closing?: { socket: PlatformSocket; done: () => void };
  readonly clock: Clock;
  private stopped = false;
  /** receivedAtNow's last millisecond and its ISO text. */
  private lastReceivedMs = Number.NaN;
  private lastReceivedAt = '';
  private everOpened = false;
  /** A pong written but not yet flushed: a server flooding pings while not reading gets no more until it drains. */
  private pongPending = false;
  /** Counts sockets opened and stop(): a socket's events count only while it is the current one. */
  private generation = 0;
  /** Since when the socket's outgoing buffer has not emptied (checked at each own ping). */
  private sendStalledSince?: number;
  /** Holders that asked to pause delivery (flow control): while any does, the socket is not read. */
  private readonly pausedBy = new Set<object>();
  /** Ends the current socket as failed (set while a socket exists). */
  private failCurrent?: (error: Error) => void;
  private lastError?: Error;

  /** `budget` is the process-wide one of this (endpoint, token): see sharedBudget. */
  constructor(
    readonly options: ResolvedOptions,
    budget: ConnectBudget,
  ) {
    this.clock = options.platform.clock;
    this.backoff = new Backoff(options.backoffInitialMs, options.backoffMaxMs);
    this.budget = budget;
  }

  get status(): ConnectionStatus {
    return this.statusValue;
  }

  get endpointForDisplay(): string {
    return describeEndpoint(this.options.endpoint);
  }

  get topics(): string[] {
    return [...this.channels.keys()];
  }

  /** Estimated bytes held by the per-topic trackers (diagnostics). */
  get trackedBytes(): number {
    let total = 0;
    for (const channel of this.channels.values()) total += channel.tracker.estimatedBytes;
    return total;
  }

  get isOpen(): boolean {
    return this.socket?.state === 'open';
  }

  addListener(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get isPaused(): boolean {
    return this.pausedBy.size > 0;
  }

  /**
   * Flow control: while any `owner` holds a pause, the socket is not read, so frames wait in the kernel and at
   * the server instead of in this process. Our own pings still go out (the server must not think us dead), but
   * silence is not held against the server meanwhile. A server that cuts the paused client is reconnected on
   * resume, and the snapshot then recovers what changed.
   */
  pauseDelivery(owner: object): void {
    if (this.pausedBy.has(owner)) return;
    this.pausedBy.add(owner);
    if (this.pausedBy.size === 1) {
      this.socket?.pause?.();
      this.clock.clearTimeout(this.deadTimer);
      this.deadTimer = undefined;
    }
  }

  resumeDelivery(owner: object): void {
    if (!this.pausedBy.delete(owner) || this.pausedBy.size > 0) return;
    this.socket?.resume?.();
  }

  /** Starts connecting if not already connected or connecting. */
  start(): void {
    if (this.stopped || this.socket || this.reconnectTimer || this.statusValue.state === 'failed') return;
    this.connect();
  }

  subscribe(topic: string, options: SubscribeOptions): SubscriptionImpl {
    checkBound('subscribeTimeoutMs', options.subscribeTimeoutMs);
    const parsed = parseTopic(topic);
    let channel = this.channels.get(topic);
    if (!channel) {
      channel = {
        topic,
        parsed,
        tracker: new TopicTracker(
          parsed.kind,
          this.options.maxTrackedPerTopic,
          this.options.requestsSnapshotLimit,
          this.options.maxTrackedBytesPerTopic,
        ),
        holders: new Set(),
        awaitingSnapshot: false,
        snapshotWaiters: [],
      };
      this.channels.set(topic, channel);
    }
    const subscription = new SubscriptionImpl(this, topic, parsed, options);
    channel.holders.add(subscription);
    if (channel.tracker.hasSnapshot && !channel.awaitingSnapshot) {
      // The topic is already held: its known state is this subscriber's snapshot; no new wire subscribe.
      queueMicrotask(() => subscription.receiveInitial(channel!.tracker.elements()));
    } else if (!channel.awaitingSnapshot) {
      this.sendSubscribe(channel);
    } else {
      subscription.startSnapshotTimer();
    }
    this.start();
    if (this.statusValue.state === 'failed' && this.lastError) subscription.fail(this.lastError);
    return subscription;
  }

  /** A topic nobody holds any more: unsubscribed on the wire. */
  private dropChannel(channel: Channel): void {
    this.channels.delete(channel.topic);
    if (this.lastChannel === channel) this.lastChannel = undefined;
    this.send(unsubscribeFrame(channel.topic));
  }

  /** Called by a subscription when it closes: the last holder unsubscribes on the wire. */
  removeHolder(subscription: SubscriptionImpl): void {
    const channel = this.channels.get(subscription.topic);
    if (!channel || !channel.holders.delete(subscription)) return;
    if (channel.holders.size === 0 && channel.snapshotWaiters.length === 0) this.dropChannel(channel);
  }

  /** Closes the socket for good. Resolves when it is closed, or after a bounded grace period. */
  stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const channel of this.channels.values()) {
      for (const holder of channel.holders) holder.fail(new ConnectionClosedError());
      for (const waiter of channel.snapshotWaiters.splice(0)) waiter(undefined);
    }
    this.channels.clear();
    this.lastChannel = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.generation += 1;
    this.setStatus({ state: 'closed' });
    if (!socket || socket.state === 'closed') return Promise.resolve();
    if (socket.state === 'connecting') {
      socket.terminate();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const force = this.clock.setTimeout(() => {
        this.closing = undefined;
        socket.terminate();
        resolve();
      }, CLOSE_GRACE_MS);
      this.closing = {
        socket,
        done: () => {
          this.closing = undefined;
          this.clock.clearTimeout(force);
          socket.terminate();
          resolve();
        },
      };
      socket.close(1000, 'client closing');
    });
  }

  // ---- socket lifecycle ----------------------------------------------------------------------

  private connect(): void {
    const wait = this.budget.waitMs(this.clock.now());
    if (wait > 0) {
      this.scheduleReconnect(wait, this.lastError);
      return;
    }
    this.budget.record(this.clock.now());
    this.stats.connectAttempts += 1;
    this.setStatus({ state: this.everOpened ? 'reconnecting' : 'connecting', attempt: this.backoff.attempts + 1 });
    const generation = ++this.generation;
    const current = () => this.generation === generation;
    let ended = false;
    // Read only from the callbacks below, which never fire during openSocket itself (SocketFactory's contract).
    // eslint-disable-next-line prefer-const
    let socket: PlatformSocket | undefined;
    // The frames of this socket, handled in batches (see frame-batch.ts); the socket's other events flush it first.
    const batch = new FrameBatch((texts) => this.onMessages(texts, current));
    const end = (error: Error) => {
      if (ended || !current()) return;
      ended = true;
      this.socket = undefined;
      this.failCurrent = undefined;
      socket?.terminate();
      const permanent = error instanceof TokenRefusedError;
      const minDelayMs = error instanceof RateLimitedError ? error.retryAfterMs : 0;
      this.onDisconnected(redactError(error, this.options.token), permanent, minDelayMs);
    };
    socket = openSocket(this.options, this.options.platform, {
      open: () => current() && socket && this.onOpen(socket),
      failed: end,
      // The probe is a connection too: the server counts it against the same per-minute limit.
      claimProbe: () => this.budget.claim(this.clock.now()),
      message: (text) => {
        if (current()) batch.push(text);
      },
      binary: () => {
        if (!current()) return;
        batch.flush();
        this.onFrames(1);
        this.malformed('binary frame');
      },
      error: (error) => {
        batch.flush();
        const message = error.tooLarge
          ? `A frame larger than ${this.options.maxFrameBytes} bytes was received and refused; reconnecting.`
          : `The connection to ${this.endpointForDisplay} failed: ${error.message}; reconnecting.`;
        end(new ConnectionClosedError(message));
      },
      close: (code, reason) => {
        batch.flush();
        if (socket && this.closing?.socket === socket) return this.closing.done();
        // Redacted before it is shortened: a cut through the token would hide it from the patterns.
        const detail = reason.length ? `${code} ${redact(reason, this.options.token).slice(0, 200)}` : String(code);
        end(new ConnectionClosedError(`The Pingstreams connection closed (${detail}); reconnecting.`));
      },
    });
    if (!ended) {
      this.socket = socket;
      this.failCurrent = end;
    }
  }

  private onOpen(socket: PlatformSocket): void {
    if (this.socket !== socket) return;
    if (this.isPaused) socket.pause?.();
    if (this.everOpened) this.stats.reconnects += 1;
    this.everOpened = true;
    this.lastError = undefined;
    this.stats.connectsOpened += 1;
    this.setStatus({ state: 'connected' });
    this.stableTimer = this.clock.setTimeout(() => this.backoff.reset(), timerDelay(this.options.stableAfterMs));
    this.schedulePing();
    for (const channel of this.channels.values()) this.sendSubscribe(channel);
  }

  /** The heartbeat: an interval, as a timeout re-armed at each ping (the Clock has one-shot timers only). */
  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(() => {
      this.schedulePing();
      this.sendPing();
    }, timerDelay(this.options.pingIntervalMs));
  }

  private sendPing(): void {
    // Incoming frames prove the peer sends, not that it reads: a socket whose outgoing buffer never drains is
    // as dead as a silent one (and every pong queued on it would be memory held for nothing).
    const socket = this.socket;
    if (socket && socket.bufferedAmount > 0) {
      const now = this.clock.now();
      this.sendStalledSince ??= now;
      if (now - this.sendStalledSince >= this.options.pongTimeoutMs || socket.bufferedAmount > MAX_SEND_BUFFER_BYTES) {
        const message = `${this.endpointForDisplay} stopped reading what this client sends (${socket.bufferedAmount} bytes waiting for over ${Math.round((now - this.sendStalledSince) / 1000)} s); the connection is unhealthy, reconnecting.`;
        this.warn(message);
        this.failCurrent?.(new ConnectionClosedError(message));
        return;
      }
    } else {
      this.sendStalledSince = undefined;
    }
    if (!this.send(heartbeatFrame('ping')) || this.deadTimer || this.isPaused) return;
    this.deadTimer = this.clock.setTimeout(() => {
      this.deadTimer = undefined;
      const message = `No answer from ${this.endpointForDisplay} within ${this.options.pongTimeoutMs} ms of a heartbeat; the connection is dead, reconnecting.`;
      this.warn(message);
      this.failCurrent?.(new ConnectionClosedError(message));
    }, timerDelay(this.options.pongTimeoutMs));
  }

  private onDisconnected(error: Error, permanent: boolean, minDelayMs: number): void {
    this.clearTimers();
    this.lastError = error;
    for (const channel of this.channels.values()) {
      channel.awaitingSnapshot = false;
      channel.earlyLive = undefined; // the next snapshot tells what they told
      for (const holder of channel.holders) holder.stopSnapshotTimer();
    }
    if (this.stopped) return;
    if (permanent) {
      this.setStatus({ state: 'failed', error });
      for (const channel of this.channels.values()) for (const holder of channel.holders) holder.fail(error);
      return;
    }
    if (this.backoff.attempts >= this.options.maxReconnectAttempts) {
      const gaveUp = new ConnectionClosedError(
        `Gave up connecting to ${this.endpointForDisplay} after ${this.backoff.attempts} attempts. Last error: ${error.message}`,
      );
      this.lastError = gaveUp;
      this.setStatus({ state: 'failed', error: gaveUp });
      for (const channel of this.channels.values()) for (const holder of channel.holders) holder.fail(gaveUp);
      return;
    }
    const delay = Math.max(this.backoff.next(), minDelayMs, this.budget.waitMs(this.clock.now()));
    // Transient trouble is the connection's status, not the subscriptions' concern: they resume after it.
    this.scheduleReconnect(delay, error);
  }

  private scheduleReconnect(delayMs: number, error?: Error): void {
    this.clock.clearTimeout(this.reconnectTimer);
    this.setStatus({
      state: this.everOpened ? 'reconnecting' : 'connecting',
      retryInMs: delayMs,
      error,
      attempt: this.backoff.attempts,
    });
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.connect();
    }, timerDelay(delayMs));
  }

  private clearTimers(): void {
    this.pongPending = false;
    this.sendStalledSince = undefined;
    this.clock.clearTimeout(this.pingTimer);
    this.clock.clearTimeout(this.deadTimer);
    this.clock.clearTimeout(this.stableTimer);
    this.pingTimer = this.deadTimer = this.stableTimer = undefined;
  }

  // ---- frames --------------------------------------------------------------------------------

  send(frame: string): boolean {
    const socket = this.socket;
    if (!socket || socket.state !== 'open') return false;
    socket.send(frame);
    return true;
  }

  /** At most one pong in flight: the server needs one frame per heartbeat period, not one per ping it floods. */
  private sendPong(): void {
    const socket = this.socket;
    if (this.pongPending || !socket || socket.state !== 'open') return;
    this.pongPending = true;
    this.stats.pongsSent += 1;
    socket.send(heartbeatFrame('pong'), () => {
      if (this.socket === socket) this.pongPending = false;
    });
  }

  private sendSubscribe(channel: Channel): void {
    if (!this.send(subscribeFrame(channel.topic))) return;
    channel.awaitingSnapshot = true;
    for (const holder of channel.holders) holder.startSnapshotTimer();
  }

  /** The ISO time of now, formatted once per millisecond: frames arrive far more often than that. */
  private receivedAtNow(): string {
    const now = this.clock.now();
    if (now !== this.lastReceivedMs) {
      this.lastReceivedMs = now;
      this.lastReceivedAt = new Date(now).toISOString();
    }
    return this.lastReceivedAt;
  }

  /** Any frame proves the peer alive. */
  private onFrames(count: number): void {
    this.stats.framesReceived += count;
    this.clock.clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
  }

  /** Frames received together (see frame-batch.ts): all parsed, then each handled, while the socket is current. */
  private onMessages(texts: string[], current: () => boolean): void {
    if (!current()) return;
    this.onFrames(texts.length);
    const receivedAt = this.receivedAtNow();
    const frames = texts.map((text) => this.readFrame(text));
    for (let i = 0; i < frames.length && current(); i++) {
      try {
        this.onFrame(frames[i], texts[i], receivedAt);
      } catch (error) {
        // Hostile content (100 000 levels of nesting) makes even JSON.stringify throw; thrown here it would crash the host.
        this.malformed(`a frame could not be processed: ${messageOf(error)}`);
      }
    }
  }

  private readFrame(text: string): IncomingFrame {
    try {
      // Counted before parsing: 30 MB of "{}," is ten million objects and gigabytes once parsed.
      const nodes = countNodesUpTo(text, this.options.maxFrameNodes);
      if (nodes > this.options.maxFrameNodes) {
        return {
          type: 'malformed',
          reason: `a frame of ${text.length} characters holds more than ${this.options.maxFrameNodes} objects and arrays (maxFrameNodes); refused unparsed`,
        };
      }
      return parseFrame(text);
    } catch (error) {
      return { type: 'malformed', reason: `a frame could not be read: ${messageOf(error)}` };
    }
  }

  private onFrame(frame: IncomingFrame, text: string, receivedAt: string): void {
    switch (frame.type) {
      case 'ping':
        this.sendPong();
        return;
      case 'pong':
        return;
      case 'ignored':
        return;
      case 'malformed':
        return this.malformed(frame.reason);
      case 'publish': {
        if (frame.rejected)
          this.malformed(
            `${frame.rejected} element(s) of a publish on ${frame.topic} are not objects and were skipped`,
          );
        // Frames come in runs on one topic: comparing it with the last one's costs less than hashing it.
        let channel = this.lastChannel;
        if (channel === undefined || channel.topic !== frame.topic)
          channel = this.lastChannel = this.channels.get(frame.topic);
        if (!channel) return; // late frames for a topic nobody holds any more
        if (
          channel.awaitingSnapshot &&
          !frame.wasArray &&
          frame.elements.length === 1 &&
          TOPIC_KIND_DESCRIPTIONS[channel.parsed.kind].shape === 'list'
        ) {
          // Some servers register the subscriber before sending the snapshot, so a live event can come first.
          channel.earlyLive ??= [];
          if (channel.earlyLive.length < MAX_EARLY_LIVE)
            channel.earlyLive.push({ method: frame.method, elements: frame.elements, receivedAt });
          else
            this.warn(
              `More than ${MAX_EARLY_LIVE} live events arrived on ${channel.topic} before its snapshot; the later ones are left to the snapshot.`,
            );
          return;
        }
        if (channel.awaitingSnapshot) return this.onSnapshot(channel, frame.elements, receivedAt);
        // A one-element frame's text is what the tracker keeps of its element: no second serialization.
        return this.onLive(
          channel,
          frame.method,
          frame.elements,
          receivedAt,
          frame.elements.length === 1 ? text : undefined,
        );
      }
    }
  }

  private malformed(reason: string): void {
    this.stats.malformedFrames += 1;
    // Logged for the first ones, then sparsely, so a flood of garbage cannot flood the host's log.
    const n = this.stats.malformedFrames;
    if (n <= 10 || n % 1000 === 0) {
      this.warn(
        `Ignored a malformed frame from ${this.endpointForDisplay} (${reason}); ${n} so far. Later events are unaffected.`,
      );
    }
  }

  private onSnapshot(channel: Channel, elements: Element[], receivedAt: string): void {
    this.applySnapshot(channel, elements, receivedAt);
    const early = channel.earlyLive;
    channel.earlyLive = undefined;
    for (const live of early ?? []) this.onLive(channel, live.method, live.elements, live.receivedAt);
  }

  private applySnapshot(channel: Channel, elements: Element[], receivedAt: string): void {
    channel.awaitingSnapshot = false;
    const firstSnapshot = !channel.tracker.hasSnapshot;
    const diff = channel.tracker.applySnapshot(elements);
    for (const waiter of channel.snapshotWaiters.splice(0)) waiter(elements);
    for (const holder of [...channel.holders]) {
      holder.stopSnapshotTimer();
      // The frame's own elements, not the tracker's copy: that one holds only elements with an id, and at most
      // maxTrackedPerTopic of them; a snapshot the holder asked for is emitted whole.
      if (!holder.isReady) holder.receiveInitial(elements, receivedAt);
      else if (!firstSnapshot) holder.receiveRecovered(diff.changes, receivedAt);
    }
    if (diff.missing.length) {
      this.resolveMissing(channel, diff.missing, (changes) => {
        for (const holder of channel.holders) if (holder.isReady) holder.receiveRecovered(changes, receivedAt);
      });
    }
    if (channel.holders.size === 0 && channel.snapshotWaiters.length === 0) this.dropChannel(channel);
  }

  private onLive(
    channel: Channel,
    method: RealtimeEvent['method'],
    elements: Element[],
    receivedAt: string,
    frame?: string,
  ): void {
    // One flags object per frame, shared by its events' deliveries (deliver only reads it).
    const flags = { snapshot: false, recovered: false, receivedAt };
    for (const element of elements) {
      const change = channel.tracker.applyLive(method, element, frame);
      if (!change) {
        this.stats.duplicatesDropped += 1;
        continue;
      }
      for (const holder of channel.holders) if (holder.isReady) holder.deliver(change, flags);
    }
  }

  /**
   * Requests that left the open-requests snapshot while we were away: closed, deleted, or no longer
   * visible. Each request's own topic tells its final state (closed ones included).
   */
  private resolveMissing(channel: Channel, missing: Element[], emit: (changes: Change[]) => void): void {
    const probed = missing.slice(0, MAX_PROBES_PER_SNAPSHOT);
    if (missing.length > probed.length) {
      this.warn(
        `${missing.length} requests left ${channel.topic} while disconnected; only the first ${probed.length} are looked up.`,
      );
      for (const element of missing.slice(probed.length)) forgetElement(channel, element);
    }
    const askable: Element[] = [];
    for (const known of probed) {
      if (typeof known.request_id === 'string') askable.push(known);
      else forgetElement(channel, known); // no topic to ask
    }
    this.lookUpRequests(channel.topic, channel.parsed.projectId, askable, emit, (known, outcome) => {
      const current = channel.tracker.get(elementId(known) ?? '');
      if (current !== known) return undefined; // changed meanwhile by a live event: that event told the story
      // Unknown (no answer in time, connection lost): keep it, the next snapshot asks again.
      if (outcome.state === 'unknown') return undefined;
      forgetElement(channel, known);
      if (outcome.state === 'gone') return { method: 'DELETE', data: known, previous: known };
      return sameState(outcome.element, known)
        ? undefined
        : { method: 'UPDATE', data: outcome.element, previous: known };
    });
  }

  /**
   * Requests missing from a snapshot of `topic`, each looked up on its own topic (PROBE_CONCURRENCY at a time)
   * and judged by the caller; the changes found go to `emit`. A failure is warned, never thrown.
   */
  lookUpRequests(
    topic: string,
    projectId: string,
    requests: readonly Element[],
    emit: (changes: Change[]) => void,
    judge: (request: Element, outcome: ProbeOutcome) => Change | undefined,
  ): void {
    mapLimited(requests, PROBE_CONCURRENCY, async (request) =>
      judge(request, await this.probe(`/${projectId}/requests/${String(request.request_id)}`)),
    )
      .then((results) => {
        const changes = results.filter((change): change is Change => change !== undefined);
        if (changes.length && !this.stopped) emit(changes);
      })
      .catch((error: unknown) => this.warn(`Looking up requests missing from ${topic} failed: ${String(error)}`));
  }

  /**
   * The current state of one request topic: from memory when held, else a brief subscribe. The topic answers
   * whatever the status, and null when the request is gone or not visible; no answer in time proves nothing.
   */
  probe(topic: string): Promise<ProbeOutcome> {
    let channel = this.channels.get(topic);
    if (channel?.tracker.hasSnapshot && !channel.awaitingSnapshot)
      return Promise.resolve(outcomeOf(channel.tracker.elements()));
    if (!channel) {
      let parsed: ParsedTopic;
      try {
        parsed = parseTopic(topic);
      } catch {
        // A request_id from the server that cannot form a topic: nothing to ask, and nothing proven.
        return Promise.resolve({ state: 'unknown' });
      }
      channel = {
        topic,
        parsed,
        tracker: new TopicTracker(parsed.kind, 1, 1),
        holders: new Set(),
        awaitingSnapshot: false,
        snapshotWaiters: [],
      };
      this.channels.set(topic, channel);
    }
    const target = channel;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => finish(undefined), DEFAULT_SUBSCRIBE_TIMEOUT_MS);
      const finish = (elements: Element[] | undefined) => {
        this.clock.clearTimeout(timer);
        const index = target.snapshotWaiters.indexOf(finish);
        if (index >= 0) target.snapshotWaiters.splice(index, 1);
        if (target.holders.size === 0 && target.snapshotWaiters.length === 0 && this.channels.get(topic) === target)
          this.dropChannel(target);
        resolve(elements ? outcomeOf(elements) : { state: 'unknown' });
      };
      target.snapshotWaiters.push(finish);
      if (!target.awaitingSnapshot) this.sendSubscribe(target);
    });
  }

  // ---- status --------------------------------------------------------------------------------

  private setStatus(status: ConnectionStatus): void {
    this.statusValue = status;
    for (const listener of [...this.listeners]) {
      try {
        listener.status?.(status);
      } catch {
        // A host's status callback must never break the connection.
      }
    }
  }

  warn(message: string): void {
    const text = redact(message, this.options.token);
    this.options.logger?.warn(text);
    for (const listener of [...this.listeners]) {
      try {
        listener.warning?.(text);
      } catch {
        // as above
      }
    }
  }

  countDelivered(): void {
    this.stats.eventsDelivered += 1;
  }

  failure(): Error | undefined {
    return this.statusValue.state === 'failed' ? this.lastError : undefined;
  }
}

// Frames this small cannot hold enough objects to matter: not scanned.
const NODE_SCAN_FROM_BYTES = 64 * 1024;

/**
 * An upper bound of the objects and arrays in a JSON text ("{" and "[", those in strings included), counted
 * up to `limit` + 1. Linear and allocation-free: tens of milliseconds for the largest frame accepted.
 */
export function countNodesUpTo(text: string, limit: number): number {
  if (typeof text !== 'string' || text.length < NODE_SCAN_FROM_BYTES || text.length <= limit) return 0;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code === 0x7b || code === 0x5b) && ++count > limit) return count;
  }
  return count;
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export type { ProbeOutcome };

function outcomeOf(elements: Element[]): ProbeOutcome {
  return elements[0] ? { state: 'found', element: elements[0] } : { state: 'gone' };
}

function forgetElement(channel: Channel, element: Element): void {
  const id = elementId(element);
  if (id !== undefined) channel.tracker.forget(id);
}
