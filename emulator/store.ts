// In-memory state of the emulator and the change events the socket layer turns into publishes.
import {
  makeIdFactory,
  Message,
  Obj,
  OBJECT_ID,
  Project,
  ProjectUser,
  Request,
  Rng,
  SeedData,
  STATUS,
  User,
} from './model';

/** Error with an HTTP status, used by the admin API to answer 400/404 with a clear message. */
export class EmulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}

export type StoreChange =
  | { kind: 'request'; method: 'CREATE' | 'UPDATE' | 'DELETE'; projectId: string; request: Request }
  | { kind: 'message'; method: 'CREATE'; projectId: string; request: Request; message: Message }
  | { kind: 'project_user'; method: 'UPDATE'; projectId: string; projectUser: ProjectUser };

// Fields a patch may not touch: identity and creation data.
const FROZEN_REQUEST_FIELDS = new Set(['_id', 'id', 'request_id', 'id_project', 'createdAt', 'updatedAt', '__v']);
const PROJECT_USER_FIELDS = new Set([
  'user_available',
  'isBusy',
  'profileStatus',
  'max_assigned_chat',
  'number_assigned_requests',
  'role',
]);

const clone = <T>(v: T): T => structuredClone(v);

export class Store {
  readonly projects = new Map<string, Project>();
  readonly users = new Map<string, User>();
  readonly projectUsers = new Map<string, ProjectUser>();
  /** projectId -> request _id -> request */
  private readonly requests = new Map<string, Map<string, Request>>();
  /** request _id -> messages, oldest first */
  private readonly messages = new Map<string, Message[]>();
  private lastStamp = 0;
  private readonly ids: { objectId(): string; uuid(): string };
  onChange: (change: StoreChange) => void = () => undefined;

  constructor(seed: SeedData, rng: Rng) {
    this.ids = makeIdFactory(rng);
    this.load(seed);
  }

  /** Strictly increasing ISO time: consumers fingerprint objects by updatedAt, so two changes never share one. */
  stamp(): string {
    const now = Math.max(Date.now(), this.lastStamp + 1);
    this.lastStamp = now;
    return new Date(now).toISOString();
  }

  objectId(): string {
    return this.ids.objectId();
  }

  project(projectId: string): Project {
    const p = this.projects.get(projectId);
    if (!p) throw new EmulatorError(404, `Project ${projectId} does not exist in the emulator.`);
    return p;
  }

  /** Active membership of a user in a project, if any. */
  membership(projectId: string, userId: string): ProjectUser | undefined {
    for (const pu of this.projectUsers.values()) {
      if (pu.id_project === projectId && pu.id_user === userId && pu.status === 'active') return pu;
    }
    return undefined;
  }

  projectUsersOf(projectId: string): ProjectUser[] {
    return [...this.projectUsers.values()].filter((pu) => pu.id_project === projectId);
  }

  projectUser(projectId: string, projectUserId: string): ProjectUser {
    const pu = this.projectUsers.get(projectUserId);
    if (!pu || pu.id_project !== projectId) {
      throw new EmulatorError(404, `Project user ${projectUserId} does not exist in project ${projectId}.`);
    }
    return pu;
  }

  /** Finds a request by its request_id string or its 24-hex _id. */
  findRequest(projectId: string, requestId: string): Request | undefined {
    const map = this.requests.get(projectId);
    if (!map) return undefined;
    const byId = map.get(requestId);
    if (byId) return byId;
    for (const r of map.values()) if (r.request_id === requestId) return r;
    return undefined;
  }

  request(projectId: string, requestId: string): Request {
    this.project(projectId);
    const r = this.findRequest(projectId, requestId);
    if (!r) throw new EmulatorError(404, `Request ${requestId} does not exist in project ${projectId}.`);
    return r;
  }

  requestsOf(projectId: string): Request[] {
    return [...(this.requests.get(projectId)?.values() ?? [])];
  }

  messagesOf(request: Request): Message[] {
    return this.messages.get(request._id) ?? [];
  }

