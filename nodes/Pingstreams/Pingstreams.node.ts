import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import { ConnectionClosedError, PingstreamsError, acquireConnection, createPipeline } from '../../core/portable';
import type { Clock, ConnectionHandle, RealtimeEvent } from '../../core/portable';
import {
  CREDENTIAL_NAME,
  EVENTS_PROPERTY,
  connectionOptions,
  coreLogger,
  methodsParameter,
  outputParameter,
  outputProperties,
  pingstreamsApiTest,
  secondsToMs,
  toNodeError,
  topicFromParameters,
  topicProperties,
  type PingstreamsCredentials,
  CONDITION_PROPERTIES,
  conditionsParameter,
  type ConditionOptions,
} from './shared';
import { platformOf } from './n8n-platform';
import {
  FORECAST_PROPERTIES,
  forecastFromParameters,
  metricsOptionsProperty,
  metricsProjectProperty,
  readLiveMetrics,
} from './metrics-operations';

type Operation = 'getSnapshot' | 'waitForEvent' | 'transform' | 'getLiveMetrics' | 'forecastStaffing';

interface SubscribeOptionsParameter {
  subscribeTimeout?: number;
  includeCurrentState?: boolean;
}

const NEEDS_CONNECTION = { operation: ['getSnapshot', 'waitForEvent'] };
const LIVE_METRICS = { operation: ['getLiveMetrics'] };

/** An object result becomes the item; an array one item per element; anything else { value }. */
function toItems(value: unknown, itemIndex: number): INodeExecutionData[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry) => ({
    json: (entry !== null && typeof entry === 'object' && !Array.isArray(entry)
      ? entry
      : { value: entry }) as IDataObject,
    pairedItem: { item: itemIndex },
  }));
}

