// Reading what the editor saved in a node's definition: the config node it names, str/env fields, method
// checkboxes, expression limits.
import type { ExpressionBudget, Method } from '../core';
import type { Node, NodeAPI, NodeDef, PingstreamsConfigNode } from './api';
import { t } from './i18n';
import { userError } from './status';

/** The config node referenced by `id`, or an Error saying what to fix. */
export function configNode(RED: NodeAPI, id: unknown): PingstreamsConfigNode | Error {
  const found = typeof id === 'string' && id ? RED.nodes.getNode(id) : null;
  if (!found || found.type !== 'pingstreams-config')
    return userError('NO_CONFIG', t(RED, 'pingstreams-config:errors.noConfig'));
  return found as PingstreamsConfigNode;
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
