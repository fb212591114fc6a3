// Each topic kind described once: its path, ids, shape, snapshot limit, what leaves the tracker, and the
// texts hosts show. Topics are built and parsed from it, the tracker reads its rules from it, and the n8n
// parameters, the Node-RED editor (generated at build time, see gulpfile.js) and the CLI flags list it.
// A new kind is one entry in KINDS (and its editor texts in node-red/locales).
import { InvalidTopicError } from './errors';

/** The id a topic path holds. */
export type TopicIdField = 'projectId' | 'requestId' | 'projectUserId';

export interface TopicIdFieldDescription {
  /** In sentences: "The project id is missing". */
  label: string;
  /** Shown as the id in a path shape: /PROJECT_ID/requests. */
  placeholder: string;
  /** The CLI flag that gives it (--project). */
  flag: string;
  /** n8n's parameter. */
  displayName: string;
  description: string;
  example?: string;
  /** Values that name another topic at this place (/P/project_users/users is no agent). */
  reserved?: readonly string[];
}

export const TOPIC_ID_FIELDS: Readonly<Record<TopicIdField, TopicIdFieldDescription>> = {
  projectId: {
    label: 'project id',
    placeholder: 'PROJECT_ID',
    flag: 'project',
    displayName: 'Project ID',
    description: 'The 24-hex-digit ID of the Pingstreams project (in the dashboard URL)',
    example: '5eb45fbc1f9e1f0012d62207',
  },
  requestId: {
    label: 'request id',
    placeholder: 'REQUEST_ID',
    flag: 'request',
    displayName: 'Request ID',
    description: 'The request_id string of the request (not its _id)',
    example: 'support-group-1a952f2f-c09a-46be-bc75-11387a95d55f',
  },
  projectUserId: {
    label: 'project user id',
    placeholder: 'PROJECT_USER_ID',
    flag: 'agent',
    displayName: 'Project User ID',
    description: 'The ID of the project user (agent); a token only sees its own project user',
    reserved: ['users'],
  },
};

/**
 * list: the snapshot is an array and live events are single elements of it; single: the snapshot is the object
 * (null when gone or not visible, which is a deletion); any: whatever the server serves.
 */
export type TopicShape = 'list' | 'single' | 'any';

interface KindInput {
  /** Title Case: the n8n option's name, the CLI's help. */
  label: string;
  /** What it delivers, one line (n8n and CLI help; the path shape is appended). */
  help: string;
  /** Segments after the leading "/"; `{field}` is an id. Absent: any valid topic (the custom kind). */
  path?: readonly string[];
  shape: TopicShape;
  /** The server's snapshot limit: a snapshot shorter than it holds every element. Absent: no limit. */
  snapshotLimit?: number;
  /** Elements with this status are closed: they leave the tracker and the resume record (as a DELETE always does). */
  closedStatus?: number;
  /** Known elements absent from a snapshot shorter than the limit are looked up on their own topic. */
  lookUpMissing?: boolean;
  /** Chosen only when named (CLI --NAME flag, Node-RED msg.kind), never guessed from the ids given. */
  namedOnly?: boolean;
}

// Order: the CLI and the editor list them so; among kinds the same ids name, the later one is guessed.
const KINDS = {
  requests: {
    label: 'Project Requests',
    help: 'Open requests of a project, created and changed',
    path: ['{projectId}', 'requests'],
    shape: 'list',
    snapshotLimit: 100,
    closedStatus: 1000,
    lookUpMissing: true,
  },
  request: {
    label: 'One Request',
    help: 'Changes of one request, closed ones included',
    path: ['{projectId}', 'requests', '{requestId}'],
    shape: 'single',
  },
  messages: {
    label: 'Messages of a Request',
    help: 'New messages in one request',
    path: ['{projectId}', 'requests', '{requestId}', 'messages'],
    shape: 'list',
    snapshotLimit: 300,
    namedOnly: true,
  },
  agent: {
    label: 'Agent',
    help: 'Changes of one project user (availability, busy state)',
    path: ['{projectId}', 'project_users', '{projectUserId}'],
    shape: 'single',
  },
  custom: {
    label: 'Custom Topic',
    help: 'Any other topic the server serves, e.g. /PROJECT_ID/events/PROJECT_USER_ID',
    shape: 'any',
    namedOnly: true,
  },
} as const satisfies Record<string, KindInput>;

