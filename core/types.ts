// Public types of the realtime core. Hosts (n8n, Node-RED, CLI) depend only on these and on core/index.ts.
import type { Platform } from './platform';
import type { TopicKind } from './topic-kinds';

export type { TopicKind } from './topic-kinds';

export type Method = 'CREATE' | 'UPDATE' | 'DELETE';
export const METHODS: readonly Method[] = ['CREATE', 'UPDATE', 'DELETE'];

/** A JSON object as published by the server (a request, a message, a project user...). */
export type Element = Record<string, unknown>;

/** One event per published element. */
export interface RealtimeEvent {
  method: Method;
  topic: string;
  kind: TopicKind;
  projectId: string;
  requestId?: string;
  data: Element;
  /** The element's last known state before this event, when known. */
  previous?: Element;
  /** True for elements of the snapshot the server sends on subscribe. */
  snapshot: boolean;
  /** True for changes found by comparing a snapshot after a reconnect (or after downtime) with what was known. */
  recovered: boolean;
  /** ISO time the frame was received. */
  receivedAt: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Set while reconnecting: delay before the next attempt. */
  retryInMs?: number;
  /** Why the last attempt or connection failed (already redacted). */
  error?: Error;
  /** Attempt number since the last stable connection. */
  attempt?: number;
}

export interface Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ConnectionOptions {
  /** WebSocket endpoint, e.g. wss://eu.rtmv3.pingstreams.com/api/ */
  endpoint: string;
  /** JWT, bare or with the `JWT ` prefix. */
  token: string;
  /** Allow ws:// to a non-loopback host. Default false. */
  allowInsecure?: boolean;
  /** Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** Own heartbeat ping interval. Default 15 000 ms. */
  pingIntervalMs?: number;
  /** Socket declared dead when no frame arrives this long after our ping. Default 10 000 ms. */
  pongTimeoutMs?: number;
  /** Reconnect backoff: first delay (default 1 000), cap (default 60 000). Full jitter. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Connection considered stable (backoff reset) after this long. Default 30 000 ms. */
  stableAfterMs?: number;
  /** Attempts in a row after which the connection gives up (state 'failed'). Default: never gives up. */
  maxReconnectAttempts?: number;
  /** Local budget of new connection attempts per rolling minute. Default 10. */
  maxConnectsPerMinute?: number;
  /** Wait when a 429/503 carries no Retry-After. Default 60 000 ms. */
  defaultRetryAfterMs?: number;
  /** After the last holder releases, keep the socket this long (a redeploy re-acquires it). Default 3 000 ms. */
  lingerMs?: number;
  /** Largest accepted frame. Default 32 MiB. */
  maxFrameBytes?: number;
  /** Most objects and arrays one frame may hold (counted before parsing). Default 200 000. */
  maxFrameNodes?: number;
  /** Open-requests snapshot limit of the server (absence from a full snapshot proves nothing). Default 100. */
  requestsSnapshotLimit?: number;
  /** Bound on elements remembered per topic. Default 5 000. */
  maxTrackedPerTopic?: number;
  /** Bound on the estimated bytes (JSON length) of the elements remembered per topic. Default 64 MiB. */
  maxTrackedBytesPerTopic?: number;
  /**
   * Time and sockets (core/platform.ts): nodePlatform (core/node-platform.ts) in Node hosts. Default: the one given
   * to setDefaultPlatform. The first holder's platform serves every holder of the same (endpoint, token).
   */
  platform?: Platform;
  logger?: Logger;
}

export interface SubscribeOptions {
  /** Called once per element, in order. */
  onEvent: (event: RealtimeEvent) => void;
  /** Non-fatal and fatal errors for this subscription (already redacted). */
  onError?: (error: Error) => void;
  /** Emit the elements of the first snapshot (snapshot: true). Default false. */
  emitSnapshot?: boolean;
  /** Emit changes recovered from a later snapshot (recovered: true). Default true. */
  emitRecovered?: boolean;
  /** Time to wait for the snapshot that confirms the subscription. Default 10 000 ms. */
  subscribeTimeoutMs?: number;
  /** Fingerprints remembered from an earlier run (see Subscription.exportState): changes since are emitted as recovered. */
  resumeState?: ResumeState;
  /**
   * Keep a record of what was delivered, for Subscription.exportState() (the n8n trigger stores it to resume after a
   * restart). Default false, unless resumeState is given: the record costs time on every event.
   */
  resumable?: boolean;
}

/** Bounded record of what a subscriber has seen: element id -> fingerprint (updatedAt or content hash). */
export interface ResumeState {
  topic: string;
  seen: Record<string, string>;
  /** For request elements: _id -> request_id, so a request missing from a later snapshot can be looked up. */
  requestIds?: Record<string, string>;
}
