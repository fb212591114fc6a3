// The emulator: an http server whose upgrades speak the Pingstreams realtime protocol (docs/protocol.md).
import { createServer, IncomingMessage, Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { handleAdmin } from './admin';
import { signJwt, verifyJwt, JwtClaims } from './jwt';
import { cryptoRng, isOpenRequest, Message, Obj, ProjectUser, Request, seededRng, STATUS } from './model';
import { completeDemoRoles, DemoRole, DEMO_ROLES, loadSeed } from './seed';
import { Simulator } from './simulate';
import { QueueSimulation } from './queue-simulation';
import { Store, StoreChange } from './store';
import type { Emulator, EmulatorFaults, EmulatorOptions, EmulatorStats, RefuseOptions } from './types';

/** Default signing secret: the emulator is a local development tool, its tokens are not secrets of any account. */
export const DEV_SECRET = 'pingstreams-emulator-dev-secret';
const DEFAULT_TOKEN_TTL_SEC = 30 * 24 * 3600;
const MAX_CLIENT_FRAME_BYTES = 1024 * 1024;
const MAX_TOPIC_LENGTH = 1024;
const CONCURRENT_RETRY_AFTER_SEC = 10;
const CLOSE_TIMEOUT_MS = 2000;

interface Client {
  id: number;
  ws: WebSocket;
  socket: Socket;
  userId: string;
  topics: Set<string>;
  /** Sent at least one frame since the last server ping. */
  alive: boolean;
  halfOpen: boolean;
}

interface PendingRefusal {
  remaining: number;
  status: number;
  retryAfterSec?: number;
  reason?: string;
}

const frame = (action: string, payload: unknown): string => JSON.stringify({ action, payload });
const HEARTBEAT_PING = frame('heartbeat', { message: { text: 'ping' } });
const HEARTBEAT_PONG = frame('heartbeat', { message: { text: 'pong' } });

export class EmulatorServer implements Emulator {
  url = '';
  port = 0;
  adminUrl = '';
  readonly projectId: string;
  readonly users: Readonly<Record<DemoRole, string>>;
  readonly projectUsers: Readonly<Record<DemoRole, string>>;
  readonly tokens: Readonly<Record<DemoRole, string>>;
  readonly faults: EmulatorFaults;
  readonly store: Store;

  private readonly host: string;
  private readonly secret: string;
  private readonly heartbeatIntervalMs: number;
  private readonly limits: { requests: number; messages: number };
  private readonly rate: { perMinute: number; concurrent: number };
  private readonly log: (line: string) => void;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly topicSubs = new Map<string, Set<Client>>();
  private readonly attempts = new Map<string, number[]>();
  private readonly refused: Record<string, number> = {};
  private accepted = 0;
  private framesSent = 0;
  private nextClientId = 1;
  private refusal: PendingRefusal | undefined;
  /** Topic -> how many more subscribes to it get no answer (fault). */
  private readonly ignoredSubscribes = new Map<string, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private restartTimer: { timer: NodeJS.Timeout; done: () => void } | undefined;
  private simulator: Simulator | QueueSimulation | undefined;
  private closing: Promise<void> | undefined;
  private readonly requestedPort: number;

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.secret = opts.secret ?? DEV_SECRET;
    this.requestedPort = positiveInt(opts.port ?? 0, 'port', true);
    this.heartbeatIntervalMs = positiveInt(opts.heartbeatIntervalMs ?? 30_000, 'heartbeatIntervalMs');
    this.limits = {
      requests: positiveInt(opts.snapshotLimits?.requests ?? 100, 'snapshotLimits.requests'),
      messages: positiveInt(opts.snapshotLimits?.messages ?? 300, 'snapshotLimits.messages'),
    };
    this.rate = {
      perMinute: limit(opts.rateLimits?.newConnectionsPerMinute ?? 120, 'rateLimits.newConnectionsPerMinute'),
      concurrent: limit(opts.rateLimits?.concurrentPerUser ?? 20, 'rateLimits.concurrentPerUser'),
    };
    this.log = opts.log ?? (() => undefined);
    if (
      opts.simulate !== undefined &&
      !opts.simulate.queue &&
      !(typeof opts.simulate.ratePerSecond === 'number' && opts.simulate.ratePerSecond > 0)
    ) {
      throw new Error('simulate.ratePerSecond must be a number greater than 0.');
    }
    const rng = opts.simulate?.randomSeed !== undefined ? seededRng(opts.simulate.randomSeed) : cryptoRng;
    const idStore = new Store({}, rng); // only used for ids of demo roles a custom seed lacks
    const demo = completeDemoRoles(loadSeed(opts.seed), () => idStore.objectId());
    this.store = new Store(demo.seed, rng);
    this.store.onChange = (change) => this.publishChange(change);
    this.projectId = demo.projectId;
    this.users = Object.freeze(demo.users);
    this.projectUsers = Object.freeze(demo.projectUsers);
    const tokens = {} as Record<DemoRole, string>;
    for (const role of DEMO_ROLES) {
      tokens[role] = this.signToken({
        _id: demo.users[role],
        email: String(this.store.users.get(demo.users[role])?.email ?? ''),
      });
    }
    this.tokens = Object.freeze(tokens);

    this.http = createServer((req, res) => {
      if ((req.url ?? '').startsWith('/admin')) {
        handleAdmin(this, req, res);
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(
        JSON.stringify({
          success: false,
          msg: `Nothing here. WebSocket endpoint: ${this.url}?token=<JWT>, admin API: ${this.adminUrl}/stats`,
        }),
      );
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: MAX_CLIENT_FRAME_BYTES });

    this.faults = {
      dropAll: () => this.dropAll(),
      halfOpen: () => this.halfOpen(),
      refuseNext: (count, status, o) => this.refuseNext(count, status, o),
      restart: (o) => this.restart(o),
      ignoreSubscribe: (topic, count) => this.ignoreSubscribe(topic, count),
      sendRaw: (text, o) => this.sendRaw(text, o),
    };
  }

  /** The queueing simulation, when `simulate.queue` is set (ground truth, pause and resume). */
  get simulation(): QueueSimulation | undefined {
    return this.simulator instanceof QueueSimulation ? this.simulator : undefined;
  }

  async start(): Promise<this> {
    await this.listen(this.requestedPort);
    const addr = this.http.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.requestedPort;
    const hostPart = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.url = `ws://${hostPart}:${this.port}/api/`;
    this.adminUrl = `http://${hostPart}:${this.port}/admin`;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    if (this.opts.simulate) {
      const agents = (['agent', 'agent2'] as const).map((r) => ({
        userId: this.users[r],
        projectUserId: this.projectUsers[r],
      }));
      const rng =
        this.opts.simulate.randomSeed !== undefined ? seededRng(this.opts.simulate.randomSeed ^ 0x5eed) : cryptoRng;
      this.simulator = this.opts.simulate.queue
        ? new QueueSimulation(this.store, this.projectId, this.opts.simulate.queue, rng)
        : new Simulator(this.store, this.projectId, agents, this.opts.simulate.ratePerSecond, rng);
      this.simulator.start();
    }
    this.log(`emulator listening on ${this.url}`);
    return this;
  }

  // ---- tokens and store operations -------------------------------------------------------------

  signToken(claims: JwtClaims, opts: { expiresInSec?: number } = {}): string {
    return signJwt(claims, this.secret, opts.expiresInSec ?? DEFAULT_TOKEN_TTL_SEC);
  }

  createRequest(projectId: string, fields?: Obj): Request {
    return this.store.createRequest(projectId, fields);
  }

  updateRequest(projectId: string, requestId: string, patch: Obj): Request {
    return this.store.updateRequest(projectId, requestId, patch);
  }

  closeRequest(projectId: string, requestId: string): Request {
    return this.store.closeRequest(projectId, requestId);
  }

  deleteRequest(projectId: string, requestId: string): Request {
    return this.store.deleteRequest(projectId, requestId);
  }

  addMessage(projectId: string, requestId: string, message: { text: string; sender?: string } & Obj): Message {
    return this.store.addMessage(projectId, requestId, message);
  }

  setAgentAvailability(projectId: string, projectUserId: string, available: boolean): ProjectUser {
    return this.store.updateProjectUser(projectId, projectUserId, { user_available: available });
  }

  updateProjectUser(projectId: string, projectUserId: string, patch: Obj): ProjectUser {
    return this.store.updateProjectUser(projectId, projectUserId, patch);
  }

  getRequests(projectId: string): Request[] {
    this.store.project(projectId);
    return structuredClone(this.store.requestsOf(projectId));
  }

  getMessages(projectId: string, requestId: string): Message[] {
    return structuredClone(this.store.messagesOf(this.store.request(projectId, requestId)));
  }

  stats(): EmulatorStats {
    const byTopic: Record<string, number> = {};
    const liveByTopic: Record<string, number> = {};
    let subscriptions = 0;
    for (const [topic, subs] of this.topicSubs) {
      byTopic[topic] = subs.size;
      liveByTopic[topic] = [...subs].filter((c) => !c.halfOpen).length;
      subscriptions += subs.size;
    }
    return {
      clients: this.clients.size,
      subscriptions,
      subscriptionsByTopic: byTopic,
      liveSubscriptionsByTopic: liveByTopic,
      connectionsAccepted: this.accepted,
      connectionsRefused: { ...this.refused },
      framesSent: this.framesSent,
      halfOpenSockets: [...this.clients].filter((c) => c.halfOpen).length,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ---- handshake -------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined); // a client vanishing mid-handshake must not crash the host
    if (this.closing) return void socket.destroy();
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    if (!['/', '/api', '/api/'].includes(url.pathname)) {
      return this.refuse(socket, 404, `No WebSocket endpoint at ${url.pathname}: use /api/ (or /).`);
    }
    if (this.refusal && this.refusal.remaining > 0) {
      const r = this.refusal;
      if (--r.remaining === 0) this.refusal = undefined;
      const reason = r.reason ?? `Connection refused by the emulator (fault injection, HTTP ${r.status}).`;
      return this.refuse(socket, r.status, reason, r.retryAfterSec);
    }
    const raw = url.searchParams.get('token');
    if (!raw || !raw.trim()) {
      return this.refuse(socket, 401, 'No token: connect with ?token=<JWT> (bare or with the "JWT " prefix).');
    }
    const verdict = verifyJwt(raw, this.secret);
    if (!verdict.ok) {
      const why = {
        malformed: 'The token is not a well-formed JWT.',
        algorithm: 'The token is not signed with HS256.',
        signature: 'The token signature is invalid: it was signed with another secret.',
        expired: `The token expired at ${verdict.expiredAt?.toISOString()}: get a new one.`,
      }[verdict.reason];
      return this.refuse(socket, 401, why);
    }
    const userId =
      typeof verdict.claims._id === 'string'
        ? verdict.claims._id
        : typeof verdict.claims.sub === 'string'
          ? verdict.claims.sub
          : '';
    const user = this.store.users.get(userId);
    if (!user || user.disabled === true) {
      return this.refuse(socket, 401, 'The token belongs to an unknown or disabled user.');
    }
    // Rate limits per user. Refused attempts count too: hammering makes the wait longer.
    const now = Date.now();
    const attempts = (this.attempts.get(userId) ?? []).filter((t) => t > now - 60_000);
    attempts.push(now);
    this.attempts.set(userId, attempts);
    if (attempts.length > this.rate.perMinute) {
      const retryAfterSec = Math.max(
        1,
        Math.ceil((attempts[attempts.length - this.rate.perMinute] + 60_000 - now) / 1000),
      );
      return this.refuse(
        socket,
        429,
        `Too many new connections: at most ${this.rate.perMinute} per minute per user. Retry in ${retryAfterSec} s.`,
        retryAfterSec,
      );
    }
    const concurrent = [...this.clients].filter((c) => c.userId === userId).length;
    if (concurrent >= this.rate.concurrent) {
      return this.refuse(
        socket,
        429,
        `Too many concurrent connections: at most ${this.rate.concurrent} open connections per user. Close one and retry.`,
        CONCURRENT_RETRY_AFTER_SEC,
      );
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, userId));
  }

  private refuse(socket: Socket, status: number, msg: string, retryAfterSec?: number): void {
    this.refused[status] = (this.refused[status] ?? 0) + 1;
    this.log(`refused upgrade: HTTP ${status} ${msg}`);
    if (!socket.writable) return void socket.destroy();
    const body = JSON.stringify({ success: false, msg });
    const headers = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      ...(retryAfterSec !== undefined ? [`Retry-After: ${retryAfterSec}`] : []),
    ];
    socket.once('finish', () => socket.destroy());
    socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  }

  private onConnection(ws: WebSocket, socket: Socket, userId: string): void {
    const client: Client = {
      id: this.nextClientId++,
      ws,
      socket,
      userId,
      topics: new Set(),
      alive: true,
      halfOpen: false,
    };
    this.clients.add(client);
    this.accepted++;
    this.log(`client #${client.id} connected (user ${userId})`);
    ws.on('message', (data, isBinary) => this.onFrame(client, data, isBinary));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.clients.delete(client);
      for (const t of client.topics) this.removeSub(client, t);
      this.log(`client #${client.id} disconnected`);
    });
  }

  // ---- frames ----------------------------------------------------------------------------------

  private onFrame(client: Client, data: WebSocket.RawData, isBinary: boolean): void {
    if (client.halfOpen) return;
    client.alive = true;
    if (isBinary) return;
    let msg: unknown;
    try {
      msg = JSON.parse(rawToString(data));
    } catch {
      return; // malformed frames are ignored, like the reference server
    }
    if (!isObj(msg) || typeof msg.action !== 'string' || !isObj(msg.payload)) return;
    const payload = msg.payload;
    switch (msg.action) {
      case 'subscribe':
        if (typeof payload.topic === 'string') this.subscribe(client, payload.topic);
        return;
      case 'unsubscribe':
        if (typeof payload.topic === 'string') this.removeSub(client, payload.topic);
        return;
      case 'heartbeat':
        if (isObj(payload.message) && payload.message.text === 'ping') this.send(client, HEARTBEAT_PONG);
        return;
      default:
        return;
    }
  }

  private subscribe(client: Client, topic: string): void {
    const ignored = this.ignoredSubscribes.get(topic);
    if (ignored) {
      if (ignored > 1) this.ignoredSubscribes.set(topic, ignored - 1);
      else this.ignoredSubscribes.delete(topic);
      return this.log(`client #${client.id}: subscription to ${topic} ignored (fault)`);
    }
    const seg = topic.split('/');
    if (topic.length > MAX_TOPIC_LENGTH || seg.length < 3 || seg[0] !== '' || seg.slice(1).some((s) => s === ''))
      return;
    const projectId = seg[1];
    const member = this.store.projects.has(projectId) ? this.store.membership(projectId, client.userId) : undefined;
    if (!member)
      return this.log(`client #${client.id}: subscription to ${topic} refused (not a member of the project)`);
    const rest = seg.slice(2);
    const privileged = member.role === 'owner' || member.role === 'admin';
    const visible = (r: Request): boolean =>
      privileged || r.participants.includes(client.userId) || r.status === STATUS.UNASSIGNED;
    let snapshot: unknown;
    let publish = true;
    if (rest.length === 1 && rest[0] === 'requests') {
      snapshot = this.store
        .requestsOf(projectId)
        .filter((r) => isOpenRequest(r) && visible(r))
        .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
        .slice(0, this.limits.requests);
    } else if (rest.length === 2 && rest[0] === 'requests') {
      const r = this.store.findRequest(projectId, rest[1]);
      snapshot = r && visible(r) ? r : null;
    } else if (rest.length === 3 && rest[0] === 'requests' && rest[2] === 'messages') {
      const r = this.store.findRequest(projectId, rest[1]);
      if (r && !visible(r))
        return this.log(`client #${client.id}: subscription to ${topic} refused (request not visible)`);
      snapshot = r ? this.store.messagesOf(r).slice(0, this.limits.messages) : [];
    } else if (rest.length === 3 && rest[0] === 'project_users' && rest[1] === 'users') {
      // An agent's record by user id: visible to any member of the project (PROTOCOL-NOTES).
      snapshot = this.store.membership(projectId, rest[2]) ?? null;
    } else if (rest.length === 2 && rest[0] === 'project_users') {
      const pu = this.store.projectUsers.get(rest[1]);
      if (!pu || pu.id_project !== projectId || (pu.id_user !== client.userId && !privileged)) {
        return this.log(`client #${client.id}: subscription to ${topic} refused (not your project user)`);
      }
      snapshot = pu;
    } else {
      publish = false; // custom topic (events, bots...): accepted, the emulator never publishes on it
    }
    this.log(`client #${client.id}: subscribed ${topic}`);
    client.topics.add(topic);
    let subs = this.topicSubs.get(topic);
    if (!subs) this.topicSubs.set(topic, (subs = new Set()));
    subs.add(client);
    if (publish) this.send(client, frame('publish', { topic, method: 'CREATE', message: snapshot }));
  }

  private removeSub(client: Client, topic: string): void {
    if (client.topics.has(topic)) this.log(`client #${client.id}: unsubscribed ${topic}`);
    client.topics.delete(topic);
    const subs = this.topicSubs.get(topic);
    if (!subs) return;
    subs.delete(client);
    if (subs.size === 0) this.topicSubs.delete(topic);
  }

  private send(client: Client, text: string): boolean {
    if (client.halfOpen || client.ws.readyState !== WebSocket.OPEN) return false;
    client.ws.send(text);
    this.framesSent++;
    return true;
  }

  private broadcast(topic: string, method: string, message: unknown): void {
    const subs = this.topicSubs.get(topic);
    if (!subs || subs.size === 0) return;
    const text = frame('publish', { topic, method, message });
    for (const c of subs) this.send(c, text);
  }

  private publishChange(change: StoreChange): void {
    const P = `/${change.projectId}`;
    if (change.kind === 'request') {
      this.broadcast(`${P}/requests`, change.method, change.request);
      this.broadcast(`${P}/requests/${change.request.request_id}`, change.method, change.request);
    } else if (change.kind === 'message') {
      this.broadcast(`${P}/requests/${change.request.request_id}/messages`, 'CREATE', change.message);
    } else {
      this.broadcast(`${P}/project_users/${change.projectUser._id}`, 'UPDATE', change.projectUser);
      this.broadcast(`${P}/project_users/users/${change.projectUser.id_user}`, 'UPDATE', change.projectUser);
    }
  }

  private heartbeat(): void {
    for (const c of [...this.clients]) {
      if (c.halfOpen) continue; // a half-open socket is meant to stay around until a client notices
      if (!c.alive) {
        this.log(`client #${c.id} sent nothing since the last ping: terminated`);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      this.send(c, HEARTBEAT_PING);
    }
  }

  // ---- faults ----------------------------------------------------------------------------------

  private dropAll(): number {
    const all = [...this.clients];
    // terminate() destroys the TCP socket: the client sees no close frame, like a network cut.
    for (const c of all) c.ws.terminate();
    this.log(`fault: dropped ${all.length} socket(s)`);
    return all.length;
  }

  private halfOpen(): number {
    let n = 0;
    for (const c of this.clients) {
      if (c.halfOpen) continue;
      c.halfOpen = true;
      c.socket.pause(); // read nothing (no pong, no close reply), write nothing, keep the TCP connection
      n++;
    }
    this.log(`fault: ${n} socket(s) are now half-open`);
    return n;
  }

  private ignoreSubscribe(topic: string, count = 1): { topic: string; count: number } {
    if (typeof topic !== 'string' || !topic.startsWith('/'))
      throw new Error('ignoreSubscribe: topic must start with "/", e.g. /P/requests/R.');
    if (!Number.isInteger(count) || count < 0) throw new Error('ignoreSubscribe: count must be an integer >= 0.');
    if (count === 0) this.ignoredSubscribes.delete(topic);
    else this.ignoredSubscribes.set(topic, count);
    return { topic, count };
  }

  private refuseNext(count: number, status: number, o: RefuseOptions = {}): { count: number; status: number } {
    if (!Number.isInteger(count) || count < 0) throw new Error('refuseNext: count must be an integer >= 0.');
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new Error('refuseNext: status must be an HTTP error code (400-599), e.g. 401, 429, 500, 503.');
    if (o.retryAfterSec !== undefined && !(Number.isInteger(o.retryAfterSec) && o.retryAfterSec >= 0)) {
      throw new Error('refuseNext: retryAfterSec must be an integer >= 0.');
    }
    this.refusal =
      count === 0 ? undefined : { remaining: count, status, retryAfterSec: o.retryAfterSec, reason: o.reason };
    return { count, status };
  }

  private async restart(o: { downMs?: number } = {}): Promise<void> {
    const downMs = o.downMs ?? 500;
    if (!Number.isFinite(downMs) || downMs < 0) throw new Error('restart: downMs must be a number >= 0.');
    if (this.closing) throw new Error('The emulator is closed.');
    if (this.restartTimer) throw new Error('The emulator is already restarting.');
    this.dropAll();
    this.http.close();
    this.http.closeIdleConnections();
    this.log(`fault: restarting, down for ${downMs} ms`);
    await new Promise<void>((resolve) => {
      // Not unref'd: the process must stay alive while nothing listens.
      const timer = setTimeout(() => {
        this.restartTimer = undefined;
        resolve();
      }, downMs);
      this.restartTimer = { timer, done: resolve };
    });
    if (this.closing) return;
    await this.listen(this.port);
    this.log(`fault: listening again on ${this.url}`);
  }

  private sendRaw(text: string, o: { topic?: string } = {}): number {
    if (typeof text !== 'string') throw new Error('sendRaw: the frame must be a string.');
    const targets = o.topic !== undefined ? [...(this.topicSubs.get(o.topic) ?? [])] : [...this.clients];
    let n = 0;
    for (const c of targets) if (this.send(c, text)) n++;
    return n;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.http.once('error', onError);
      this.http.listen(port, this.host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
  }

  private async doClose(): Promise<void> {
    this.simulator?.stop();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.restartTimer) {
      clearTimeout(this.restartTimer.timer);
      this.restartTimer.done();
      this.restartTimer = undefined;
    }
    for (const c of [...this.clients]) c.ws.terminate();
    this.clients.clear();
    this.topicSubs.clear();
    this.wss.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      timer.unref();
      this.http.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.http.closeAllConnections();
    });
    this.log('emulator closed');
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function positiveInt(v: number, name: string, allowZero = false): number {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw new Error(`${name} must be an integer ${allowZero ? '>= 0' : '> 0'} (got ${v}).`);
  return v;
}

function limit(v: number, name: string): number {
  if (v === Infinity) return v;
  return positiveInt(v, name);
}
