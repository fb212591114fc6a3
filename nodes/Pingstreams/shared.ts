// What the Pingstreams trigger and action nodes share: credentials -> connection options, the
// connection test, the topic parameters, and the mapping of core errors to n8n errors.
import type {
  ICredentialsDecrypted,
  ICredentialTestFunctions,
  IDisplayOptions,
  INode,
  INodeCredentialTestResult,
  INodeProperties,
  Logger as N8nLogger,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import {
  DEFAULT_ENDPOINT,
  HandshakeError,
  METHODS,
  messageOf,
  PingstreamsError,
  RateLimitedError,
  TokenRefusedError,
  TOPIC_ID_FIELDS,
  TOPIC_ID_FIELD_ORDER,
  TOPIC_KIND_DESCRIPTIONS,
  TOPIC_KINDS,
  redact,
  testConnection,
  topicFromFields,
  topicKindHelp,
} from '../../core/portable';
import type { ConnectionOptions, Logger, Method, RealtimeEvent, TopicIdField, TopicKind } from '../../core/portable';
import { compileConditions, type ConditionOperator, type ConditionSet } from '../../core/conditions';
import { n8nPlatform, type HttpRequest } from './n8n-platform';
import type { Platform } from '../../core/platform';

export const CREDENTIAL_NAME = 'pingstreamsApi';

export interface PingstreamsCredentials {
  accessToken: string;
  endpoint?: string;
  allowInsecure?: boolean;
}

/** `platform` is the context's n8n platform (n8n-platform.ts platformOf): never the Node one, which uses `ws`. */
export function connectionOptions(
  credentials: PingstreamsCredentials,
  extra: Partial<ConnectionOptions> & { platform: Platform },
): ConnectionOptions {
  return {
    ...extra,
    endpoint: String(credentials.endpoint ?? '').trim() || DEFAULT_ENDPOINT,
    token: String(credentials.accessToken ?? '').trim(),
    allowInsecure: credentials.allowInsecure === true,
  };
}

/** The credential test's context has only the request helper: the same probe, in its option names. */
export function requestAsHttpRequest(
  helpers: ICredentialTestFunctions['helpers'] | undefined,
): HttpRequest | undefined {
  if (typeof helpers?.request !== 'function') return undefined;
  return (options) =>
    helpers.request({
      uri: options.url,
      method: options.method,
      headers: options.headers,
      timeout: options.timeout,
      resolveWithFullResponse: true,
      simple: false,
      json: false,
    });
}

/** n8n's logger takes (message, metadata); the core's takes a message. Prefixed so it can be grepped. */
export function coreLogger(logger: N8nLogger, nodeName: string): Logger {
  const prefix = `[Pingstreams] ${nodeName}: `;
  return {
    debug: (message) => logger.debug(prefix + message),
    info: (message) => logger.info(prefix + message),
    warn: (message) => logger.warn(prefix + message),
    error: (message) => logger.error(prefix + message),
  };
}

/** `testedBy` target of both nodes: a real handshake plus one heartbeat. */
export async function pingstreamsApiTest(
  this: ICredentialTestFunctions,
  credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
  const data = (credential.data ?? {}) as unknown as PingstreamsCredentials;
  const options = connectionOptions(data, { platform: n8nPlatform(requestAsHttpRequest(this.helpers)) });
  if (!options.token) return { status: 'Error', message: 'The access token is empty: paste a Pingstreams JWT.' };
  try {
    const { latencyMs } = await testConnection(options);
    return { status: 'OK', message: `Connected; heartbeat answered in ${latencyMs} ms.` };
  } catch (error) {
    const message = messageOf(error);
    return { status: 'Error', message: redact(message, options.token) };
  }
}

// ---- topic parameters ----

/** displayOptions.show of the properties below, to restrict them to some operations. */
export type Show = NonNullable<IDisplayOptions['show']>;

// The kinds as the core describes them, sorted by name as n8n lists options.
const TOPIC_KIND_OPTIONS = TOPIC_KINDS.map((kind) => ({
  name: TOPIC_KIND_DESCRIPTIONS[kind].label,
  value: kind,
  description: topicKindHelp(kind),
})).sort((a, b) => a.name.localeCompare(b.name));

/** The kinds whose path holds `field`: where its parameter is shown. */
const kindsWith = (field: TopicIdField): TopicKind[] =>
  TOPIC_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].ids.includes(field));

