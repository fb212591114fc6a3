// Every node's status comes from here: the shared connection's state, a node's own problem, coded errors.
import { redact } from '../core';
import type { ConnectionStatus } from '../core';
import type { Node, NodeAPI, NodeStatus } from './api';
import { t } from './i18n';

/** Status shown under a node for the shared connection; `connectedText` replaces the plain "connected". */
export function connectionStatus(RED: NodeAPI, status: ConnectionStatus, connectedText?: string): NodeStatus {
  const code = (status.error as { code?: string } | undefined)?.code;
  switch (status.state) {
    case 'connected':
      return { fill: 'green', shape: 'dot', text: connectedText ?? t(RED, 'pingstreams-config:status.connected') };
    case 'idle':
    case 'connecting':
    case 'reconnecting': {
      const seconds = Math.max(1, Math.ceil((status.retryInMs ?? 0) / 1000));
      if (code === 'RATE_LIMITED')
        return { fill: 'red', shape: 'ring', text: t(RED, 'pingstreams-config:status.rateLimited', { seconds }) };
      if (code === 'TOKEN_REFUSED')
        return { fill: 'red', shape: 'ring', text: t(RED, 'pingstreams-config:status.tokenRefused') };
      // Waiting before the next attempt (after a drop, or a first attempt that failed).
      if (status.retryInMs !== undefined && status.error)
        return { fill: 'yellow', shape: 'ring', text: t(RED, 'pingstreams-config:status.reconnecting', { seconds }) };
      return { fill: 'yellow', shape: 'ring', text: t(RED, 'pingstreams-config:status.connecting') };
    }
    case 'failed':
      return { fill: 'red', shape: 'ring', text: failureText(RED, status.error) };
    case 'closed':
    default:
      return { fill: 'grey', shape: 'ring', text: t(RED, 'pingstreams-config:status.closed') };
  }
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Short status text for an error (the full, redacted message goes to the log). */
export function failureText(RED: NodeAPI, error: Error | undefined): string {
  switch ((error as { code?: string } | undefined)?.code) {
    case 'TOKEN_REFUSED':
      return t(RED, 'pingstreams-config:status.tokenRefused');
    case 'NO_TOKEN':
    case 'TOKEN_MISSING':
      return t(RED, 'pingstreams-config:status.noToken');
    case 'NO_METHOD':
      return t(RED, 'pingstreams-config:status.noMethod');
    case 'NO_CONFIG':
      return t(RED, 'pingstreams-config:status.noConfig');
    case 'RATE_LIMITED':
      return t(RED, 'pingstreams-config:status.rateLimited', {
        seconds: Math.ceil(((error as { retryAfterMs?: number }).retryAfterMs ?? 0) / 1000),
      });
    case 'SUBSCRIPTION_TIMEOUT':
      return t(RED, 'pingstreams-config:status.subscriptionRefused');
    case 'INVALID_TOPIC':
      return t(RED, 'pingstreams-config:status.invalidTopic');
    case 'INSECURE_ENDPOINT':
    case 'INVALID_ENDPOINT':
      return t(RED, 'pingstreams-config:status.badEndpoint');
    case 'EXPRESSION_ERROR':
      return t(RED, 'pingstreams-config:status.badExpression');
    case 'HANDSHAKE_FAILED':
      return t(RED, 'pingstreams-config:status.handshakeFailed');
    default:
      return t(RED, 'pingstreams-config:status.failed');
  }
}

/** An Error with a `code` that failureText() understands. */
export function userError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Error with a message safe to show (no token), keeping the code for status mapping. */
export function safeError(error: unknown, ...secrets: Array<string | undefined>): Error {
  if (error instanceof Error) {
    error.message = redact(error.message, ...secrets);
    return error;
  }
  return new Error(redact(String(error), ...secrets));
}

/**
 * Status of a node that uses the connection: the connection state, a sticky problem of its own
 * (refused subscription...), and a "connected" text with counters. Counter updates are throttled to
 * one per second so a busy topic does not flood the editor.
 */
export class StatusReporter {
  private connection: ConnectionStatus = { state: 'idle' };
  private problem: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastShown = 0;
  private closed = false;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    private readonly connectedText: () => string,
  ) {}

  setConnection(status: ConnectionStatus): void {
    // A fresh connection resubscribes every topic: an older subscription problem may be gone.
    if (status.state === 'connected' && this.connection.state !== 'connected') this.problem = undefined;
    this.connection = status;
    this.show(true);
  }

  setProblem(error: Error | undefined): void {
    this.problem = error;
    this.show(true);
  }

  /** Counters changed. */
  bump(): void {
    this.show(false);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private show(now: boolean): void {
    if (this.closed) return;
    const elapsed = Date.now() - this.lastShown;
    if (now || elapsed >= 1000) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.apply();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.apply();
      }, 1000 - elapsed);
    }
  }

  private apply(): void {
    if (this.closed) return;
    this.lastShown = Date.now();
    if (this.problem && this.connection.state === 'connected') {
      this.node.status({ fill: 'red', shape: 'ring', text: failureText(this.RED, this.problem) });
    } else {
      this.node.status(
        connectionStatus(
          this.RED,
          this.connection,
          this.connection.state === 'connected' ? this.connectedText() : undefined,
        ),
      );
    }
  }
}

/** Status for a node that could not start at all (no config node, no token, invalid topic...). */
export function startupFailure(RED: NodeAPI, node: Node, error: Error): void {
  node.status({ fill: 'red', shape: 'ring', text: failureText(RED, error) });
  node.error(error.message);
}