/** requests = /P/requests, request = /P/requests/R, messages = /P/requests/R/messages, agent = /P/project_users/PU. */
export type TopicKind = keyof typeof KINDS;

export interface TopicKindDescription extends KindInput {
  kind: TopicKind;
  /** The ids its path holds, in path order (none for custom: the whole topic is given). */
  ids: readonly TopicIdField[];
  /** The path with placeholders (/PROJECT_ID/requests), absent for custom. */
  pattern?: string;
}

const FIELD_SEGMENT = /^\{(\w+)\}$/;

function fieldOf(segment: string): TopicIdField | undefined {
  const name = FIELD_SEGMENT.exec(segment)?.[1];
  if (name === undefined) return undefined;
  if (!(name in TOPIC_ID_FIELDS)) throw new Error(`Topic path segment ${segment} names no id field.`);
  return name as TopicIdField;
}

function describe(kind: TopicKind, input: KindInput): TopicKindDescription {
  const ids = (input.path ?? []).map(fieldOf).filter((f): f is TopicIdField => f !== undefined);
  const pattern = input.path?.map((s) => {
    const field = fieldOf(s);
    return field ? TOPIC_ID_FIELDS[field].placeholder : s;
  });
  return { ...input, kind, ids, ...(pattern ? { pattern: `/${pattern.join('/')}` } : {}) };
}

/** Each kind's description, its literal values kept (TOPIC_KIND_DESCRIPTIONS.requests.snapshotLimit is 100). */
export const TOPIC_KIND_DESCRIPTIONS = Object.fromEntries(
  (Object.entries(KINDS) as Array<[TopicKind, KindInput]>).map(([kind, input]) => [kind, describe(kind, input)]),
) as { readonly [K in TopicKind]: TopicKindDescription & (typeof KINDS)[K] };

export const TOPIC_KINDS: readonly TopicKind[] = Object.keys(KINDS) as TopicKind[];

export function isTopicKind(value: unknown): value is TopicKind {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(KINDS, value);
}

/** The description of `kind`; an unknown kind (a stale or hand-edited parameter) is an InvalidTopicError. */
export function describeTopicKind(kind: unknown): TopicKindDescription {
  if (!isTopicKind(kind))
    throw new InvalidTopicError(
      `Unknown topic kind "${String(kind)}": use one of ${TOPIC_KINDS.join(', ')}. Open the node and choose the topic again.`,
    );
  return TOPIC_KIND_DESCRIPTIONS[kind];
}

/** One line of help: what it delivers and its path shape. */
export function topicKindHelp(kind: TopicKind): string {
  const { help, pattern } = TOPIC_KIND_DESCRIPTIONS[kind];
  return pattern ? `${help}: ${pattern}` : help;
}

/** Every id field some kind uses, in the order of first use. */
export const TOPIC_ID_FIELD_ORDER: readonly TopicIdField[] = [
  ...new Set(TOPIC_KINDS.flatMap((kind) => TOPIC_KIND_DESCRIPTIONS[kind].ids)),
];

/**
 * The kinds a set of given ids (and named kinds) asks for: each kind whose ids are all given, named if it must be,
 * unless a kind asked for too holds more ids, or the same ids and was named. `--project P --request R --agent A`
 * asks for one request and one agent; `--project P` alone for the project's requests.
 */
export function kindsAskedFor(given: ReadonlySet<TopicIdField>, named: ReadonlySet<TopicKind>): TopicKind[] {
  const candidates = TOPIC_KINDS.map((kind) => TOPIC_KIND_DESCRIPTIONS[kind]).filter(
    (d) => d.path !== undefined && d.ids.every((field) => given.has(field)) && (!d.namedOnly || named.has(d.kind)),
  );
  const within = (a: TopicKindDescription, b: TopicKindDescription) => a.ids.every((f) => b.ids.includes(f));
  return candidates
    .filter(
      (d) =>
        !candidates.some(
          (other) =>
            other !== d &&
            within(d, other) &&
            (other.ids.length > d.ids.length || (other.namedOnly === true && !d.namedOnly)),
        ),
    )
    .map((d) => d.kind);
}
