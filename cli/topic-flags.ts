// The topic flags of `pingstreams listen`, from the core's description of the topic kinds: one flag per id
// field (--project, --request, --agent) and one per kind that must be named (--messages).
import {
  buildTopic,
  kindsAskedFor,
  topicFromFields,
  TOPIC_ID_FIELD_ORDER,
  TOPIC_ID_FIELDS,
  TOPIC_KIND_DESCRIPTIONS,
  TOPIC_KINDS,
  type TopicField,
  type TopicIdField,
  type TopicKind,
} from '../core';
import { UsageError, type FlagSpec } from './args';

const PROJECT: TopicIdField = 'projectId';
const ID_FIELDS = TOPIC_ID_FIELD_ORDER.filter((field) => field !== PROJECT);
/** Kinds with a path that are only chosen when named: each has a boolean flag of its name. */
const NAMED_KINDS = TOPIC_KINDS.filter((kind) => {
  const { path, namedOnly } = TOPIC_KIND_DESCRIPTIONS[kind];
  return path !== undefined && namedOnly === true;
});
const flagOf = (field: TopicIdField): string => TOPIC_ID_FIELDS[field].flag;
/** A named kind's flag: its name in kebab case (--messages). */
export const kindFlag = (kind: TopicKind): string => kind.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export const TOPIC_FLAGS: Record<string, FlagSpec> = {
  topic: { type: 'string', multiple: true },
  ...Object.fromEntries(TOPIC_ID_FIELD_ORDER.map((field) => [flagOf(field), { type: 'string' }])),
  ...Object.fromEntries(NAMED_KINDS.map((kind) => [kindFlag(kind), { type: 'boolean' }])),
};

/** The flags a kind needs beyond --project: its other ids. */
const idFlagsOf = (kind: TopicKind): string[] =>
  TOPIC_KIND_DESCRIPTIONS[kind].ids.filter((f) => f !== PROJECT).map((f) => `--${flagOf(f)}`);

/** "a, b and c". */
const listing = (items: string[]): string =>
  items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}` : items.join('');

const column = (left: string, text: string): string => `  ${left.padEnd(23)}${text}`;

const shape = (kind: TopicKind): string =>
  `${TOPIC_KIND_DESCRIPTIONS[kind].pattern}: ${TOPIC_KIND_DESCRIPTIONS[kind].label.toLowerCase()}`;

/** The synopsis of the id flags: --project ID [--request ID [--messages]] [--agent ID]. */
export const TOPIC_FLAGS_SYNOPSIS = [
  `--${flagOf(PROJECT)} ID`,
  ...ID_FIELDS.map((field) => {
    const kinds = NAMED_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].ids.at(-1) === field);
    return `[--${flagOf(field)} ID${kinds.map((kind) => ` [--${kindFlag(kind)}]`).join('')}]`;
  }),
].join(' ');

/** The "Topics:" section of the usage text. */
export const TOPIC_FLAGS_USAGE = [
  'Topics:',
  column('--topic TOPIC', 'a full topic, e.g. /PROJECT_ID/requests (repeatable)'),
  ...TOPIC_ID_FIELD_ORDER.map((field) => {
    const needs = field === PROJECT ? '' : `with --${flagOf(PROJECT)}: `;
    const kinds = kindsAskedFor(new Set([PROJECT, field]), new Set());
    return column(`--${flagOf(field)} ID`, `${needs}${kinds.map(shape).join('; ')}`);
  }),
  ...NAMED_KINDS.map((kind) => column(`--${kindFlag(kind)}`, `with ${idFlagsOf(kind).join(' ')}: ${shape(kind)}`)),
].join('\n');

/** The topics the flags ask for (ids are checked by the core: a bad one is an InvalidTopicError). */
export function topicsFromFlags(flags: Readonly<Record<string, unknown>>): string[] {
  const topics = ((flags.topic as string[] | undefined) ?? []).map((topic) => buildTopic({ kind: 'custom', topic }));
  const value = (field: TopicField) => (field === 'topic' ? undefined : (flags[flagOf(field)] as string | undefined));
  const given = new Set(TOPIC_ID_FIELD_ORDER.filter((field) => value(field) !== undefined));
  const named = new Set(NAMED_KINDS.filter((kind) => flags[kindFlag(kind)] === true));
  if (!given.has(PROJECT)) {
    if (given.size === 0 && named.size === 0) return topics;
    const all = [...ID_FIELDS.map((f) => `--${flagOf(f)}`), ...NAMED_KINDS.map((k) => `--${kindFlag(k)}`)];
    throw new UsageError(`${listing(all)} need --project (the project id).`);
  }
  for (const kind of named) {
    const missing = TOPIC_KIND_DESCRIPTIONS[kind].ids.find((f) => !given.has(f));
    if (missing)
      throw new UsageError(`--${kindFlag(kind)} needs --${flagOf(missing)} (the ${TOPIC_ID_FIELDS[missing].label}).`);
  }
  for (const kind of kindsAskedFor(given, named)) topics.push(topicFromFields(kind, value));
  return topics;
}
