// Realtime events as Node-RED messages, and back.
import type { RealtimeEvent } from '../core';
import type { NodeMessage } from './api';

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