/** Resolves with `promise`, or rejects when the execution is cancelled. */
function cancellable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new ConnectionClosedError('The execution was cancelled.'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ConnectionClosedError('The execution was cancelled.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export class Pingstreams implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Pingstreams',
    name: 'pingstreams',
    icon: { light: 'file:../../icons/pingstreams.svg', dark: 'file:../../icons/pingstreams.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"]}}',
    description:
      'Read the current state of Pingstreams requests, messages and agents, wait for a realtime event, or get live support metrics',
    defaults: { name: 'Pingstreams' },
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    usableAsTool: true,
    // Literals (not CREDENTIAL_NAME): n8n's credential-test-required rule reads the name and testedBy from the source.
    credentials: [
      {
        name: 'pingstreamsApi',
        required: true,
        testedBy: 'pingstreamsApiTest',
        displayOptions: { show: { operation: [...NEEDS_CONNECTION.operation, ...LIVE_METRICS.operation] } },
      },
    ],
    properties: [
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        options: [
          {
            name: 'Forecast Staffing',
            value: 'forecastStaffing',
            description:
              'Agents needed for a service-level target (Erlang C, Erlang A with patience): a calculation from the numbers given',
            action: 'Forecast the agents needed',
          },
          {
            name: 'Get Live Metrics',
            value: 'getLiveMetrics',
            description: "A project's support figures now: queue, longest wait, waits, service level, agents",
            action: 'Get the live support metrics of a project',
          },
          {
            name: 'Get Snapshot',
            value: 'getSnapshot',
            description: 'Subscribe, take the current state, unsubscribe: one item per element',
            action: 'Get the current state of a topic',
          },
          {
            name: 'Wait for Event',
            value: 'waitForEvent',
            description: 'Wait until a realtime event matches, or time out',
            action: 'Wait for a realtime event',
          },
        ],
        default: 'getSnapshot',
      },
      ...topicProperties(NEEDS_CONNECTION),
      metricsProjectProperty(LIVE_METRICS),
      metricsOptionsProperty(LIVE_METRICS),
      ...FORECAST_PROPERTIES,
      { ...EVENTS_PROPERTY, displayOptions: { show: { operation: ['waitForEvent'] } } },
      ...CONDITION_PROPERTIES.map((p) => ({ ...p, displayOptions: { show: { operation: ['waitForEvent'] } } })),
      {
        displayName: 'Timeout (Seconds)',
        name: 'timeout',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 3600 },
        default: 60,
        description: 'How long to wait for a matching event before failing the item',
        displayOptions: { show: { operation: ['waitForEvent'] } },
      },
      ...outputProperties('data', { operation: ['getSnapshot'] }),
      ...outputProperties('event', { operation: ['waitForEvent'] }),
      {
        // Shown only for workflows saved with the former Transform with JSONata operation, so its text is not lost.
        displayName: 'Expression (JSONata, No Longer Supported)',
        name: 'expression',
        type: 'string',
        typeOptions: { rows: 4 },
        default: '',
        description:
          'A JSONata expression from an earlier version of this node. It is not evaluated any more: use an Edit Fields (Set) node with n8n expressions instead.',
        displayOptions: { show: { operation: ['transform'] } },
      },
      {
        displayName: 'Options',
        name: 'options',
        type: 'collection',
        placeholder: 'Add option',
        default: {},
        displayOptions: { show: NEEDS_CONNECTION },
        options: [
          {
            displayName: 'Include Current State',
            name: 'includeCurrentState',
            type: 'boolean',
            default: false,
            displayOptions: { show: { '/operation': ['waitForEvent'] } },
            description:
              'Whether an element already matching "Only When" in the current state (the snapshot) counts as the event, whatever Events says. Useful for "wait until closed" when it may already be closed.',
          },
          {
            displayName: 'Subscribe Timeout (Seconds)',
            name: 'subscribeTimeout',
            type: 'number',
            typeOptions: { minValue: 1, maxValue: 300 },
            default: 10,
            description:
              'How long to wait for the snapshot that confirms the subscription. The server ignores subscriptions the token may not see, so silence means refused.',
          },
        ],
      },
    ],
  };

  methods = { credentialTest: { pingstreamsApiTest } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const node = this.getNode();
    const items = this.getInputData();
    const operation = this.getNodeParameter('operation', 0) as Operation;
    const out: INodeExecutionData[] = [];
    const signal = this.getExecutionCancelSignal();

    const platform = platformOf(this);
    let credentials: PingstreamsCredentials | undefined;
    let handle: ConnectionHandle | undefined;
    const connect = async () => {
      if (handle) return handle;
      credentials = (await this.getCredentials(CREDENTIAL_NAME)) as unknown as PingstreamsCredentials;
      handle = acquireConnection(
        connectionOptions(credentials, {
          logger: coreLogger(this.logger, node.name),
          platform,
        }),
      );
      return handle;
    };

    try {
      for (let i = 0; i < items.length; i++) {
        try {
          if (operation === 'forecastStaffing') {
            out.push(
              ...toItems(
                forecastFromParameters((name, fallback) => this.getNodeParameter(name, i, fallback)),
                i,
              ),
            );
            continue;
          }
          if (operation === 'transform') {
            const expression = String(this.getNodeParameter('expression', i, '') ?? '');
            throw new NodeOperationError(node, 'Transform with JSONata is no longer part of this node', {
              description: `The package now runs without dependencies, so it evaluates no JSONata. Replace this node with an Edit Fields (Set) node and write the fields as n8n expressions (e.g. {{ $json.status }}). The old expression was: ${expression.slice(0, 200)}`,
              itemIndex: i,
            });
          }
          const connection = await connect();
          if (operation === 'getLiveMetrics') {
            const get = (name: string, fallback?: unknown) => this.getNodeParameter(name, i, fallback);
            out.push(...toItems(await cancellable(readLiveMetrics(connection, get, 10_000), signal), i));
            continue;
          }
          const topic = topicFromParameters((name, fallback) => this.getNodeParameter(name, i, fallback));
          const options = this.getNodeParameter('options', i, {}) as SubscribeOptionsParameter;
          const subscribeTimeoutMs = secondsToMs(options.subscribeTimeout, 10, 1, 300);
          if (operation === 'getSnapshot') {
            const results: unknown[] = [];
            const failures: Error[] = [];
            const pipeline = createPipeline(
              {
                output: outputParameter(
                  node,
                  this.getNodeParameter('output', i, 'data'),
                  this.getNodeParameter('mapping', i, ''),
                ),
              },
              (value) => results.push(value),
              (error) => failures.push(error),
            );
            const subscription = connection.subscribe(topic, {
              onEvent: (event) => pipeline.push(event),
              emitSnapshot: true,
              emitRecovered: false,
              subscribeTimeoutMs,
            });
            try {
              await cancellable(subscription.ready, signal);
              await pipeline.idle();
            } finally {
              subscription.close();
            }
            if (failures.length) throw failures[0];
            for (const value of results) out.push(...toItems(value, i));
            continue;
          }
          // waitForEvent
          const methods = methodsParameter(this.getNodeParameter('events', i, ['CREATE']));
          if (!methods.length) {
            throw new NodeOperationError(node, 'No event selected', {
              description: 'Choose at least one of Create, Update, Delete in Events.',
              itemIndex: i,
            });
          }
          const timeoutMs = secondsToMs(this.getNodeParameter('timeout', i, 60), 60, 1, 3600);
          const conditions: ConditionOptions = {
            conditions: this.getNodeParameter('conditions', i, {}) as ConditionOptions['conditions'],
            combineConditions: this.getNodeParameter('combineConditions', i, 'all') as string,
            onlyWhen: this.getNodeParameter('onlyWhen', i, '') as string,
          };
          const matched = await waitForEvent(connection, topic, {
            methods,
            filter: conditionsParameter(node, conditions),
            output: outputParameter(
              node,
              this.getNodeParameter('output', i, 'event'),
              this.getNodeParameter('mapping', i, ''),
            ),
            includeCurrentState: options.includeCurrentState === true,
            clock: platform.clock,
            subscribeTimeoutMs,
            timeoutMs,
            signal,
          });
          out.push(...toItems(matched, i));
        } catch (error) {
          const nodeError = toNodeError(node, error, credentials?.accessToken, i);
          if (this.continueOnFail()) {
            out.push({
              json: { error: nodeError.message, description: nodeError.description ?? null },
              pairedItem: { item: i },
            });
            continue;
          }
          throw nodeError;
        }
      }
    } finally {
      handle?.release();
    }
    return [out];
  }
}

