// Public types of the emulator module.
import type { Message, Obj, ProjectUser, Request, SeedData } from './model';
import type { DemoRole } from './seed';
import type { JwtClaims } from './jwt';
import type { QueueSimulation, QueueSimulationOptions, QueueTruth } from './queue-simulation';

export type {
  Message,
  Obj,
  ProjectUser,
  Request,
  SeedData,
  DemoRole,
  JwtClaims,
  QueueSimulation,
  QueueSimulationOptions,
  QueueTruth,
};

export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** HS256 secret the tokens are signed with. Default: a fixed development string (DEV_SECRET). */
  secret?: string;
  /** Seed data, or the path of a JSON file holding it. Default: one demo project (see docs/emulator.md). */
  seed?: SeedData | string;
  /** Server heartbeat period; a client silent for a whole period is terminated. Default 30 000 ms. */
  heartbeatIntervalMs?: number;
  /** Snapshot sizes. Defaults: 100 requests, 300 messages. */
  snapshotLimits?: { requests?: number; messages?: number };
  /** Per-user limits (Infinity disables one). Defaults: 120 new connections per minute, 20 concurrent. */
  rateLimits?: { newConnectionsPerMinute?: number; concurrentPerUser?: number };
  /**
   * Generate realistic traffic at about ratePerSecond store changes per second; with `queue`, run the queueing
   * simulation instead (Poisson arrivals, agents, abandonment; ratePerSecond is then unused).
   */
  simulate?: { ratePerSecond: number; randomSeed?: number; queue?: QueueSimulationOptions };
  /** Diagnostic lines (never contain tokens). Default: silent. */
  log?: (line: string) => void;
}

export interface RefuseOptions {
  retryAfterSec?: number;
  reason?: string;
}

export interface EmulatorStats {
  clients: number;
  subscriptions: number;
  subscriptionsByTopic: Record<string, number>;
  /** The same, counting only sockets that are not half-open. */
  liveSubscriptionsByTopic: Record<string, number>;
  connectionsAccepted: number;
  connectionsRefused: Record<string, number>;
  framesSent: number;
  halfOpenSockets: number;
}

export interface EmulatorFaults {
  /** Destroys every socket abruptly (no close frame). Returns how many were dropped. */
  dropAll(): number;
  /** Every current socket goes silent both ways without closing; new connections work. Returns how many. */
  halfOpen(): number;
  /** Refuses the next `count` upgrades with `status` (401, 429, 500, 503...). */
  refuseNext(count: number, status: number, opts?: RefuseOptions): { count: number; status: number };
  /** Drops all sockets, stops listening for downMs (default 500), listens again on the same port. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** The next `count` (default 1) subscribes to `topic` get no answer, as the server does for a topic it refuses. */
  ignoreSubscribe(topic: string, count?: number): { topic: string; count: number };
  /** Sends a raw text frame to every client, or only to the subscribers of `topic`. Returns how many got it. */
  sendRaw(text: string, opts?: { topic?: string }): number;
}

export interface Emulator {
  readonly url: string;
  readonly port: number;
  readonly adminUrl: string;
  readonly projectId: string;
  readonly users: Readonly<Record<DemoRole, string>>;
  readonly projectUsers: Readonly<Record<DemoRole, string>>;
  readonly tokens: Readonly<Record<DemoRole, string>>;
  signToken(claims: JwtClaims, opts?: { expiresInSec?: number }): string;
  createRequest(projectId: string, fields?: Obj): Request;
  updateRequest(projectId: string, requestId: string, patch: Obj): Request;
  closeRequest(projectId: string, requestId: string): Request;
  deleteRequest(projectId: string, requestId: string): Request;
  addMessage(projectId: string, requestId: string, message: { text: string; sender?: string } & Obj): Message;
  setAgentAvailability(projectId: string, projectUserId: string, available: boolean): ProjectUser;
  updateProjectUser(projectId: string, projectUserId: string, patch: Obj): ProjectUser;
  getRequests(projectId: string): Request[];
  getMessages(projectId: string, requestId: string): Message[];
  readonly faults: EmulatorFaults;
  /** The queueing simulation, when started with `simulate.queue`. */
  readonly simulation?: QueueSimulation;
  stats(): EmulatorStats;
  close(): Promise<void>;
}
