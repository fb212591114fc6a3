// The emulator over real loopback sockets, with raw `ws` clients (no core code involved).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createConnection } from 'node:net';
import WebSocket from 'ws';
import { defaultSeed, DEMO_IDS, startEmulator } from '../../emulator';
import type { Emulator, EmulatorOptions } from '../../emulator';
import { Store } from '../../emulator/store';
import { Simulator } from '../../emulator/simulate';
import { seededRng } from '../../emulator/model';

jest.setTimeout(30_000);

type Frame = { action?: string; payload?: { topic?: string; method?: string; message?: any } } & Record<
  string,
  unknown
>;

const PING = { action: 'heartbeat', payload: { message: { text: 'ping' } } };

/** A raw protocol client recording every frame, with event-driven waits. */
class RawClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = String(data);
      this.raw.push(text);
      try {
        this.frames.push(JSON.parse(text));
      } catch {
        this.frames.push({ unparsable: text });
      }
      this.notify();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.notify();
        resolve({ code });
      }),
    );
    ws.on('error', () => undefined);
  }

  static open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  subscribe(topic: string): void {
    this.send({ action: 'subscribe', payload: { topic } });
  }

  /** Resolves with the first frame (at index >= from) matching pred. */
  async waitFor(pred: (f: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(pred);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  publishes(topic: string, method?: string): Frame[] {
    return this.frames.filter(
      (f) => f.action === 'publish' && f.payload?.topic === topic && (!method || f.payload?.method === method),
    );
  }

  /** Frames are handled in order: once the pong of a ping sent now arrives, every earlier answer has arrived too. */
  async sync(): Promise<number> {
    const from = this.frames.length;
    this.send(PING);
    await this.waitFor(isPong, from);
    return this.frames.length;
  }

  close(): void {
    this.ws.terminate();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

const isPong = (f: Frame): boolean => f.action === 'heartbeat' && f.payload?.message?.text === 'pong';
const isPing = (f: Frame): boolean => f.action === 'heartbeat' && f.payload?.message?.text === 'ping';
const withToken = (emu: Emulator, token: string, prefix = ''): string =>
  `${emu.url}?token=${encodeURIComponent(prefix + token)}`;

/** Attempts a handshake that must be refused; returns the HTTP answer. */
function refusal(url: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the handshake was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        ws.terminate();
      });
    });
  });
}

async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const opened: RawClient[] = [];
const emulators: Emulator[] = [];
async function emulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(opts);
  emulators.push(emu);
  return emu;
}
async function connect(url: string): Promise<RawClient> {
  const c = await RawClient.open(url);
  opened.push(c);
  return c;
}
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

const R = {
  r1: 'support-group-1a952f2f-c09a-46be-bc75-11387a95d55f', // assigned to agent, updated 30 min ago
  r2: 'support-group-2b6c3d4e-5f60-4718-89ab-cdef01234567', // unassigned, updated 20 min ago
  r3: 'support-group-3c7d8e9f-a0b1-42c3-94d5-e6f708192a3b', // assigned to agent2, updated 5 min ago
  r4: 'support-group-4d8e9fa0-b1c2-43d4-a5e6-f708192a3b4c', // closed
};

describe('handshake', () => {
  test('refuses a missing, malformed, foreign, expired or unknown-user token with 401 and a JSON reason', async () => {
    const emu = await emulator();
    const missing = await refusal(emu.url);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ success: false, msg: expect.stringMatching(/token/i) });
    expect((await refusal(`${emu.url}?token=not-a-jwt`)).status).toBe(401);
    const foreign = await refusal(withToken(emu, (await emulator({ secret: 'another-secret' })).tokens.owner));
    expect(foreign.status).toBe(401);
    expect(foreign.body.msg).toMatch(/signature/i);
    const expired = await refusal(withToken(emu, emu.signToken({ _id: emu.users.owner }, { expiresInSec: -10 })));
    expect(expired.status).toBe(401);
    expect(expired.body.msg).toMatch(/expired/i);
    const unknown = await refusal(withToken(emu, emu.signToken({ _id: 'ffffffffffffffffffffffff' })));
    expect(unknown.status).toBe(401);
    expect(unknown.body.msg).toMatch(/unknown/i);
    // The reason never echoes the token.
    expect(JSON.stringify(expired.body)).not.toContain(emu.tokens.owner.split('.')[1]);
    expect(emu.stats().connectionsRefused['401']).toBe(5);
    expect(emu.stats().connectionsAccepted).toBe(0);
  });

  test('accepts the token bare or with the "JWT " prefix, at /api/ and at /', async () => {
    const emu = await emulator();
    const bare = await connect(withToken(emu, emu.tokens.owner));
    const prefixed = await connect(withToken(emu, emu.tokens.owner, 'JWT '));
    const root = await connect(
      `${emu.url.replace('/api/', '/')}?token=${encodeURIComponent('JWT ' + emu.tokens.agent)}`,
    );
    for (const c of [bare, prefixed, root]) await c.sync();
    expect(emu.stats().connectionsAccepted).toBe(3);
    expect((await refusal(`${emu.url.replace('/api/', '/elsewhere')}?token=${emu.tokens.owner}`)).status).toBe(404);
  });
});

