// Data model of the emulator: plain JSON objects shaped like the reference server's documents.
import { randomBytes, randomUUID } from 'node:crypto';

export type Role = 'owner' | 'admin' | 'agent';
export type Obj = Record<string, unknown>;

export interface Project extends Obj {
  _id: string;
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}
export interface User extends Obj {
  _id: string;
  id: string;
  email: string;
  firstname: string;
  lastname: string;
  disabled?: boolean;
}
export interface ProjectUser extends Obj {
  _id: string;
  id: string;
  id_project: string;
  id_user: string;
  role: Role | string;
  user_available: boolean;
  isBusy: boolean;
  status: string;
  createdAt: string;
  updatedAt: string;
}
export interface Request extends Obj {
  _id: string;
  id: string;
  request_id: string;
  id_project: string;
  status: number;
  preflight: boolean;
  participants: string[];
  first_text: string;
  createdAt: string;
  updatedAt: string;
}
export interface Message extends Obj {
  _id: string;
  id: string;
  id_project: string;
  recipient: string;
  sender: string;
  senderFullname: string;
  text: string;
  type: string;
  createdAt: string;
  updatedAt: string;
}

export interface SeedData {
  projects?: Obj[];
  users?: Obj[];
  project_users?: Obj[];
  requests?: Obj[];
  messages?: Obj[];
}

/** Request status codes of the reference server. */
export const STATUS = {
  TEMPORARY: 50,
  UNASSIGNED: 100,
  ABANDONED: 150,
  ASSIGNED: 200,
  SERVED: 300,
  CLOSED: 1000,
} as const;

/** On the open-requests list: past temporary, not closed or abandoned, not a preflight. */
export function isOpenRequest(r: { status?: unknown; preflight?: unknown }): boolean {
  const status = Number(r.status);
  return status > STATUS.TEMPORARY && status < STATUS.CLOSED && status !== STATUS.ABANDONED && r.preflight !== true;
}

/** Random source; seeded for deterministic simulations (mulberry32), crypto otherwise. */
export interface Rng {
  next(): number; // [0, 1)
  bytes(n: number): Buffer;
}

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))) };
}

export const cryptoRng: Rng = { next: () => randomBytes(4).readUInt32BE(0) / 4294967296, bytes: (n) => randomBytes(n) };

/** Mongo-like 24-hex ids: 4 bytes of seconds, 5 random bytes, 3-byte counter. */
export function makeIdFactory(rng: Rng): { objectId(): string; uuid(): string } {
  let counter = rng.bytes(3).readUIntBE(0, 3);
  const process5 = rng.bytes(5).toString('hex');
  return {
    objectId() {
      counter = (counter + 1) & 0xffffff;
      const secs = Math.floor(Date.now() / 1000)
        .toString(16)
        .padStart(8, '0');
      return secs + process5 + counter.toString(16).padStart(6, '0');
    },
    uuid() {
      if (rng === cryptoRng) return randomUUID();
      const h = rng.bytes(16);
      h[6] = (h[6] & 0x0f) | 0x40;
      h[8] = (h[8] & 0x3f) | 0x80;
      const s = h.toString('hex');
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
    },
  };
}

export const OBJECT_ID = /^[0-9a-f]{24}$/;
