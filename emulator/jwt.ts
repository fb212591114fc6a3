// Minimal HS256 JWT for the emulator (node:crypto only, no dependency).
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface JwtClaims {
  _id?: string;
  sub?: string;
  email?: string;
  iat?: number;
  exp?: number;
  [key: string]: unknown;
}

export type VerifyResult =
  | { ok: true; claims: JwtClaims }
  | { ok: false; reason: 'malformed' | 'algorithm' | 'signature' | 'expired'; expiredAt?: Date };

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

function hmac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

/** Signs claims; `iat` defaults to now, `exp` is added when expiresInSec is given. */
export function signJwt(claims: JwtClaims, secret: string, expiresInSec?: number): string {
  const now = Math.floor(Date.now() / 1000);
  const body: JwtClaims = { iat: now, ...claims };
  if (expiresInSec !== undefined) body.exp = now + expiresInSec;
  const unsigned = `${HEADER}.${base64url(JSON.stringify(body))}`;
  return `${unsigned}.${hmac(secret, unsigned).toString('base64url')}`;
}

/** Verifies signature (constant time) and `exp`. Accepts the token bare or with the `JWT ` prefix. */
export function verifyJwt(token: string, secret: string, nowMs = Date.now()): VerifyResult {
  const bare = stripJwtPrefix(token);
  const parts = bare.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return { ok: false, reason: 'malformed' };
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isObject(header) || !isObject(claims)) return { ok: false, reason: 'malformed' };
  // Never trust the header's algorithm choice beyond HS256 ("alg: none" attacks).
  if (header.alg !== 'HS256') return { ok: false, reason: 'algorithm' };
  const expected = hmac(secret, `${parts[0]}.${parts[1]}`);
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  const c = claims as JwtClaims;
  if (c.exp !== undefined) {
    if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) return { ok: false, reason: 'malformed' };
    if (c.exp * 1000 <= nowMs) return { ok: false, reason: 'expired', expiredAt: new Date(c.exp * 1000) };
  }
  return { ok: true, claims: c };
}

export function stripJwtPrefix(token: string): string {
  return token.trim().replace(/^JWT\s+/i, '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