describe('subscribe snapshots', () => {
  test('owner gets every open request, most recently updated first, excluding closed/abandoned/temporary/preflight', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    emu.createRequest(P, { status: 150 });
    emu.createRequest(P, { status: 50 });
    emu.createRequest(P, { preflight: true });
    const fresh = emu.createRequest(P, { first_text: 'newest' });
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests`);
    const snap = await c.waitFor((f) => f.payload?.topic === `/${P}/requests`);
    expect(snap).toEqual({
      action: 'publish',
      payload: { topic: `/${P}/requests`, method: 'CREATE', message: expect.any(Array) },
    });
    expect(snap.payload!.message.map((r: any) => r.request_id)).toEqual([fresh.request_id, R.r3, R.r2, R.r1]);
    const r1 = snap.payload!.message[3];
    expect(r1).toMatchObject({
      _id: r1.id,
      id_project: P,
      status: 200,
      preflight: false,
      participants: [emu.users.agent],
      first_text: 'hello world',
    });
    expect(r1._id).toMatch(/^[0-9a-f]{24}$/);
    expect(new Date(r1.updatedAt).toISOString()).toBe(r1.updatedAt);
  });

  test('an agent sees only the requests it takes part in or that are unassigned', async () => {
    const emu = await emulator();
    const c = await connect(withToken(emu, emu.tokens.agent));
    c.subscribe(`/${emu.projectId}/requests`);
    const snap = await c.waitFor((f) => f.action === 'publish');
    expect(snap.payload!.message.map((r: any) => r.request_id)).toEqual([R.r2, R.r1]);
    // A single request outside its view is published as null; its messages are refused (silence).
    c.subscribe(`/${emu.projectId}/requests/${R.r3}`);
    const one = await c.waitFor((f) => f.payload?.topic === `/${emu.projectId}/requests/${R.r3}`);
    expect(one.payload!.message).toBeNull();
    const before = c.frames.length;
    c.subscribe(`/${emu.projectId}/requests/${R.r3}/messages`);
    await c.sync();
    expect(c.frames.slice(before).filter((f) => f.action === 'publish')).toEqual([]);
  });

  test('snapshot limits: at most N requests and the first M messages, oldest first', async () => {
    const emu = await emulator({ snapshotLimits: { requests: 2, messages: 3 } });
    const P = emu.projectId;
    const made = [1, 2, 3].map((n) => emu.createRequest(P, { first_text: `r${n}` }));
    for (let i = 1; i <= 5; i++) emu.addMessage(P, made[0].request_id, { text: `m${i}` });
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests`);
    c.subscribe(`/${P}/requests/${made[0]._id}/messages`); // _id works as well as request_id
    const list = await c.waitFor((f) => f.payload?.topic === `/${P}/requests`);
    expect(list.payload!.message.map((r: any) => r.first_text)).toEqual(['r3', 'r2']);
    const msgs = await c.waitFor((f) => f.payload?.topic === `/${P}/requests/${made[0]._id}/messages`);
    expect(msgs.payload!.message.map((m: any) => m.text)).toEqual(['m1', 'm2', 'm3']);
    expect(msgs.payload!.message[0]).toMatchObject({
      recipient: made[0].request_id,
      id_project: P,
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
  });

  test('a single request is published whatever its status; messages oldest first', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests/${R.r4}`);
    c.subscribe(`/${P}/requests/${R.r1}/messages`);
    const closed = await c.waitFor((f) => f.payload?.topic === `/${P}/requests/${R.r4}`);
    expect(closed.payload).toMatchObject({ method: 'CREATE', message: { request_id: R.r4, status: 1000 } });
    const msgs = await c.waitFor((f) => f.payload?.topic === `/${P}/requests/${R.r1}/messages`);
    const times = msgs.payload!.message.map((m: any) => m.createdAt);
    expect(times).toHaveLength(3);
    expect([...times].sort()).toEqual(times);
  });

  test('project users: an agent gets its own, an owner any in the project; other agents are refused silently', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const agent = await connect(withToken(emu, emu.tokens.agent));
    agent.subscribe(`/${P}/project_users/${emu.projectUsers.agent2}`);
    agent.subscribe(`/${P}/project_users/${emu.projectUsers.agent}`);
    const own = await agent.waitFor((f) => f.action === 'publish');
    expect(own.payload).toMatchObject({
      topic: `/${P}/project_users/${emu.projectUsers.agent}`,
      method: 'CREATE',
      message: { _id: emu.projectUsers.agent, id_user: emu.users.agent, role: 'agent' },
    });
    await agent.sync();
    expect(agent.frames.filter((f) => f.action === 'publish')).toHaveLength(1);
    const owner = await connect(withToken(emu, emu.tokens.owner));
    owner.subscribe(`/${P}/project_users/${emu.projectUsers.agent2}`);
    expect((await owner.waitFor((f) => f.action === 'publish')).payload!.message._id).toBe(emu.projectUsers.agent2);
  });

  test('refused subscriptions get no answer at all: unknown project, not a member, malformed topic', async () => {
    const seed = defaultSeed();
    seed.users!.push({ _id: 'aaaaaaaaaaaaaaaaaaaaaaaa', email: 'outsider@example.com' });
    const emu = await emulator({ seed });
    const outsider = await connect(withToken(emu, emu.signToken({ _id: 'aaaaaaaaaaaaaaaaaaaaaaaa' })));
    outsider.subscribe(`/${emu.projectId}/requests`);
    outsider.subscribe('/ffffffffffffffffffffffff/requests');
    outsider.subscribe('requests');
    outsider.send({ action: 'subscribe', payload: { topic: 42 } });
    await outsider.sync();
    expect(outsider.frames.filter((f) => f.action === 'publish')).toEqual([]);
    expect(emu.stats().subscriptions).toBe(0);
  });

  test('re-subscribing resends the snapshot; unsubscribe stops live events without an answer', async () => {
    const emu = await emulator();
    const topic = `/${emu.projectId}/requests`;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(topic);
    c.subscribe(topic);
    await c.sync();
    expect(c.publishes(topic, 'CREATE')).toHaveLength(2);
    expect(emu.stats().subscriptionsByTopic[topic]).toBe(1);
    const n = c.frames.length;
    c.send({ action: 'unsubscribe', payload: { topic } });
    await c.sync();
    expect(c.frames.slice(n).filter((f) => !isPong(f))).toEqual([]);
    emu.createRequest(emu.projectId);
    await c.sync();
    expect(c.publishes(topic)).toHaveLength(2);
    expect(emu.stats().subscriptions).toBe(0);
  });

  test('custom topics are accepted and never published on', async () => {
    const emu = await emulator();
    const topic = `/${emu.projectId}/events/${emu.projectUsers.owner}`;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(topic);
    await c.sync();
    expect(c.frames.filter((f) => f.action === 'publish')).toEqual([]);
    expect(emu.stats().subscriptionsByTopic).toEqual({ [topic]: 1 });
  });
});

describe('live events', () => {
  test('create, assign, message, close, agent change and delete map to the documented topics and methods', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests`);
    c.subscribe(`/${P}/project_users/${emu.projectUsers.agent}`);
    await c.sync();

    const created = emu.createRequest(P, { first_text: 'Where is my parcel?' });
    expect(created.request_id).toMatch(/^support-group-[0-9a-f-]{36}$/);
    const onList = await c.waitFor(
      (f) =>
        f.payload?.topic === `/${P}/requests` && f.payload?.method === 'CREATE' && !Array.isArray(f.payload?.message),
    );
    expect(onList.payload!.message).toEqual(created);
    expect(created).toMatchObject({ status: 100, participants: [], id: created._id, id_project: P, preflight: false });

    const RT = `/${P}/requests/${created.request_id}`;
    c.subscribe(RT);
    c.subscribe(`${RT}/messages`);
    await c.sync();
    const from = c.frames.length;
    const assigned = emu.updateRequest(P, created.request_id, { status: 200, participants: [emu.users.agent] });
    const msg = emu.addMessage(P, created._id, { text: 'On its way!', sender: emu.users.agent });
    const closed = emu.closeRequest(P, created.request_id);
    const agent = emu.setAgentAvailability(P, emu.projectUsers.agent, false);
    const deleted = emu.deleteRequest(P, created.request_id);
    await c.sync();
    const live = c.frames
      .slice(from)
      .filter((f) => f.action === 'publish')
      .map((f) => [f.payload!.method, f.payload!.topic, f.payload!.message]);
    expect(live).toEqual([
      ['UPDATE', `/${P}/requests`, assigned],
      ['UPDATE', RT, assigned],
      ['CREATE', `${RT}/messages`, msg],
      ['UPDATE', `/${P}/requests`, closed],
      ['UPDATE', RT, closed],
      ['UPDATE', `/${P}/project_users/${emu.projectUsers.agent}`, agent],
      ['DELETE', `/${P}/requests`, deleted],
      ['DELETE', RT, deleted],
    ]);
    expect(assigned).toMatchObject({ status: 200, participants: [emu.users.agent], assigned_at: expect.any(String) });
    expect(msg).toMatchObject({
      text: 'On its way!',
      sender: emu.users.agent,
      senderFullname: 'Ada Agent',
      recipient: created.request_id,
    });
    expect(closed).toMatchObject({ status: 1000, closed_at: expect.any(String) });
    expect(agent).toMatchObject({ user_available: false });
    expect(emu.getRequests(P).some((r) => r._id === created._id)).toBe(false);
  });

  test('updatedAt strictly increases on every change, even within one millisecond', () => {
    return emulator().then((emu) => {
      const r = emu.createRequest(emu.projectId);
      const stamps = [r.updatedAt];
      for (let i = 0; i < 50; i++)
        stamps.push(emu.updateRequest(emu.projectId, r.request_id, { tags: [String(i)] }).updatedAt);
      for (let i = 1; i < stamps.length; i++) expect(Date.parse(stamps[i])).toBeGreaterThan(Date.parse(stamps[i - 1]));
    });
  });

  test('live events reach every subscriber of the topic, without the snapshot visibility filter', async () => {
    const emu = await emulator();
    const c = await connect(withToken(emu, emu.tokens.agent));
    c.subscribe(`/${emu.projectId}/requests`);
    await c.sync();
    const updated = emu.updateRequest(emu.projectId, R.r3, { tags: ['vip'] }); // agent2's request
    const ev = await c.waitFor((f) => f.payload?.method === 'UPDATE');
    expect(ev.payload!.message).toEqual(updated);
  });

  test('store methods reject unknown ids and invalid input with clear errors', async () => {
    const emu = await emulator();
    expect(() => emu.createRequest('ffffffffffffffffffffffff')).toThrow(
      /Project ffffffffffffffffffffffff does not exist/,
    );
    expect(() => emu.updateRequest(emu.projectId, 'support-group-nope', {})).toThrow(/does not exist/);
    expect(() => emu.updateRequest(emu.projectId, R.r1, { status: 'open' })).toThrow(/status/);
    expect(() => emu.updateRequest(emu.projectId, R.r1, { request_id: 'x' })).toThrow(/cannot be changed/);
    expect(() => emu.addMessage(emu.projectId, R.r1, { text: '' })).toThrow(/text/);
  });
});

