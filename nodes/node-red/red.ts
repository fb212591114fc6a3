// The slice of the Node-RED runtime API these nodes use (Node-RED ships no TypeScript types),
// plus helpers shared by the Pingstreams nodes: translated text, connection status, event -> msg.
import { redact } from '../../core';
import configCatalogue from './locales/en-US/pingstreams-config.json';
import inCatalogue from './locales/en-US/pingstreams-in.json';
import mapCatalogue from './locales/en-US/pingstreams-map.json';
import metricsCatalogue from './locales/en-US/pingstreams-metrics.json';
import subscriptionCatalogue from './locales/en-US/pingstreams-subscription.json';
import type { ConnectionHandle, ConnectionStatus, ExpressionBudget, Method, RealtimeEvent } from '../../core';

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: unknown;
  [key: string]: unknown;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export type SendFn = (msg: NodeMessage | Array<NodeMessage | null> | null) => void;
export type DoneFn = (err?: Error) => void;

export interface Node {
  id: string;
  type: string;
  name?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', listener: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | Array<NodeMessage | null> | null): void;
  status(status: NodeStatus | Record<string, never>): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string | Error, msg?: NodeMessage): void;
  debug?(message: string): void;
}

export interface JSONataExpression {
  assign(name: string, value: unknown): void;
}

export interface NodeAPI {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    getNode(id: string): Node | null;
    registerType<N extends Node, D extends NodeDef>(
      type: string,
      ctor: (this: N, def: D) => void,
      opts?: { credentials?: Record<string, { type: 'text' | 'password' }> },
    ): void;
  };
  util: {
    evaluateNodeProperty(value: string, type: string, node: Node, msg?: NodeMessage): unknown;
    prepareJSONataExpression(value: string, node: Node): JSONataExpression;
    evaluateJSONataExpression(
      expr: JSONataExpression,
      msg: NodeMessage,
      callback: (err: Error | null, result?: unknown) => void,
    ): void;
    setMessageProperty(msg: NodeMessage, property: string, value: unknown, createMissing?: boolean): boolean;
  };
  httpAdmin: {
    get(
      path: string,
      ...handlers: Array<(req: unknown, res: { json(body: unknown): void }, next: () => void) => void>
    ): void;
  };
  auth?: { needsPermission(permission: string): (req: unknown, res: unknown, next: () => void) => void };
  _(key: string, vars?: Record<string, unknown>): string;
}

/** Module name, the prefix of every i18n namespace of this package's nodes. */
export const MODULE = '@pingstreams/node-red-pingstreams';

// Text lives in locales/en-US/<node>.json. A host whose RED._ has no catalogue (node-red-node-test-helper
// returns the key unchanged) still gets English, read from the same files.
const CATALOGUES: Record<string, Record<string, unknown>> = {
  'pingstreams-config': configCatalogue,
  'pingstreams-in': inCatalogue,
  'pingstreams-subscription': subscriptionCatalogue,
  'pingstreams-map': mapCatalogue,
  'pingstreams-metrics': metricsCatalogue,
};

/** Translates `set:path.to.key` (set = the node file name, e.g. pingstreams-config) with __var__ interpolation. */
export function t(RED: NodeAPI, key: string, vars?: Record<string, unknown>): string {
  const [set, path] = key.split(':', 2);
  const full = `${MODULE}/${set}:${path}`;
  let out: string | undefined;
  try {
    out = RED._(full, vars);
  } catch {
    out = undefined;
  }
  if (typeof out === 'string' && out !== full && out !== path) return out;
  const english = lookup(CATALOGUES[set], path);
  if (typeof english !== 'string') return path;
  // Node-RED's i18next interpolation markers are __name__.
  return english.replace(/__(\w+)__/g, (_m, name: string) => (vars && name in vars ? String(vars[name]) : ''));
}

