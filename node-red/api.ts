// The slice of the Node-RED runtime API these nodes use (Node-RED ships no TypeScript types), and the
// contract between the config node and the nodes that share its connection.
import type { ConnectionHandle, ConnectionStatus } from '../core';

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
