// Building and parsing topics, from the kinds described in topic-kinds.ts.
import { InvalidTopicError } from './errors';
import { describeTopicKind, TOPIC_ID_FIELDS, TOPIC_KIND_DESCRIPTIONS, TOPIC_KINDS } from './topic-kinds';
import type { TopicIdField, TopicKind } from './topic-kinds';

/** The ids of a kind's path (requestId is the request's `request_id` string, e.g. support-group-...). */
export type TopicSpec = { kind: TopicKind; /** The whole topic, for kind 'custom'. */ topic?: string } & Partial<
  Record<TopicIdField, string>
>;

export type ParsedTopic = { kind: TopicKind; projectId: string } & Partial<Record<TopicIdField, string>>;

const FORBIDDEN_IN_ID = /[/?#\s\p{Cc}]/u;
const FORBIDDEN_IN_TOPIC = /[?#\s\p{Cc}]/u;
const MAX_ID_LENGTH = 200;

function checkId(field: TopicIdField, value: string | undefined): string {
  const { label, reserved } = TOPIC_ID_FIELDS[field];
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
  if (reserved?.includes(value))
    throw new InvalidTopicError(
      `The ${label} "${value}" names another topic at that place, not an id: enter the ${label} itself.`,
    );
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
  const { path } = describeTopicKind(spec.kind);
  if (path === undefined) return checkCustomTopic(spec.topic);
  const segments = path.map((segment) => {
    const field = idFieldOf(segment);
    return field === undefined ? segment : checkId(field, spec[field]);
  });
  return `/${segments.join('/')}`;
}

/** A field a host asks for to build a topic: an id of the kind's path, or the whole topic (custom kind). */
export type TopicField = TopicIdField | 'topic';

/**
 * Builds the topic of `kind` (unknown: InvalidTopicError) from a host's parameters, reading only the fields
 * that kind uses, so a hidden field holding a leftover value is never read.
 */
export function topicFromFields(kind: unknown, read: (field: TopicField) => string | undefined): string {
  const description = describeTopicKind(kind);
  const spec: TopicSpec = { kind: description.kind };
  if (description.path === undefined) spec.topic = read('topic');
  for (const field of description.ids) spec[field] = read(field);
  return buildTopic(spec);
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
  const segments = topic.slice(1).split('/');
  for (const kind of TOPIC_KINDS) {
    const ids = matchPath(TOPIC_KIND_DESCRIPTIONS[kind].path, segments);
    if (ids) return { kind, projectId: segments[0], ...ids };
  }
  return { kind: 'custom', projectId: segments[0] };
}

function idFieldOf(segment: string): TopicIdField | undefined {
  return segment.startsWith('{') ? (segment.slice(1, -1) as TopicIdField) : undefined;
}

/** The ids of `segments` when they have the shape of `path` (a literal where it has one, no reserved id). */
function matchPath(
  path: readonly string[] | undefined,
  segments: string[],
): Partial<Record<TopicIdField, string>> | undefined {
  if (path === undefined || path.length !== segments.length) return undefined;
  const ids: Partial<Record<TopicIdField, string>> = {};
  for (const [i, segment] of path.entries()) {
    const field = idFieldOf(segment);
    if (field === undefined) {
      if (segments[i] !== segment) return undefined;
    } else if (TOPIC_ID_FIELDS[field].reserved?.includes(segments[i])) return undefined;
    else ids[field] = segments[i];
  }
  return ids;
}