/** An id field's parameter, as the core describes the field. */
function idProperty(field: TopicIdField, displayOptions: IDisplayOptions): INodeProperties {
  const { displayName, description, example } = TOPIC_ID_FIELDS[field];
  return {
    displayName,
    name: field,
    type: 'string',
    required: true,
    default: '',
    ...(example !== undefined ? { placeholder: example } : {}),
    description,
    displayOptions,
  };
}

/** The project id field, shown where `displayOptions` says (the topic resources, Live Metrics). */
export function projectIdProperty(displayOptions: IDisplayOptions): INodeProperties {
  return idProperty('projectId', displayOptions);
}

/** Resource + id fields. `show` restricts them to some operations of the action node. */
export function topicProperties(show: Show = {}): INodeProperties[] {
  const when = (resource: TopicKind[]) => ({ show: { ...show, resource } });
  return [
    {
      displayName: 'Resource',
      name: 'resource',
      type: 'options',
      noDataExpression: true,
      options: TOPIC_KIND_OPTIONS,
      default: 'requests',
      ...(Object.keys(show).length ? { displayOptions: { show } } : {}),
    },
    ...TOPIC_ID_FIELD_ORDER.map((field) => idProperty(field, when(kindsWith(field)))),
    {
      displayName: 'Topic',
      name: 'topic',
      type: 'string',
      required: true,
      default: '',
      placeholder: '/5eb45fbc1f9e1f0012d62207/events/5eb45fbc1f9e1f0012d62208',
      description: 'The whole topic, starting with "/"',
      displayOptions: when(TOPIC_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].path === undefined)),
    },
  ];
}

type ParameterGetter = (name: string, fallback?: unknown) => unknown;

/** Reads the resource + id parameters and builds the topic (throws the core's InvalidTopicError, also for an unknown resource). */
export function topicFromParameters(get: ParameterGetter): string {
  return topicFromFields(get('resource', 'requests'), (name) => {
    const value = get(name, '');
    return typeof value === 'string' ? value.trim() : String(value ?? '');
  });
}

/** Per method, what it means to a user of the nodes (a Record: a new method in the core must be described here). */
const METHOD_DESCRIPTIONS: Record<Method, string> = {
  CREATE: 'A new request, message or element',
  UPDATE: 'A change: assignment, status, closing, availability',
  DELETE: 'An element was removed (rare)',
};

export const EVENTS_PROPERTY: INodeProperties = {
  displayName: 'Events',
  name: 'events',
  type: 'multiOptions',
  options: METHODS.map((method) => ({
    name: method.charAt(0) + method.slice(1).toLowerCase(),
    value: method,
    description: METHOD_DESCRIPTIONS[method],
  })).sort((a, b) => a.name.localeCompare(b.name)),
  default: ['CREATE'],
  required: true,
  description: 'Which published methods to react to',
};

export function methodsParameter(value: unknown): Method[] {
  const list = Array.isArray(value) ? value : [];
  return list.filter((m): m is Method => (METHODS as readonly unknown[]).includes(m));
}

export type OutputMode = 'event' | 'data';

export function outputProperties(defaultMode: OutputMode, show: Show = {}): INodeProperties[] {
  const displayOptions = Object.keys(show).length ? { displayOptions: { show } } : {};
  return [
    {
      displayName: 'Output',
      name: 'output',
      type: 'options',
      options: [
        {
          name: 'Data Only',
          value: 'data',
          description: 'The published element (request, message, project user) as it is',
        },
        {
          name: 'Event Envelope',
          value: 'event',
          description: 'Method, topic, IDs, data, previous state and the snapshot/recovered flags',
        },
      ],
      default: defaultMode,
      ...displayOptions,
    },
    {
      // Shown only for workflows saved with the former "JSONata Mapping" output, so its text is not lost.
      displayName: 'Mapping (JSONata, No Longer Supported)',
      name: 'mapping',
      type: 'string',
      typeOptions: { rows: 3 },
      default: '',
      description:
        'A JSONata mapping from an earlier version of this node. It is not evaluated any more: set Output to Data Only or Event Envelope and shape the item in the next node.',
      displayOptions: { show: { ...show, output: ['mapping'] } },
    },
  ];
}