describe('heartbeat', () => {
  test('answers a client ping with pong', async () => {
    const emu = await emulator();
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.send(PING);
    expect(await c.waitFor(isPong)).toEqual({ action: 'heartbeat', payload: { message: { text: 'pong' } } });
  });

  test('terminates a client that stays silent between two pings; a client answering pings survives', async () => {
    const emu = await emulator({ heartbeatIntervalMs: 300 });
    const silent = await connect(withToken(emu, emu.tokens.owner));
    const talker = await connect(withToken(emu, emu.tokens.agent));
    talker.ws.on('message', (d) => {
      if (isPing(JSON.parse(String(d)))) talker.send({ action: 'heartbeat', payload: { message: { text: 'pong' } } });
    });
    const { code } = await silent.closed;
    expect(code).toBe(1006); // terminated: no close frame
    expect(silent.frames.some(isPing)).toBe(true);
    let pings = 0;
    await talker.waitFor(() => talker.frames.filter(isPing).length >= 6);
    pings = talker.frames.filter(isPing).length;
    expect(pings).toBeGreaterThanOrEqual(6);
    expect(talker.ws.readyState).toBe(WebSocket.OPEN);
    await until(() => emu.stats().clients === 1, 5000, 'the server to forget the silent client');
  });

  test('malformed client frames are ignored without harm', async () => {
    const emu = await emulator();
    const c = await connect(withToken(emu, emu.tokens.owner));
    for (const bad of [
      'not json',
      '[]',
      'null',
      '{"action":"subscribe"}',
      '{"action":"subscribe","payload":null}',
      '{"action":"dance","payload":{}}',
      '{"action":"heartbeat","payload":{"message":"ping"}}',
    ])
      c.send(bad);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.sync();
    expect(c.frames.filter((f) => !isPong(f))).toEqual([]);
  });
});