interface WaitOptions {
  methods: RealtimeEvent['method'][];
  filter: (event: RealtimeEvent) => boolean;
  output: ReturnType<typeof outputParameter>;
  includeCurrentState: boolean;
  clock: Clock;
  subscribeTimeoutMs: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/** Subscribes until the first event passing methods + condition; always unsubscribes. */
async function waitForEvent(connection: ConnectionHandle, topic: string, options: WaitOptions): Promise<unknown> {
  let settle: { resolve: (value: unknown) => void; reject: (error: Error) => void } | undefined;
  const result = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
  let done = false;
  const finish = (error: Error | undefined, value?: unknown) => {
    if (done) return;
    done = true;
    if (error) settle?.reject(error);
    else settle?.resolve(value);
  };
  // The snapshot's elements are CREATE; with "Include Current State" they count whatever the Events filter.
  const pipeline = createPipeline(
    { filter: options.filter, output: options.output },
    (value) => finish(undefined, value),
    (error) => finish(error),
  );
  const subscription = connection.subscribe(topic, {
    onEvent: (event) => {
      if (done) return;
      if (!event.snapshot && !options.methods.includes(event.method)) return;
      pipeline.push(event);
    },
    onError: (error) => finish(error),
    emitSnapshot: options.includeCurrentState,
    emitRecovered: true,
    subscribeTimeoutMs: options.subscribeTimeoutMs,
  });
  const timer = options.clock.setTimeout(
    () =>
      finish(
        new PingstreamsError(
          'WAIT_TIMEOUT',
          `No matching event on ${topic} within ${Math.round(options.timeoutMs / 1000)} s. Check Events and "Only When", or raise the timeout.`,
        ),
      ),
    options.timeoutMs,
  );
  subscription.ready.catch((error: Error) => finish(error));
  try {
    return await cancellable(result, options.signal);
  } finally {
    options.clock.clearTimeout(timer);
    subscription.close();
  }
}