/**
 * The output shape; a JSONata mapping saved by an earlier version is refused with what to do instead (the n8n
 * package evaluates no JSONata: n8n expressions in the next node reshape the item).
 */
export function outputParameter(node: INode, mode: unknown, mapping: unknown): OutputMode {
  if (mode === 'mapping')
    throw new NodeOperationError(node, 'This node still uses the "JSONata Mapping" output, which n8n no longer runs', {
      description: `The package now runs without dependencies, so it evaluates no JSONata. Set Output to Data Only or Event Envelope, and shape the item in the next node with n8n expressions (an Edit Fields (Set) node, e.g. {{ $json.data.status }}). The old mapping was: ${String(mapping ?? '').slice(0, 200)}`,
    });
  return mode === 'data' ? 'data' : 'event';
}

// ---- errors ----

/** What to do, for the errors whose message says what happened but not where to act in n8n. */
function hintFor(error: Error): string | undefined {
  if (error instanceof TokenRefusedError)
    return 'Open the Pingstreams API credentials, paste a new token, save, then activate the workflow again.';
  if (error instanceof RateLimitedError)
    return 'Workflows using the same credentials share one connection; other tools using the same account count too. Wait, then try again.';
  if (error instanceof HandshakeError)
    return 'Check the endpoint in the Pingstreams API credentials (wss://HOST/api/ or wss://HOST/) and that this n8n instance can reach that host.';
  if (error instanceof PingstreamsError && error.code === 'SUBSCRIPTION_TIMEOUT')
    return 'Also check the Resource and the IDs: a request topic takes the request_id string (support-group-...), not the _id.';
  if (error instanceof PingstreamsError && error.code === 'INSECURE_ENDPOINT')
    return 'Use a wss:// endpoint, or enable "Allow Unencrypted Connection" in the credentials for a trusted private network.';
  return undefined;
}

function httpStatusOf(error: Error): number | undefined {
  if (error instanceof TokenRefusedError) return 401;
  if (error instanceof RateLimitedError) return error.statusCode;
  if (error instanceof HandshakeError) return error.statusCode;
  return undefined;
}

/** A core error (or anything thrown) as the n8n error the UI shows, with the token removed. */
export function toNodeError(
  node: INode,
  thrown: unknown,
  token: string | undefined,
  itemIndex?: number,
): NodeApiError | NodeOperationError {
  if (thrown instanceof NodeOperationError || thrown instanceof NodeApiError) return thrown;
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const message = redact(error.message, token);
  const description = hintFor(error);
  const status = httpStatusOf(error);
  if (status !== undefined) {
    const code = error instanceof PingstreamsError ? error.code : 'ERROR';
    return new NodeApiError(node, { code, message }, { message, description, httpCode: String(status), itemIndex });
  }
  const safe = new Error(message);
  safe.name = error.name;
  return new NodeOperationError(node, safe, { description, itemIndex });
}

/** Seconds from a number parameter, clamped, as milliseconds. */
export function secondsToMs(value: unknown, fallbackSeconds: number, min = 1, max = 3600): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? value : fallbackSeconds;
  return Math.round(Math.min(max, Math.max(min, n)) * 1000);
}

// ---- conditions ("Only When") ----