describe('rate limits', () => {
  test('too many new connections per minute: 429 with Retry-After and the limit in the reason, per user', async () => {
    const emu = await emulator({ rateLimits: { newConnectionsPerMinute: 3 } });
    for (let i = 0; i < 3; i++) (await connect(withToken(emu, emu.tokens.owner))).close();
    const refused = await refusal(withToken(emu, emu.tokens.owner));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.body).toEqual({ success: false, msg: expect.stringContaining('3 per minute') });
    await connect(withToken(emu, emu.tokens.agent)); // another user is not affected
    expect(emu.stats().connectionsRefused['429']).toBe(1);
  });

  test('too many concurrent connections: 429 until one closes', async () => {
    const emu = await emulator({ rateLimits: { concurrentPerUser: 2 } });
    const a = await connect(withToken(emu, emu.tokens.owner));
    await connect(withToken(emu, emu.tokens.owner));
    const refused = await refusal(withToken(emu, emu.tokens.owner));
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body.msg).toMatch(/concurrent.*2/);
    a.close();
    await until(() => emu.stats().clients === 1, 5000, 'the server to notice the closed socket');
    await connect(withToken(emu, emu.tokens.owner));
  });
});

describe('faults', () => {
  test('dropAll destroys every socket without a close frame', async () => {
    const emu = await emulator();
    const a = await connect(withToken(emu, emu.tokens.owner));
    const b = await connect(withToken(emu, emu.tokens.agent));
    expect(emu.faults.dropAll()).toBe(2);
    expect((await a.closed).code).toBe(1006);
    expect((await b.closed).code).toBe(1006);
    await until(() => emu.stats().clients === 0);
    await connect(withToken(emu, emu.tokens.owner));
  });

  test('halfOpen silences current sockets both ways, exempts them from the heartbeat cut, new sockets work', async () => {
    const emu = await emulator({ heartbeatIntervalMs: 250 });
    const topic = `/${emu.projectId}/requests`;
    const stale = await connect(withToken(emu, emu.tokens.owner));
    stale.subscribe(topic);
    await stale.sync();
    expect(emu.faults.halfOpen()).toBe(1);
    const n = stale.frames.length;
    stale.send(PING);
    const fresh = await connect(withToken(emu, emu.tokens.owner));
    fresh.ws.on('message', (d) => {
      if (isPing(JSON.parse(String(d)))) fresh.send({ action: 'heartbeat', payload: { message: { text: 'pong' } } });
    });
    fresh.subscribe(topic);
    await fresh.waitFor((f) => f.payload?.topic === topic);
    emu.createRequest(emu.projectId);
    await fresh.waitFor((f) => f.payload?.method === 'CREATE' && !Array.isArray(f.payload?.message));
    await fresh.waitFor(() => fresh.frames.filter(isPing).length >= 5); // several heartbeat rounds went by
    expect(stale.frames.slice(n)).toEqual([]); // no pong, no event, no ping
    expect(stale.ws.readyState).toBe(WebSocket.OPEN);
    expect(emu.stats()).toMatchObject({ clients: 2, halfOpenSockets: 1 });
  });

  test('refuseNext refuses the next upgrades with the given status, Retry-After and reason', async () => {
    const emu = await emulator();
    const url = withToken(emu, emu.tokens.owner);
    emu.faults.refuseNext(2, 503, { retryAfterSec: 7, reason: 'Maintenance window' });
    for (let i = 0; i < 2; i++) {
      const r = await refusal(url);
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('7');
      expect(r.body).toEqual({ success: false, msg: 'Maintenance window' });
    }
    await connect(url);
    emu.faults.refuseNext(1, 401);
    expect((await refusal(url)).status).toBe(401);
    emu.faults.refuseNext(1, 500);
    const r500 = await refusal(url);
    expect(r500.status).toBe(500);
    expect(r500.headers['retry-after']).toBeUndefined();
    await connect(url);
    expect(emu.stats().connectionsRefused).toEqual({ 401: 1, 500: 1, 503: 2 });
    expect(() => emu.faults.refuseNext(1, 200)).toThrow(/status/);
  });

  test('restart drops sockets, refuses TCP while down, then listens on the same port with state kept', async () => {
    const emu = await emulator();
    const port = emu.port;
    const c = await connect(withToken(emu, emu.tokens.owner));
    const made = emu.createRequest(emu.projectId, { first_text: 'survives restarts' });
    const restarting = emu.faults.restart({ downMs: 400 });
    expect((await c.closed).code).toBe(1006);
    expect(await tcpRefused(port)).toBe(true);
    await restarting;
    expect(emu.port).toBe(port);
    const again = await connect(withToken(emu, emu.tokens.owner));
    again.subscribe(`/${emu.projectId}/requests`);
    const snap = await again.waitFor((f) => f.action === 'publish');
    expect(snap.payload!.message[0].request_id).toBe(made.request_id);
  });

  test('ignoreSubscribe leaves the next subscribes to a topic unanswered; the connection and other topics work', async () => {
    const emu = await emulator();
    const topic = `/${emu.projectId}/requests`;
    const other = `/${emu.projectId}/project_users/${emu.projectUsers.owner}`;
    const c = await connect(withToken(emu, emu.tokens.owner));
    expect(emu.faults.ignoreSubscribe(topic, 2)).toEqual({ topic, count: 2 });
    c.subscribe(topic);
    c.subscribe(topic);
    c.subscribe(other);
    c.send(PING);
    await c.sync();
    expect(c.publishes(topic)).toHaveLength(0);
    expect(c.publishes(other, 'CREATE')).toHaveLength(1);
    expect(c.frames.some(isPong)).toBe(true);
    c.subscribe(topic); // the third one is answered
    await c.sync();
    expect(c.publishes(topic, 'CREATE')).toHaveLength(1);
    expect(() => emu.faults.ignoreSubscribe('requests')).toThrow(/must start with "\/"/);
  });

  test('sendRaw sends text as is, to everyone or to the subscribers of a topic, up to 10 MB', async () => {
    const emu = await emulator();
    const topic = `/${emu.projectId}/requests`;
    const sub = await connect(withToken(emu, emu.tokens.owner));
    const other = await connect(withToken(emu, emu.tokens.agent));
    sub.subscribe(topic);
    await sub.sync();
    expect(emu.faults.sendRaw('{not json')).toBe(2);
    expect(emu.faults.sendRaw('{"action":"publish","payload":{"topic":"x"}}', { topic })).toBe(1);
    const big = JSON.stringify({
      action: 'publish',
      payload: { topic, method: 'CREATE', message: [{ blob: 'x'.repeat(10 * 1024 * 1024) }] },
    });
    emu.faults.sendRaw(big, { topic });
    await until(() => sub.raw.length >= 5, 20_000, 'the 10 MB frame');
    await other.sync();
    expect(sub.raw.slice(-3)).toEqual(['{not json', '{"action":"publish","payload":{"topic":"x"}}', big]);
    expect(other.raw.filter((t) => !t.includes('pong'))).toEqual(['{not json']);
  });
});

