import { InvalidTopicError } from './errors';
import type { TopicKind } from './types';

export interface TopicSpec {
  kind: TopicKind;
  projectId?: string;
  /** The request's `request_id` string (e.g. support-group-...), as the server keys request topics. */
  requestId?: string;
  projectUserId?: string;
  /** The whole topic, for kind 'custom'. */
  topic?: string;
}

export interface ParsedTopic {
  kind: TopicKind;
  projectId: string;
  requestId?: string;
  projectUserId?: string;
}

export const TOPIC_KINDS: readonly TopicKind[] = ['requests', 'request', 'messages', 'agent', 'custom'];

const FORBIDDEN_IN_ID = /[/?#\s\p{Cc}]/u;
const FORBIDDEN_IN_TOPIC = /[?#\s\p{Cc}]/u;
const MAX_ID_LENGTH = 200;

function checkId(label: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidTopicError(`The ${label} is missing: enter the ${label} to build the topic.`);
  }
  if (value.length > MAX_ID_LENGTH) {
    throw new InvalidTopicError(`The ${label} is ${value.length} characters long; ids are at most ${MAX_ID_LENGTH}.`);
  }
  const bad = FORBIDDEN_IN_ID.exec(value);
  if (bad) {
    throw new InvalidTopicError(
      `The ${label} "${printable(value)}" contains ${describeChar(bad[0])}, which is not allowed in an id (no "/", "?", "#", spaces or control characters). Check for a pasted URL or stray whitespace.`,
    );
  }
  return value;
}

function printable(value: string): string {
  return value.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function describeChar(c: string): string {
  if (/\s/.test(c)) return 'whitespace';
  if (/\p{Cc}/u.test(c)) return 'a control character';
  return `"${c}"`;
}

export function buildTopic(spec: TopicSpec): string {
  switch (spec.kind) {
    case 'requests':
      return `/${checkId('project id', spec.projectId)}/requests`;
    case 'request':
      return `/${checkId('project id', spec.projectId)}/requests/${checkId('request id', spec.requestId)}`;
    case 'messages':
      return `/${checkId('project id', spec.projectId)}/requests/${checkId('request id', spec.requestId)}/messages`;
    case 'agent':
      return `/${checkId('project id', spec.projectId)}/project_users/${checkId('project user id', spec.projectUserId)}`;
    case 'custom':
      return checkCustomTopic(spec.topic);
    default:
      throw new InvalidTopicError(`Unknown topic kind "${String(spec.kind)}": use one of ${TOPIC_KINDS.join(', ')}.`);
  }
}

function checkCustomTopic(topic: string | undefined): string {
  if (typeof topic !== 'string' || topic.length === 0)
    throw new InvalidTopicError('The topic is missing: enter a topic such as /PROJECT_ID/requests.');
  if (!topic.startsWith('/'))
    throw new InvalidTopicError(`The topic "${printable(topic)}" must start with "/", e.g. /PROJECT_ID/requests.`);
  const bad = FORBIDDEN_IN_TOPIC.exec(topic);
  if (bad)
    throw new InvalidTopicError(
      `The topic "${printable(topic)}" contains ${describeChar(bad[0])}, which is not allowed in a topic.`,
    );
  if (
    topic
      .slice(1)
      .split('/')
      .some((segment) => segment.length === 0)
  ) {
    throw new InvalidTopicError(`The topic "${printable(topic)}" has an empty segment ("//" or a trailing "/").`);
  }
  return topic;
}

/** Classifies any valid topic; unknown shapes are 'custom' with the first segment as project id. */
export function parseTopic(topic: string): ParsedTopic {
  checkCustomTopic(topic);
  const [projectId, a, b, c, ...rest] = topic.slice(1).split('/');
  if (rest.length === 0) {
    if (a === 'requests' && b === undefined) return { kind: 'requests', projectId };
    if (a === 'requests' && b !== undefined && c === undefined) return { kind: 'request', projectId, requestId: b };
    if (a === 'requests' && b !== undefined && c === 'messages') return { kind: 'messages', projectId, requestId: b };
    if (a === 'project_users' && b !== undefined && c === undefined && b !== 'users')
      return { kind: 'agent', projectId, projectUserId: b };
  }
  return { kind: 'custom', projectId };
}