const CONDITION_OPERATOR_OPTIONS: Array<{ name: string; value: ConditionOperator; description: string }> = [
  {
    name: 'Changed',
    value: 'changed',
    description: 'The field differs from the previous state (true when no previous state is known)',
  },
  {
    name: 'Changed From',
    value: 'changedFrom',
    description: 'The field had this value before and has another now (needs the previous state)',
  },
  {
    name: 'Changed To',
    value: 'changedTo',
    description: 'The field has this value now and did not before (or no previous state is known)',
  },
  { name: 'Contains', value: 'contains', description: 'Text containing the value, or a list with an item equal to it' },
  { name: 'Equals', value: 'equals', description: 'Numbers as numbers, true/false as booleans, text as is' },
  { name: 'Exists', value: 'exists', description: 'The field is present and not null' },
  { name: 'Greater Than', value: 'greaterThan', description: 'A number, or an ISO time, greater than the value' },
  { name: 'Less Than', value: 'lessThan', description: 'A number, or an ISO time, less than the value' },
  { name: 'Not Equals', value: 'notEquals', description: 'The opposite of Equals' },
];

/** "Only When" in a node's Options: n8n-native conditions on the element and its previous state (core/conditions). */
export const CONDITION_PROPERTIES: INodeProperties[] = [
  {
    displayName: 'Conditions Must Match',
    name: 'combineConditions',
    type: 'options',
    options: [
      { name: 'All', value: 'all', description: 'Every condition of Only When holds' },
      { name: 'Any', value: 'any', description: 'At least one condition of Only When holds' },
    ],
    default: 'all',
  },
  {
    displayName: 'Only When',
    name: 'conditions',
    type: 'fixedCollection',
    typeOptions: { multipleValues: true },
    placeholder: 'Add Condition',
    default: {},
    description:
      'Pass only events whose element meets these conditions, e.g. status Changed To 1000 (just closed) or user_available Changed From true',
    options: [
      {
        name: 'condition',
        displayName: 'Condition',
        values: [
          {
            displayName: 'Field',
            name: 'field',
            type: 'string',
            default: '',
            placeholder: 'status',
            description:
              'Path of a field of the element: status, lead.fullname, channel.name, participants.length, participants.0',
          },
          {
            displayName: 'Comparison',
            name: 'operator',
            type: 'options',
            options: CONDITION_OPERATOR_OPTIONS,
            default: 'equals',
          },
          {
            displayName: 'Value',
            name: 'value',
            type: 'string',
            default: '',
            placeholder: '1000',
            displayOptions: { hide: { operator: ['exists', 'changed'] } },
          },
        ],
      },
    ],
  },
  {
    displayName: 'Only When (JSONata, No Longer Supported)',
    name: 'onlyWhen',
    type: 'string',
    default: '',
    description:
      'A JSONata condition from an earlier version of this node. It is not evaluated any more: rebuild it under Only When, then clear this field.',
  },
];

export interface ConditionOptions {
  conditions?: { condition?: Array<{ field?: string; operator?: string; value?: unknown }> };
  combineConditions?: string;
  onlyWhen?: string;
}

/** The "Only When" conditions of a node's Options as one test, or the error that says what a JSONata one must become. */
export function conditionsParameter(node: INode, options: ConditionOptions): (event: RealtimeEvent) => boolean {
  const legacy = typeof options.onlyWhen === 'string' ? options.onlyWhen.trim() : '';
  if (legacy)
    throw new NodeOperationError(
      node,
      'This node still has a JSONata "Only When" condition, which n8n no longer runs',
      {
        description: `The package now runs without dependencies, so n8n evaluates its own conditions instead of JSONata. Open Options, add the same test under "Only When" (a field, a comparison, a value; e.g. \`status = 1000 and $previous.status != 1000\` is status Changed To 1000), clear "Only When (JSONata, No Longer Supported)" (now: ${legacy.slice(0, 200)}), then activate the workflow again.`,
      },
    );
  const conditions = (options.conditions?.condition ?? []).map((c) => ({
    field: String(c.field ?? ''),
    operator: String(c.operator ?? 'equals') as ConditionOperator,
    value: c.value === undefined || c.value === null ? undefined : String(c.value),
  }));
  const set: ConditionSet = { conditions, combine: options.combineConditions === 'any' ? 'any' : 'all' };
  try {
    return compileConditions(set);
  } catch (error) {
    throw new NodeOperationError(node, (error as Error).message, {
      description: 'Fix the condition under Options → Only When.',
    });
  }
}
