// Error classes shared by every host. Messages are user-facing: what happened, likely cause, what to do.
// They never contain the token (callers pass text through redact() first).

/** "45 s", "2 h", "31,688 years". Here, not in limits.ts, because limits.ts throws these errors. */
export function describeWait(ms: number): string {
  const s = ms / 1000;
  if (!Number.isFinite(s)) return 'forever';
  if (s < 120) return `${Math.max(1, Math.ceil(s))} s`;
  if (s < 3_600) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3_600)} h`;
  if (s < 63_072_000) return `${Math.round(s / 86_400)} days`;
  return `${Math.round(s / 31_557_600).toLocaleString('en-US')} years`;
}

/** The message of anything thrown: an Error's own, else its text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PingstreamsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** HTTP 401 on the handshake: retrying with the same token never helps. */
export class TokenRefusedError extends PingstreamsError {
  readonly expiredAt?: Date;
  constructor(expiredAt?: Date, serverReason?: string) {
    const expired = expiredAt !== undefined && expiredAt.getTime() <= Date.now();
    const expiry = expired ? ` The token expired at ${expiredAt.toISOString()}.` : '';
    // A server reason that only states the expiry again is left out: the expiry is said once.
    const reason =
      serverReason && !(expired && /expire/i.test(serverReason))
        ? ` Server said: ${serverReason.replace(/[.\s]+$/, '')}.`
        : '';
    super(
      'TOKEN_REFUSED',
      `The Pingstreams server refused the access token (HTTP 401).${expiry}${reason} ` +
        `${expired ? 'Create a new JWT in Pingstreams' : 'Check the token, or create a new JWT in Pingstreams,'} and use it in place of this one; ` +
        'the connection is not retried with this token.',
    );
    this.expiredAt = expiredAt;
  }
}

/** HTTP 429/503 on the handshake: too many new or concurrent connections. */
export class RateLimitedError extends PingstreamsError {
  /** The wait that is really honoured (Retry-After shortened to the longest wait, see core/limits.ts). */
  readonly retryAfterMs: number;
  /** What the server asked for, when it asked for more than is honoured. */
  readonly requestedRetryAfterMs?: number;
  readonly reason: string;
  readonly statusCode: number;
  constructor(statusCode: number, reason: string, retryAfterMs: number, requestedRetryAfterMs?: number) {
    const wait =
      requestedRetryAfterMs !== undefined && requestedRetryAfterMs > retryAfterMs
        ? `The server asked to wait ${describeWait(requestedRetryAfterMs)}; this client waits at most ${describeWait(retryAfterMs)}, so it retries in ${describeWait(retryAfterMs)}.`
        : `Retrying in ${describeWait(retryAfterMs)}.`;
    super(
      'RATE_LIMITED',
      `The Pingstreams server is limiting connections (HTTP ${statusCode}): ${reason || 'no reason given'}. ` +
        `${wait} If this persists, reduce the number of connections using this account.`,
    );
    this.statusCode = statusCode;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
    if (requestedRetryAfterMs !== undefined && requestedRetryAfterMs > retryAfterMs)
      this.requestedRetryAfterMs = requestedRetryAfterMs;
  }
}

/** Any other failed handshake or network error before the socket opened. */
export class HandshakeError extends PingstreamsError {
  readonly statusCode?: number;
  constructor(message: string, statusCode?: number) {
    super('HANDSHAKE_FAILED', message);
    this.statusCode = statusCode;
  }
}

/** The server answers a refused subscription with silence: no snapshot within the timeout. */
export class SubscriptionTimeoutError extends PingstreamsError {
  readonly topic: string;
  constructor(topic: string, timeoutMs: number) {
    super(
      'SUBSCRIPTION_TIMEOUT',
      `No snapshot arrived for topic ${topic} within ${Math.round(timeoutMs / 1000)} s. The server ignores subscriptions ` +
        "to projects or requests the token cannot see: check the project and request ids and that the token's user is a member of the project with a role that can see them.",
    );
    this.topic = topic;
  }
}

export class InvalidTopicError extends PingstreamsError {
  constructor(message: string) {
    super('INVALID_TOPIC', message);
  }
}

export class InsecureEndpointError extends PingstreamsError {
  constructor(endpoint: string) {
    super(
      'INSECURE_ENDPOINT',
      `Refusing to send the token over unencrypted ${endpoint}: use a wss:// endpoint, or explicitly allow insecure transport (only for a trusted network; ws:// to this machine, such as the local emulator, is always allowed).`,
    );
  }
}

export class InvalidEndpointError extends PingstreamsError {
  constructor(endpoint: string, why: string) {
    super(
      'INVALID_ENDPOINT',
      `The endpoint "${endpoint}" is not usable: ${why}. Expected a URL such as wss://eu.rtmv3.pingstreams.com/api/.`,
    );
  }
}

export class ExpressionError extends PingstreamsError {
  readonly position?: number;
  readonly expression: string;
  constructor(expression: string, message: string, position?: number) {
    super('EXPRESSION_ERROR', message);
    this.expression = expression;
    this.position = position;
  }
}

/** The connection was released or failed permanently while something still waited on it. */
export class ConnectionClosedError extends PingstreamsError {
  constructor(message = 'The Pingstreams connection was closed before the operation finished.') {
    super('CONNECTION_CLOSED', message);
  }
}
