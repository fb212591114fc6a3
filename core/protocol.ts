// The wire format: frames the client sends and the validation of frames it receives.
// Nothing here throws: a bad frame becomes a { type: 'malformed' } result with a reason.
import { METHODS, type Element, type Method } from './types';

export type IncomingFrame =
  | { type: 'publish'; topic: string; method: Method; elements: Element[]; wasArray: boolean; rejected: number }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'ignored'; action: string }
  | { type: 'malformed'; reason: string };

export const subscribeFrame = (topic: string): string => JSON.stringify({ action: 'subscribe', payload: { topic } });
export const unsubscribeFrame = (topic: string): string =>
  JSON.stringify({ action: 'unsubscribe', payload: { topic } });
export const heartbeatFrame = (text: 'ping' | 'pong'): string =>
  JSON.stringify({ action: 'heartbeat', payload: { message: { text } } });

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseFrame(text: string): IncomingFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { type: 'malformed', reason: `invalid JSON (${text.length} characters)` };
  }
  if (!isPlainObject(frame)) return { type: 'malformed', reason: 'frame is not a JSON object' };
  const { action, payload } = frame;
  if (typeof action !== 'string') return { type: 'malformed', reason: 'frame has no "action" string' };
  if (!isPlainObject(payload))
    return { type: 'malformed', reason: `"${action.slice(0, 40)}" frame has no "payload" object` };
  if (action === 'heartbeat') {
    const message = payload.message;
    const text = isPlainObject(message) ? message.text : undefined;
    if (text === 'ping') return { type: 'ping' };
    if (text === 'pong') return { type: 'pong' };
    return { type: 'malformed', reason: 'heartbeat frame without "ping" or "pong" text' };
  }
  if (action !== 'publish') return { type: 'ignored', action: action.slice(0, 40) };
  const { topic, method, message } = payload;
  if (typeof topic !== 'string' || topic.length === 0)
    return { type: 'malformed', reason: 'publish frame without a topic' };
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
    return {
      type: 'malformed',
      reason: `publish frame on ${topic.slice(0, 200)} with unknown method ${JSON.stringify(method)?.slice(0, 40)}`,
    };
  }
  if (message === null || message === undefined) {
    // A single-object snapshot is null when the object is not visible: a valid, empty answer.
    return { type: 'publish', topic, method: method as Method, elements: [], wasArray: false, rejected: 0 };
  }
  if (!Array.isArray(message)) {
    // A live event: one element, no intermediate array.
    if (!isPlainObject(message))
      return {
        type: 'malformed',
        reason: `publish frame on ${topic.slice(0, 200)} whose message is ${typeof message}, not an object`,
      };
    return { type: 'publish', topic, method: method as Method, elements: [message], wasArray: false, rejected: 0 };
  }
  const elements = (message as unknown[]).filter(isPlainObject) as Element[];
  const rejected = (message as unknown[]).length - elements.length;
  return { type: 'publish', topic, method: method as Method, elements, wasArray: true, rejected };
}

/** The element's stable id: `_id`, else `id`, as a string. A number keeps its type (`_id: 1` is not `"1"`). */
export function elementId(element: Element): string | undefined {
  const id = element._id ?? element.id;
  if (typeof id === 'string') return id;
  return typeof id === 'number' && Number.isFinite(id) ? `#number:${id}` : undefined;
}
