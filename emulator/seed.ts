// Default demo data and seed loading (object or JSON file).
import { readFileSync } from 'node:fs';
import { Obj, SeedData } from './model';

export const DEMO_IDS = {
  project: '5eb45fbc1f9e1f0012d62207',
  department: '5eb45fbc1f9e1f0012d62209',
  users: {
    owner: '5eb45fb21f9e1f0012d62201',
    admin: '5eb45fb21f9e1f0012d62202',
    agent: '5eb45fb21f9e1f0012d62203',
    agent2: '5eb45fb21f9e1f0012d62204',
  },
  projectUsers: {
    owner: '5eb45fbc1f9e1f0012d6220a',
    admin: '5eb45fbc1f9e1f0012d6220b',
    agent: '5eb45fbc1f9e1f0012d6220c',
    agent2: '5eb45fbc1f9e1f0012d6220d',
  },
} as const;

export type DemoRole = 'owner' | 'admin' | 'agent' | 'agent2';
export const DEMO_ROLES: readonly DemoRole[] = ['owner', 'admin', 'agent', 'agent2'];

const PEOPLE: Record<DemoRole, { firstname: string; lastname: string; email: string; role: string }> = {
  owner: { firstname: 'Olivia', lastname: 'Owner', email: 'owner@demo.pingstreams.test', role: 'owner' },
  admin: { firstname: 'Adam', lastname: 'Admin', email: 'admin@demo.pingstreams.test', role: 'admin' },
  agent: { firstname: 'Ada', lastname: 'Agent', email: 'agent@demo.pingstreams.test', role: 'agent' },
  agent2: { firstname: 'Bob', lastname: 'Agent', email: 'agent2@demo.pingstreams.test', role: 'agent' },
};

/** One demo project with an owner, an admin, two agents and a few requests with messages. Times are relative to now. */
export function defaultSeed(now = Date.now()): SeedData {
  const at = (minutesAgo: number): string => new Date(now - minutesAgo * 60_000).toISOString();
  const P = DEMO_IDS.project;
  const U = DEMO_IDS.users;
  const req = (
    n: number,
    uuid: string,
    status: number,
    participants: string[],
    text: string,
    created: number,
    updated: number,
  ): Obj => ({
    _id: `5eb4fc911f9e1f0012d6224${n}`,
    request_id: `support-group-${uuid}`,
    id_project: P,
    status,
    participants,
    requester: `5eb4fc901f9e1f0012d6230${n}`,
    lead: { _id: `5eb4fc901f9e1f0012d6230${n}`, fullname: `Customer ${n}`, email: `customer${n}@example.com` },
    first_text: text,
    department: DEMO_IDS.department,
    createdBy: `5eb4fc901f9e1f0012d6230${n}`,
    createdAt: at(created),
    updatedAt: at(updated),
    ...(participants.length ? { assigned_at: at(created - 1) } : {}),
    ...(status === 1000 ? { closed_at: at(updated) } : {}),
  });
  const requests = [
    req(1, '1a952f2f-c09a-46be-bc75-11387a95d55f', 200, [U.agent], 'hello world', 50, 30),
    req(2, '2b6c3d4e-5f60-4718-89ab-cdef01234567', 100, [], 'My parcel has not arrived yet.', 20, 20),
    req(3, '3c7d8e9f-a0b1-42c3-94d5-e6f708192a3b', 200, [U.agent2], 'Can I change my delivery address?', 15, 5),
    req(4, '4d8e9fa0-b1c2-43d4-a5e6-f708192a3b4c', 1000, [U.agent], 'Thanks, all solved!', 120, 90),
  ];
  const msg = (n: number, r: Obj, sender: string, fullname: string, text: string, minutesAgo: number): Obj => ({
    _id: `5eb4fc921f9e1f0012d625${String(n).padStart(2, '0')}`,
    id_project: P,
    recipient: r.request_id,
    sender,
    senderFullname: fullname,
    text,
    createdAt: at(minutesAgo),
    updatedAt: at(minutesAgo),
  });
  const [r1, r2, r3, r4] = requests;
  return {
    projects: [{ _id: P, name: 'Demo support', default_department: DEMO_IDS.department }],
    users: DEMO_ROLES.map((role) => ({
      _id: U[role],
      email: PEOPLE[role].email,
      firstname: PEOPLE[role].firstname,
      lastname: PEOPLE[role].lastname,
    })),
    project_users: DEMO_ROLES.map((role) => ({
      _id: DEMO_IDS.projectUsers[role],
      id_project: P,
      id_user: U[role],
      role: PEOPLE[role].role,
      user_available: role !== 'agent2',
    })),
    requests,
    messages: [
      msg(1, r1, String(r1.requester), 'Customer 1', 'hello world', 50),
      msg(2, r1, U.agent, 'Ada Agent', 'Hi! How can I help you?', 40),
      msg(3, r1, String(r1.requester), 'Customer 1', 'Where is my order #1042?', 30),
      msg(4, r2, String(r2.requester), 'Customer 2', 'My parcel has not arrived yet.', 20),
      msg(5, r3, String(r3.requester), 'Customer 3', 'Can I change my delivery address?', 15),
      msg(6, r3, U.agent2, 'Bob Agent', 'Sure, what is the new address?', 5),
      msg(7, r4, String(r4.requester), 'Customer 4', 'Thanks, all solved!', 100),
    ],
  };
}

