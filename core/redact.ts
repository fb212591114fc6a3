// One place that removes secrets from anything shown to a user or written to a log.

const TOKEN_PARAM = /([?&](?:token|access_token|jwt)=)[^&#\s"'()<>[\]]*/gi;
// Three base64url segments, the first starting like a JSON header ("eyJ"): a JWT whatever its context.
const JWT_LIKE = /(?:JWT(?:%20|\s|\+))?eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const REDACTED = '[REDACTED]';

export function redact(text: string, ...secrets: Array<string | undefined>): string {
  let out = String(text).replace(TOKEN_PARAM, `$1${REDACTED}`).replace(JWT_LIKE, REDACTED);
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), stripJwtPrefix(secret)])) {
      if (form.length >= 4) out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

export function redactUrl(url: string): string {
  return redact(url);
}

/** A copy of an error whose message and stack carry no secret. */
export function redactError<E extends Error>(error: E, ...secrets: Array<string | undefined>): E {
  error.message = redact(error.message, ...secrets);
  if (error.stack) error.stack = redact(error.stack, ...secrets);
  return error;
}

export function stripJwtPrefix(token: string): string {
  return token.replace(/^\s*JWT\s+/i, '').trim();
}

/** Reads `exp` without verifying the signature: only used to explain a refusal. */
export function decodeJwtExpiry(token: string): Date | undefined {
  const parts = stripJwtPrefix(token).split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? new Date(payload.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}