function lookup(catalogue: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = catalogue;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

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

/** msg.payload = the element, msg.topic = the realtime topic, msg.method, msg.pingstreams = the rest of the event. */
export function eventToMessage(event: RealtimeEvent): NodeMessage {
  const { data, topic, method, previous, ...rest } = event;
  const pingstreams: Record<string, unknown> =
    previous === undefined ? rest : { ...rest, previous: withoutProtoKeys(previous) };
  return { payload: withoutProtoKeys(data), topic, method, pingstreams };
}

const PROTO = '__proto__';

/** True when some object inside `value` has an own "__proto__" key (iterative: elements may nest 100 000 deep). */
function hasProtoKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Object.prototype.hasOwnProperty.call(v, PROTO)) return true;
    for (const key of Object.keys(v)) {
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/**
 * JSON.parse keeps a "__proto__" key as plain data, but Node-RED's RED.util.cloneMessage (lodash cloneDeep, used
 * for every wire after the first) assigns it, making it the clone's prototype: `msg.payload.status` would read a
 * value the server never set. Elements holding such keys are copied without them; others are passed as they are.
 */
export function withoutProtoKeys<T>(value: T): T {
  if (!hasProtoKey(value)) return value;
  const copyOf = (v: object): Record<string, unknown> => (Array.isArray(v) ? [] : {}) as Record<string, unknown>;
  const root = copyOf(value as object);
  const stack: Array<[Record<string, unknown>, Record<string, unknown>]> = [[value as Record<string, unknown>, root]];
  while (stack.length) {
    const [from, to] = stack.pop()!;
    for (const key of Object.keys(from)) {
      if (key === PROTO) continue;
      const child = from[key];
      if (typeof child === 'object' && child !== null) {
        const copy = copyOf(child);
        to[key] = copy;
        stack.push([child as Record<string, unknown>, copy]);
      } else to[key] = child;
    }
  }
  return root as T;
}

/** The event a message built by eventToMessage came from (or the best approximation for any other msg). */
export function messageToEvent(msg: NodeMessage): Record<string, unknown> {
  const rest =
    msg.pingstreams && typeof msg.pingstreams === 'object' ? (msg.pingstreams as Record<string, unknown>) : {};
  return { ...rest, method: msg.method, topic: msg.topic, data: msg.payload };
}

/** Error with a message safe to show (no token), keeping the code for status mapping. */
export function safeError(error: unknown, ...secrets: Array<string | undefined>): Error {
  if (error instanceof Error) {
    error.message = redact(error.message, ...secrets);
    return error;
  }
  return new Error(redact(String(error), ...secrets));
}

/** Reads a str/env typedInput value: env values are looked up through Node-RED (flow, group, global env, process). */
export function typedValue(RED: NodeAPI, node: Node, value: unknown, type: unknown, label: string): string {
  const raw = typeof value === 'string' ? value.trim() : '';
  if (type !== 'env') return raw;
  const resolved = raw ? RED.util.evaluateNodeProperty(raw, 'env', node) : undefined;
  const text = resolved === undefined || resolved === null ? '' : String(resolved).trim();
  if (!text)
    throw userError('INVALID_TOPIC', t(RED, 'pingstreams-config:errors.envNotSet', { name: raw || '?', label }));
  return text;
}

/** A node that uses the shared connection: told about every connection status change. */
export interface ConnectionUser {
  onConnectionStatus(status: ConnectionStatus): void;
}

export interface PingstreamsConfigNode extends Node {
  endpoint: string;
  /** From settings.js `pingstreams.subscribeTimeoutMs`, when set (the core's default otherwise). */
  subscribeTimeoutMs?: number;
  /** Registers a user and returns the shared connection, or an Error (safe to show) when none can be opened. */
  register(user: ConnectionUser): ConnectionHandle | Error;
  deregister(user: ConnectionUser): void;
  /** Removes the token (and token-like strings) from any text. */
  redact(text: string): string;
}

/** An Error with a `code` that failureText() understands. */
export function userError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The config node referenced by `id`, or an Error saying what to fix. */
export function configNode(RED: NodeAPI, id: unknown): PingstreamsConfigNode | Error {
  const found = typeof id === 'string' && id ? RED.nodes.getNode(id) : null;
  if (!found || found.type !== 'pingstreams-config')
    return userError('NO_CONFIG', t(RED, 'pingstreams-config:errors.noConfig'));
  return found as PingstreamsConfigNode;
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

/** The methods ticked in the editor (checkboxes methodCreate, methodUpdate, methodDelete); unset ones take `fallback`. */
export function selectedMethods(def: NodeDef, fallback: readonly Method[]): Method[] {
  const boxes: Array<[Method, unknown]> = [
    ['CREATE', def.methodCreate],
    ['UPDATE', def.methodUpdate],
    ['DELETE', def.methodDelete],
  ];
  return boxes
    .filter(([method, ticked]) => (typeof ticked === 'boolean' ? ticked : fallback.includes(method)))
    .map(([method]) => method);
}

/** The expression budget fields every node evaluating JSONata carries (blank: the core's defaults). */
export interface ExpressionLimitDef {
  exprTimeout?: number | string;
  exprDepth?: number | string;
}

export function expressionBudgetOf(def: ExpressionLimitDef): ExpressionBudget {
  const read = (value: unknown): number | undefined =>
    value === undefined || value === '' || value === null ? undefined : Number(value);
  return { timeMs: read(def.exprTimeout), depth: read(def.exprDepth) };
}