describe('admin HTTP API', () => {
  const call = async (
    emu: Emulator,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${emu.adminUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };

  test('drives requests, messages and agents, and subscribers see the events', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests`);
    c.subscribe(`/${P}/project_users/${emu.projectUsers.agent2}`);
    await c.sync();
    const created = await call(emu, 'POST', `/projects/${P}/requests`, { first_text: 'via HTTP' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ first_text: 'via HTTP', status: 100 });
    const rid = created.json.request_id;
    const patched = await call(emu, 'PATCH', `/projects/${P}/requests/${rid}`, {
      status: 200,
      participants: [emu.users.agent2],
    });
    expect(patched.json).toMatchObject({ status: 200, participants: [emu.users.agent2] });
    const msg = await call(emu, 'POST', `/projects/${P}/requests/${rid}/messages`, { text: 'Hello from curl' });
    expect(msg.status).toBe(201);
    expect(msg.json.text).toBe('Hello from curl');
    expect((await call(emu, 'POST', `/projects/${P}/requests/${rid}/close`)).json.status).toBe(1000);
    expect(
      (await call(emu, 'PATCH', `/projects/${P}/project_users/${emu.projectUsers.agent2}`, { user_available: true }))
        .json.user_available,
    ).toBe(true);
    expect((await call(emu, 'DELETE', `/projects/${P}/requests/${created.json._id}`)).json._id).toBe(created.json._id);
    await c.sync();
    const methods = c.frames
      .filter((f) => f.action === 'publish' && !Array.isArray(f.payload?.message))
      .map((f) => f.payload!.method);
    expect(methods).toEqual(['CREATE', 'CREATE', 'UPDATE', 'UPDATE', 'UPDATE', 'DELETE']); // 2nd CREATE = agent snapshot
    const stats = await call(emu, 'GET', '/stats');
    expect(stats.json).toMatchObject({ clients: 1, connectionsAccepted: 1 });
    const state = await call(emu, 'GET', '/state');
    expect(state.json.demo.projectId).toBe(P);
    expect(state.json.requests.some((r: any) => r._id === created.json._id)).toBe(false);
    expect(state.json.project_users).toHaveLength(4);
  });

  test('issues tokens by role or user id, with expiry', async () => {
    const emu = await emulator();
    const agent = await call(emu, 'POST', '/tokens', { role: 'agent' });
    expect(agent.status).toBe(201);
    expect(agent.json.userId).toBe(emu.users.agent);
    const c = await connect(withToken(emu, agent.json.token));
    c.subscribe(`/${emu.projectId}/project_users/${emu.projectUsers.agent}`);
    await c.waitFor((f) => f.action === 'publish');
    const expired = await call(emu, 'POST', '/tokens', { userId: emu.users.admin, expiresInSec: -5 });
    expect((await refusal(withToken(emu, expired.json.token))).status).toBe(401);
    expect((await call(emu, 'POST', '/tokens', { role: 'king' })).status).toBe(400);
    expect((await call(emu, 'POST', '/tokens', { userId: 'ffffffffffffffffffffffff' })).status).toBe(404);
  });

  test('fault endpoints work over HTTP', async () => {
    const emu = await emulator();
    const url = withToken(emu, emu.tokens.owner);
    const c = await connect(url);
    expect((await call(emu, 'POST', '/faults/raw', { frame: 'garbage' })).json).toEqual({ sent: 1 });
    await c.waitFor((f) => f.unparsable === 'garbage');
    const ignoredTopic = `/${emu.projectId}/requests`;
    expect((await call(emu, 'POST', '/faults/ignore-subscribe', { topic: ignoredTopic })).json).toEqual({
      topic: ignoredTopic,
      count: 1,
    });
    expect((await call(emu, 'POST', '/faults/half-open')).json).toEqual({ halfOpen: 1 });
    expect((await call(emu, 'POST', '/faults/drop')).json).toEqual({ dropped: 1 });
    await c.closed;
    expect(
      (await call(emu, 'POST', '/faults/refuse', { count: 1, status: 429, retryAfterSec: 3, reason: 'slow down' }))
        .status,
    ).toBe(200);
    const r = await refusal(url);
    expect([r.status, r.headers['retry-after'], r.body.msg]).toEqual([429, '3', 'slow down']);
    const port = emu.port;
    const restarted = await call(emu, 'POST', '/faults/restart', { downMs: 100 });
    expect(restarted.json).toEqual({ restarted: true, downMs: 100, port });
    await connect(url);
  });

  test('bad input gets clear 4xx JSON errors', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/projects/ffffffffffffffffffffffff/requests', {}, 404, /does not exist/],
      ['PATCH', `/projects/${P}/requests/support-group-nope`, {}, 404, /does not exist/],
      ['POST', `/projects/${P}/requests`, '{oops', 400, /not valid JSON/],
      ['POST', `/projects/${P}/requests`, '[1]', 400, /JSON object/],
      ['PATCH', `/projects/${P}/requests/${R.r1}`, { status: 'closed' }, 400, /status/],
      ['POST', `/projects/${P}/requests/${R.r1}/messages`, {}, 400, /text/],
      ['PATCH', `/projects/${P}/project_users/${emu.projectUsers.agent}`, { email: 'x' }, 400, /cannot be changed/],
      ['POST', '/faults/refuse', { status: 'nope' }, 400, /status/],
      ['POST', '/faults/refuse', { count: 1, status: 200 }, 400, /status/],
      ['POST', '/faults/raw', {}, 400, /frame/],
      ['POST', '/faults/ignore-subscribe', { count: 1 }, 400, /topic/],
      ['GET', '/faults/drop', undefined, 405, /not supported/],
      ['GET', '/nowhere', undefined, 404, /Unknown admin endpoint/],
    ];
    for (const [method, path, body, status, msg] of cases) {
      const r = await call(emu, method, path, body);
      expect([method, path, r.status]).toEqual([method, path, status]);
      expect(r.json).toEqual({ success: false, msg: expect.stringMatching(msg) });
    }
  });

  test('refuses cross-site requests, DNS rebinding and bodies not declared JSON, and changes nothing', async () => {
    const emu = await emulator();
    const P = emu.projectId;
    const before = emu.getRequests(P).length;
    const raw = (
      method: string,
      path: string,
      headers: Record<string, string>,
      body = '',
    ): Promise<{ status: number; json: any }> =>
      new Promise((resolve, reject) => {
        const request = httpRequest(`${emu.adminUrl}${path}`, { method, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        });
        request.on('error', reject);
        request.end(body);
      });
    const json = { 'content-type': 'application/json' };
    const frame = JSON.stringify({ frame: '{"action":"publish"}' });
    // A web page posting from the user's browser: foreign Origin, text/plain (no preflight).
    const crossSite = await raw(
      'POST',
      `/projects/${P}/requests`,
      { origin: 'https://evil.example', 'content-type': 'text/plain' },
      '{"first_text":"x"}',
    );
    expect([crossSite.status, crossSite.json.msg]).toEqual([
      403,
      expect.stringMatching(/Origin "https:\/\/evil\.example"/),
    ]);
    const foreignOriginJson = await raw('POST', '/faults/raw', { ...json, origin: 'http://evil.example' }, frame);
    expect(foreignOriginJson.status).toBe(403);
    // DNS rebinding: the page's own name resolves to 127.0.0.1, the Host header gives it away.
    const rebound = await raw('POST', '/tokens', { ...json, host: `evil.example:${emu.port}` }, '{"role":"owner"}');
    expect([rebound.status, JSON.stringify(rebound.json)]).toEqual([403, expect.not.stringMatching(/eyJ/)]);
    expect((await raw('GET', '/state', { host: 'evil.example' })).status).toBe(403);
    // Same machine, but not declared JSON.
    const plain = await raw('POST', `/projects/${P}/requests`, { 'content-type': 'text/plain' }, '{"first_text":"x"}');
    expect([plain.status, plain.json.msg]).toEqual([403, expect.stringMatching(/Content-Type: application\/json/)]);
    expect((await raw('POST', '/faults/drop', {})).status).toBe(403);
    expect(emu.getRequests(P).length).toBe(before);
    // What curl and scripts on this machine send still works, with or without a same-origin Origin.
    expect((await raw('POST', '/tokens', { ...json, host: `localhost:${emu.port}` }, '{"role":"agent"}')).status).toBe(
      201,
    );
    expect(
      (await raw('POST', '/tokens', { ...json, origin: `http://127.0.0.1:${emu.port}` }, '{"role":"agent"}')).status,
    ).toBe(201);
    expect((await raw('GET', '/stats', {})).status).toBe(200);
  });
});