  createRequest(projectId: string, fields: Obj = {}): Request {
    this.project(projectId);
    assertObject(fields, 'Request fields');
    const now = this.stamp();
    const _id = typeof fields._id === 'string' && OBJECT_ID.test(fields._id) ? fields._id : this.ids.objectId();
    if (this.findRequest(projectId, _id)) throw new EmulatorError(409, `Request ${_id} already exists.`);
    const requestId =
      typeof fields.request_id === 'string' && fields.request_id
        ? fields.request_id
        : `support-group-${this.ids.uuid()}`;
    if (this.findRequest(projectId, requestId)) throw new EmulatorError(409, `Request ${requestId} already exists.`);
    const participants = fields.participants === undefined ? [] : stringArray(fields.participants, 'participants');
    const requester = typeof fields.requester === 'string' ? fields.requester : this.ids.objectId();
    const status =
      fields.status === undefined
        ? participants.length
          ? STATUS.ASSIGNED
          : STATUS.UNASSIGNED
        : statusOf(fields.status);
    const request: Request = {
      _id,
      status,
      preflight: false,
      participants,
      request_id: requestId,
      requester,
      lead: { _id: requester, fullname: 'Guest', email: `guest-${requester.slice(-6)}@example.com` },
      first_text: 'Hello, I need some help with my order.',
      department: this.defaultDepartment(projectId),
      id_project: projectId,
      createdBy: requester,
      tags: [],
      notes: [],
      channel: { name: 'chat21' },
      ...clone(fields),
      createdAt: now,
      updatedAt: now,
      __v: 0,
      id: _id,
    } as Request;
    request.participants = participants;
    request.status = status;
    if (participants.length && request.assigned_at === undefined) request.assigned_at = now;
    request.id_project = projectId;
    request.request_id = requestId;
    let map = this.requests.get(projectId);
    if (!map) this.requests.set(projectId, (map = new Map()));
    map.set(_id, request);
    this.messages.set(_id, []);
    this.onChange({ kind: 'request', method: 'CREATE', projectId, request: clone(request) });
    return clone(request);
  }

  updateRequest(projectId: string, requestId: string, patch: Obj): Request {
    const request = this.request(projectId, requestId);
    assertObject(patch, 'Request patch');
    const next: Obj = {};
    for (const [k, v] of Object.entries(patch)) {
      if (FROZEN_REQUEST_FIELDS.has(k)) throw new EmulatorError(400, `Field "${k}" of a request cannot be changed.`);
      next[k] = clone(v);
    }
    if ('participants' in next) next.participants = stringArray(next.participants, 'participants');
    if ('status' in next) next.status = statusOf(next.status);
    if ('preflight' in next && typeof next.preflight !== 'boolean')
      throw new EmulatorError(400, '"preflight" must be true or false.');
    const wasAssigned = request.participants.length > 0;
    Object.assign(request, next);
    const now = this.stamp();
    if (!wasAssigned && request.participants.length > 0 && request.assigned_at === undefined) request.assigned_at = now;
    if (request.status === STATUS.CLOSED && request.closed_at === undefined) request.closed_at = now;
    request.updatedAt = now;
    request.__v = (Number(request.__v) || 0) + 1;
    this.onChange({ kind: 'request', method: 'UPDATE', projectId, request: clone(request) });
    return clone(request);
  }

  closeRequest(projectId: string, requestId: string): Request {
    const request = this.request(projectId, requestId);
    if (request.status === STATUS.CLOSED) return clone(request); // already closed: no change, no event
    return this.updateRequest(projectId, requestId, { status: STATUS.CLOSED });
  }

  deleteRequest(projectId: string, requestId: string): Request {
    const request = this.request(projectId, requestId);
    this.requests.get(projectId)?.delete(request._id);
    this.messages.delete(request._id);
    this.onChange({ kind: 'request', method: 'DELETE', projectId, request: clone(request) });
    return clone(request);
  }

  addMessage(projectId: string, requestId: string, input: Obj): Message {
    const request = this.request(projectId, requestId);
    assertObject(input, 'Message');
    if (typeof input.text !== 'string' || input.text === '')
      throw new EmulatorError(400, 'A message needs a non-empty "text" string.');
    const sender =
      typeof input.sender === 'string' && input.sender
        ? input.sender
        : String(request.requester ?? request.createdBy ?? '');
    const senderUser = this.users.get(sender);
    const now = this.stamp();
    const _id = this.ids.objectId();
    const message: Message = {
      _id,
      type: 'text',
      status: 150,
      senderFullname: senderUser ? `${senderUser.firstname} ${senderUser.lastname}`.trim() : 'Guest',
      ...clone(input),
      sender,
      text: input.text,
      recipient: request.request_id,
      id_project: projectId,
      createdAt: now,
      updatedAt: now,
      __v: 0,
      id: _id,
    } as Message;
    this.messages.get(request._id)?.push(message);
    this.onChange({ kind: 'message', method: 'CREATE', projectId, request: clone(request), message: clone(message) });
    return clone(message);
  }

  updateProjectUser(projectId: string, projectUserId: string, patch: Obj): ProjectUser {
    const pu = this.projectUser(projectId, projectUserId);
    assertObject(patch, 'Project user patch');
    for (const [k, v] of Object.entries(patch)) {
      if (!PROJECT_USER_FIELDS.has(k)) {
        throw new EmulatorError(
          400,
          `Field "${k}" of a project user cannot be changed (allowed: ${[...PROJECT_USER_FIELDS].join(', ')}).`,
        );
      }
      if ((k === 'user_available' || k === 'isBusy') && typeof v !== 'boolean')
        throw new EmulatorError(400, `"${k}" must be true or false.`);
      pu[k] = clone(v);
    }
    pu.updatedAt = this.stamp();
    pu.__v = (Number(pu.__v) || 0) + 1;
    this.onChange({ kind: 'project_user', method: 'UPDATE', projectId, projectUser: clone(pu) });
    return clone(pu);
  }

