// One socket per (endpoint, token) in the process, shared through ref-counted handles.
import { RealtimeConnection, DEFAULTS, type ResolvedOptions } from './connection';
import { checkEndpoint } from './endpoint';
import { forgetBudgets, sharedBudget } from './backoff';
import { stripJwtPrefix } from './redact';
import type { ConnectionOptions, ConnectionStatus, RealtimeEvent, SubscribeOptions, ResumeState } from './types';
import { PingstreamsError } from './errors';
import { checkBound, OPTION_BOUNDS, timerDelay } from './limits';
import type { Clock, Platform, TimerHandle } from './platform';

export interface Subscription {
  readonly topic: string;
  /** Resolves when the first snapshot arrived (and its events, if asked for, were delivered). */
  readonly ready: Promise<void>;
  /** True once the first snapshot arrived: from then on exportState() is a complete record. */
  readonly isReady: boolean;
  /**
   * The resume record to store; `undelivered` events (the host could not deliver them yet) count as not delivered,
   * so the next resume emits them again (ResumeRecord.toState). `stateOf` may give their deliveredState.
   */
  exportState(undelivered?: readonly RealtimeEvent[], stateOf?: (event: RealtimeEvent) => string): ResumeState;
  close(): void;
}

export interface ConnectionHandle {
  readonly status: ConnectionStatus;
  /** The connection's clock, for helpers built on a handle (live metrics). */
  readonly clock: Clock;
  /** Returns a function that removes the listener. The current status is not replayed. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
  /** Malformed frames, dead sockets and similar non-fatal news, already redacted. */
  onWarning(listener: (message: string) => void): () => void;
  subscribe(topic: string, options: SubscribeOptions): Subscription;
  /**
   * Flow control for a host that cannot keep up (stdout not draining, executions not starting): stop reading
   * the socket until resume(). Memory stays bounded; see RealtimeConnection.pauseDelivery. Idempotent.
   */
  pause(): void;
  resume(): void;
  /** Idempotent. Closes this handle's subscriptions; the socket closes after `lingerMs` once no handle is left. */
  release(): void;
}

interface Entry {
  connection: RealtimeConnection;
  handles: number;
  lingerTimer?: TimerHandle;
}

const entries = new Map<string, Entry>();
let defaultPlatform: Platform | undefined;

/** The platform of connections whose options name none (a host's entry point or a test setup sets it once). */
export function setDefaultPlatform(platform: Platform | undefined): void {
  defaultPlatform = platform;
}

export function resolveOptions(options: ConnectionOptions): ResolvedOptions {
  if (!options || typeof options.token !== 'string' || stripJwtPrefix(options.token).length === 0) {
    throw new PingstreamsError('TOKEN_MISSING', 'No Pingstreams access token is set: add the JWT to the credentials.');
  }
  const resolved = { ...DEFAULTS, platform: defaultPlatform, ...stripUndefined(options) } as ResolvedOptions;
  if (!resolved.platform) {
    throw new PingstreamsError(
      'PLATFORM_MISSING',
      'No platform (time and sockets) was given to the Pingstreams core: pass `platform` (nodePlatform from core/node-platform in Node) or call setDefaultPlatform.',
    );
  }
  for (const name of Object.keys(OPTION_BOUNDS) as Array<keyof typeof OPTION_BOUNDS>) {
    if (name in resolved) checkBound(name, (resolved as unknown as Record<string, unknown>)[name]);
  }
  checkEndpoint(resolved.endpoint, resolved.allowInsecure);
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The token itself, not a hash of it: two tokens must never share a socket, so the compare stays exact. The key
 * lives only in this process's maps (as the token does in the options) and is never logged or exported.
 */
export function keyOf(options: ResolvedOptions): string {
  return `${options.endpoint}\u0000${stripJwtPrefix(options.token)}`;
}

export function acquireConnection(options: ConnectionOptions): ConnectionHandle {
  const resolved = resolveOptions(options);
  const key = keyOf(resolved);
  let entry = entries.get(key);
  if (!entry || entry.connection.status.state === 'closed') {
    entry = {
      connection: new RealtimeConnection(
        resolved,
        sharedBudget(key, resolved.maxConnectsPerMinute, resolved.platform.clock.now()),
      ),
      handles: 0,
    };
    entries.set(key, entry);
  }
  const current = entry;
  current.connection.clock.clearTimeout(current.lingerTimer);
  current.lingerTimer = undefined;
  current.handles += 1;
  return createHandle(key, current);
}

function createHandle(key: string, entry: Entry): ConnectionHandle {
  const connection = entry.connection;
  const subscriptions = new Set<Subscription>();
  const offs: Array<() => void> = [];
  let released = false;
  const owner = {};
  return {
    get status() {
      return connection.status;
    },
    clock: connection.clock,
    onStatus(listener) {
      const off = connection.addListener({ status: listener });
      offs.push(off);
      return off;
    },
    onWarning(listener) {
      const off = connection.addListener({ warning: listener });
      offs.push(off);
      return off;
    },
    subscribe(topic, subscribeOptions) {
      if (released)
        throw new PingstreamsError(
          'HANDLE_RELEASED',
          'This Pingstreams connection handle was released; acquire a new one.',
        );
      const subscription = connection.subscribe(topic, subscribeOptions);
      subscriptions.add(subscription);
      const close = subscription.close.bind(subscription);
      return {
        topic: subscription.topic,
        ready: subscription.ready,
        get isReady() {
          return subscription.isReady;
        },
        exportState: (undelivered, stateOf) => subscription.exportState(undelivered, stateOf),
        close: () => {
          subscriptions.delete(subscription);
          close();
        },
      };
    },
    pause() {
      if (!released) connection.pauseDelivery(owner);
    },
    resume() {
      connection.resumeDelivery(owner);
    },
    release() {
      if (released) return;
      released = true;
      connection.resumeDelivery(owner);
      for (const subscription of [...subscriptions]) subscription.close();
      subscriptions.clear();
      for (const off of offs.splice(0)) off();
      entry.handles -= 1;
      if (entry.handles > 0) return;
      const stop = () => {
        if (entries.get(key) === entry) entries.delete(key);
        void connection.stop();
      };
      if (connection.options.lingerMs <= 0) return stop();
      entry.lingerTimer = connection.clock.setTimeout(stop, timerDelay(connection.options.lingerMs));
    },
  };
}

export interface ConnectionSummary {
  endpoint: string;
  state: string;
  handles: number;
  topics: string[];
  open: boolean;
  /** Estimated bytes of the state remembered per topic (bounded by maxTrackedBytesPerTopic each). */
  trackedBytes: number;
  stats: RealtimeConnection['stats'];
}

/** Process-wide view, for tests, benchmarks and diagnostics. No secrets. */
export function connectionStats(): { sockets: number; connections: ConnectionSummary[] } {
  const connections = [...entries.values()].map(({ connection, handles }) => ({
    endpoint: connection.endpointForDisplay,
    state: connection.status.state,
    handles,
    topics: connection.topics,
    open: connection.isOpen,
    trackedBytes: connection.trackedBytes,
    stats: { ...connection.stats },
  }));
  return { sockets: connections.filter((c) => c.open).length, connections };
}

/** Stops every connection now (tests, process shutdown) and forgets the budgets. Bounded by the close grace period. */
export async function closeAllConnections(): Promise<void> {
  const all = [...entries.values()];
  entries.clear();
  forgetBudgets();
  await Promise.all(
    all.map((entry) => {
      entry.connection.clock.clearTimeout(entry.lingerTimer);
      return entry.connection.stop();
    }),
  );
}
