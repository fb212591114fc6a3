// One place that removes secrets from anything shown to a user or written to a log.

// The value of a token-carrying query parameter, whatever the token looks like (opaque tokens included).
export const TOKEN_PARAM = /([?&](?:token|access_token|jwt)=)[^&#\s"'()<>[\]]*/gi;
// A base64url JSON object ("eyJ" = '{"') of some length: a JWT's header or payload, alone or joined by dots,
// so a token cut by a server (a close reason holds 123 bytes) or wrapped in a line is still caught.
export const JWT_LIKE = /(?:JWT(?:%20|\s|\+))?eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g;
const REDACTED = '[REDACTED]';
// A run this long that starts the literal token is the token cut short: removed too.
const MIN_PREFIX = 12;

export function redact(text: string, ...secrets: Array<string | undefined>): string {
  let out = String(text).replace(TOKEN_PARAM, `$1${REDACTED}`).replace(JWT_LIKE, REDACTED);
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), stripJwtPrefix(secret)])) {
      if (form.length >= 4) out = removeSecretPrefixes(out.split(form).join(REDACTED), form);
    }
  }
  return out;
}

/** Removes every run of at least MIN_PREFIX characters that matches the start of `secret` (a truncated copy). */
function removeSecretPrefixes(text: string, secret: string): string {
  if (secret.length < MIN_PREFIX) return text;
  const start = secret.slice(0, MIN_PREFIX);
  let from = text.indexOf(start);
  while (from >= 0) {
    let end = from + MIN_PREFIX;
    while (end < text.length && end - from < secret.length && text[end] === secret[end - from]) end += 1;
    text = `${text.slice(0, from)}${REDACTED}${text.slice(end)}`;
    from = text.indexOf(start, from + REDACTED.length);
  }
  return text;
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