  /** Whole state as seed-shaped JSON (the admin API's GET /admin/state; can be saved and used as --seed). */
  dump(): Required<SeedData> {
    return clone({
      projects: [...this.projects.values()],
      users: [...this.users.values()],
      project_users: [...this.projectUsers.values()],
      requests: [...this.requests.values()].flatMap((m) => [...m.values()]),
      messages: [...this.messages.values()].flat(),
    });
  }

  private defaultDepartment(projectId: string): string {
    const p = this.projects.get(projectId);
    return typeof p?.default_department === 'string' ? p.default_department : projectId;
  }

  private load(seed: SeedData): void {
    const now = this.stamp();
    const list = (v: unknown, name: string): Obj[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) {
        throw new Error(`Seed: "${name}" must be an array of objects.`);
      }
      return v as Obj[];
    };
    const idOf = (o: Obj): string => (typeof o._id === 'string' && o._id ? o._id : this.ids.objectId());
    for (const raw of list(seed.projects, 'projects')) {
      const _id = idOf(raw);
      this.projects.set(_id, {
        name: 'Project',
        createdAt: now,
        updatedAt: now,
        ...clone(raw),
        _id,
        id: _id,
      } as Project);
    }
    for (const raw of list(seed.users, 'users')) {
      const _id = idOf(raw);
      this.users.set(_id, {
        email: `${_id}@example.com`,
        firstname: 'User',
        lastname: _id.slice(-4),
        ...clone(raw),
        _id,
        id: _id,
      } as User);
    }
    for (const raw of list(seed.project_users, 'project_users')) {
      const _id = idOf(raw);
      const pu = {
        role: 'agent',
        user_available: true,
        isBusy: false,
        status: 'active',
        createdAt: now,
        updatedAt: now,
        ...clone(raw),
        _id,
        id: _id,
      } as ProjectUser;
      if (!this.projects.has(pu.id_project))
        throw new Error(`Seed: project user ${_id} refers to unknown project "${String(pu.id_project)}".`);
      if (!this.users.has(pu.id_user))
        throw new Error(`Seed: project user ${_id} refers to unknown user "${String(pu.id_user)}".`);
      this.projectUsers.set(_id, pu);
    }
    for (const raw of list(seed.requests, 'requests')) {
      const pid = String(raw.id_project);
      if (!this.projects.has(pid))
        throw new Error(`Seed: request ${String(raw._id ?? raw.request_id)} refers to unknown project "${pid}".`);
      const created = this.withoutEvents(() => this.createRequest(pid, raw));
      // Keep seeded timestamps so snapshots have a realistic order.
      const stored = this.findRequest(pid, created._id) as Request;
      if (typeof raw.createdAt === 'string') stored.createdAt = raw.createdAt;
      if (typeof raw.updatedAt === 'string') stored.updatedAt = raw.updatedAt;
      if (typeof raw.__v === 'number') stored.__v = raw.__v;
    }
    for (const raw of list(seed.messages, 'messages')) {
      const pid = String(raw.id_project);
      const rid = String(raw.recipient ?? raw.request_id);
      const request = this.findRequest(pid, rid);
      if (!request) throw new Error(`Seed: message refers to unknown request "${rid}" in project "${pid}".`);
      const _id = idOf(raw);
      const { request_id: _ignored, ...rest } = raw;
      void _ignored;
      const m = {
        type: 'text',
        status: 150,
        sender: request.requester,
        senderFullname: 'Guest',
        text: '',
        createdAt: now,
        updatedAt: now,
        ...clone(rest),
        _id,
        id: _id,
        id_project: pid,
        recipient: request.request_id,
      } as Message;
      this.messages.get(request._id)?.push(m);
    }
    for (const msgs of this.messages.values()) msgs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    // A seeded time in the future must not make later changes look older.
    for (const r of this.requests.values()) {
      for (const req of r.values()) this.lastStamp = Math.max(this.lastStamp, Date.parse(req.updatedAt) || 0);
    }
  }

  private withoutEvents<T>(fn: () => T): T {
    const saved = this.onChange;
    this.onChange = () => undefined;
    try {
      return fn();
    } finally {
      this.onChange = saved;
    }
  }
}

function assertObject(v: unknown, what: string): asserts v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new EmulatorError(400, `${what} must be a JSON object.`);
}

function stringArray(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new EmulatorError(400, `"${name}" must be an array of user id strings.`);
  return [...(v as string[])];
}

function statusOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new EmulatorError(400, '"status" must be a request status code: 50, 100, 150, 200, 300 or 1000.');
  }
  return v;
}