describe('simulation and lifecycle', () => {
  test('simulate produces full request lifecycles on the wire', async () => {
    const emu = await emulator({ simulate: { ratePerSecond: 100, randomSeed: 7 } });
    const P = emu.projectId;
    const c = await connect(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${P}/requests`);
    // Follow a request created after the subscription, from birth to close.
    const born = await c.waitFor(
      (f) => f.payload?.method === 'CREATE' && !Array.isArray(f.payload?.message),
      0,
      20_000,
    );
    const rid = born.payload!.message.request_id;
    await c.waitFor(
      (f) =>
        f.payload?.method === 'UPDATE' && f.payload?.message?.request_id === rid && f.payload?.message?.status === 1000,
      0,
      20_000,
    );
    const history = c
      .publishes(`/${P}/requests`)
      .map((f) => f.payload!.message)
      .filter((m) => !Array.isArray(m) && m.request_id === rid);
    expect(history[0]).toMatchObject({ status: 100 });
    expect(history.some((m) => m.status === 200 && m.participants.length === 1)).toBe(true);
    expect(emu.getMessages(P, rid).length).toBeGreaterThanOrEqual(2);
  });

  test('a simulation is deterministic for a given random seed', () => {
    const run = (seed: number): unknown[] => {
      const store = new Store(defaultSeed(0), seededRng(seed));
      const changes: unknown[] = [];
      store.onChange = (ch) =>
        changes.push([
          ch.kind,
          ch.method,
          ch.kind === 'message'
            ? ch.message.text
            : ch.kind === 'request'
              ? [ch.request.request_id, ch.request.status]
              : ch.projectUser.user_available,
        ]);
      const agents = [
        { userId: DEMO_IDS.users.agent, projectUserId: DEMO_IDS.projectUsers.agent },
        { userId: DEMO_IDS.users.agent2, projectUserId: DEMO_IDS.projectUsers.agent2 },
      ];
      const sim = new Simulator(store, DEMO_IDS.project, agents, 10, seededRng(seed + 1));
      for (let i = 0; i < 60; i++) sim.step();
      return changes;
    };
    const a = run(42);
    expect(a.length).toBeGreaterThanOrEqual(60);
    expect(run(42)).toEqual(a);
    expect(run(43)).not.toEqual(a);
  });

  test('close() releases sockets, timers and the port, and is idempotent', async () => {
    const emu = await startEmulator({ heartbeatIntervalMs: 50, simulate: { ratePerSecond: 50 } });
    const c = await RawClient.open(withToken(emu, emu.tokens.owner));
    c.subscribe(`/${emu.projectId}/requests`);
    await c.waitFor((f) => f.action === 'publish');
    const half = await RawClient.open(withToken(emu, emu.tokens.agent));
    emu.faults.halfOpen();
    await Promise.all([emu.close(), emu.close()]);
    await c.closed;
    await half.closed;
    expect(await tcpRefused(emu.port)).toBe(true);
    expect(emu.stats().clients).toBe(0);
    const frames = c.frames.length;
    await new Promise((r) => setTimeout(r, 150)); // the simulator and heartbeat must be stopped
    expect(c.frames.length).toBe(frames);
  });
});