/** Seed from an object or a JSON file path; missing top-level lists are empty. */
export function loadSeed(seed: SeedData | string | undefined): SeedData {
  if (seed === undefined) return defaultSeed();
  if (typeof seed === 'string') {
    let text: string;
    try {
      text = readFileSync(seed, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read the seed file ${seed}: ${(err as Error).message}`);
    }
    try {
      seed = JSON.parse(text) as SeedData;
    } catch (err) {
      throw new Error(`The seed file ${seed} is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (typeof seed !== 'object' || seed === null || Array.isArray(seed)) {
    throw new Error(
      'The seed must be a JSON object with "projects", "users", "project_users", "requests" and "messages" arrays.',
    );
  }
  return seed;
}

/**
 * Demo identities in the first project: the first owner, the first admin, the first two agents.
 * Roles a custom seed lacks are added (with new users) so every demo token always exists.
 */
export function completeDemoRoles(
  seed: SeedData,
  newId: () => string,
): { seed: SeedData; projectId: string; users: Record<DemoRole, string>; projectUsers: Record<DemoRole, string> } {
  const projects = [...(seed.projects ?? [])];
  if (projects.length === 0) projects.push({ _id: newId(), name: 'Demo support' });
  if (typeof projects[0]._id !== 'string') projects[0] = { ...projects[0], _id: newId() };
  const projectId = projects[0]._id as string;
  const users = [...(seed.users ?? [])];
  const projectUsers = (seed.project_users ?? []).map((pu) =>
    typeof pu._id === 'string' && pu._id ? pu : { ...pu, _id: newId() },
  );
  const inProject = projectUsers.filter(
    (pu) => pu.id_project === projectId && (pu.status === undefined || pu.status === 'active'),
  );
  const pick = (role: string, index: number): Obj | undefined =>
    inProject.filter((pu) => (pu.role ?? 'agent') === role)[index];
  const outUsers = {} as Record<DemoRole, string>;
  const outPUs = {} as Record<DemoRole, string>;
  for (const role of DEMO_ROLES) {
    let pu = role === 'agent2' ? pick('agent', 1) : pick(PEOPLE[role].role, 0);
    if (!pu || typeof pu._id !== 'string' || typeof pu.id_user !== 'string') {
      const userId = newId();
      users.push({
        _id: userId,
        email: `${role}@emulator.pingstreams.test`,
        firstname: PEOPLE[role].firstname,
        lastname: PEOPLE[role].lastname,
      });
      pu = { _id: newId(), id_project: projectId, id_user: userId, role: PEOPLE[role].role, user_available: true };
      projectUsers.push(pu);
      inProject.push(pu);
    }
    outUsers[role] = pu.id_user as string;
    outPUs[role] = pu._id as string;
  }
  return {
    seed: { ...seed, projects, users, project_users: projectUsers },
    projectId,
    users: outUsers,
    projectUsers: outPUs,
  };
}
