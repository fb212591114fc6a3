import type {
  IDataObject,
  INodeProperties,
  INodePropertyOptions,
  INodeType,
  INodeTypeDescription,
  ITriggerFunctions,
  ITriggerResponse,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
  SubscriptionTimeoutError,
  acquireConnection,
  createPipeline,
  deliveredState,
  redact,
} from '../../core/portable';
import type {
  BasePipelineOptions,
  ConnectionHandle,
  ResumeState,
  Subscription,
  TimerHandle,
} from '../../core/portable';
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
} from '../Pingstreams/shared';
import { platformOf } from '../Pingstreams/n8n-platform';
import { LIVE_METRICS_PROPERTIES, LIVE_METRICS_RESOURCE, liveMetricsTrigger } from './metrics-trigger';
import { ExecutionEmitter, toItem, type Delivery } from './execution-emitter';
import { EXECUTION_KEYS, RestoredExecutionKeys } from './execution-keys';
import {
  DEFAULT_MAX_HELD,
  DEFAULT_OVERDUE_SECONDS,
  Dispatcher,
  dispatchOptions,
  executionsWithoutDispatch,
  type OrderBy,
} from './dispatcher';

interface TriggerOptions extends ConditionOptions {
  emitSnapshot?: boolean;
  emitRecovered?: boolean;
  subscribeTimeout?: number;
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  testTimeout?: number;
  orderBy?: OrderBy;
  batchSize?: number;
  batchWaitMs?: number;
  maxParallel?: number;
  maxHeld?: number;
  orderWaitSeconds?: number;
}

/** Connection statuses already logged: one line per reconnect, not one per trigger sharing the socket. */
const loggedStatuses = new WeakSet<object>();

/** Key in the node's static data: what was seen, so a restart emits only what changed meanwhile. */
const RESUME_KEY = 'resumeState';

/** The event resources' properties, hidden for Live Metrics; the resource list gains Live Metrics. */
const NOT_METRICS = { hide: { resource: ['liveMetrics'] } };
function withLiveMetrics(properties: INodeProperties[]): INodeProperties[] {
  return properties.map((p) => {
    if (p.name === 'resource')
      return { ...p, options: [...(p.options as INodePropertyOptions[]), LIVE_METRICS_RESOURCE] };
    return p.displayOptions ? p : { ...p, displayOptions: NOT_METRICS };
  });
}

export class PingstreamsTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Pingstreams Trigger',
    name: 'pingstreamsTrigger',
    icon: { light: 'file:../../icons/pingstreams.svg', dark: 'file:../../icons/pingstreams.dark.svg' },
    group: ['trigger'],
    version: 1,
    subtitle:
      '={{$parameter["resource"] === "liveMetrics" ? "Live Metrics: " + $parameter["emit"] : $parameter["resource"] + ": " + $parameter["events"].join(", ")}}',
    description:
      'Starts the workflow on Pingstreams realtime events: new requests, changes, messages, agent availability',
    defaults: { name: 'Pingstreams Trigger' },
    // What the editor shows while it listens for a test event, and once the workflow is active.
    eventTriggerDescription: 'Waiting for a matching Pingstreams event',
    activationMessage: 'Pingstreams events that match Events and Only When now start this workflow.',
    triggerPanel: {
      header: 'Listening for a Pingstreams event',
      executionsHelp: {
        inactive:
          "<b>While building the workflow</b>, click 'Execute step', then make a change in Pingstreams that matches Events and Only When (for example create a request): it becomes the test event. With <b>Emit Open Items at Activation</b> on, the current state arrives at once. The test stops after the Test Timeout (120 s by default).<br /><br /><b>Once you're happy with the workflow</b>, publish it: every matching event then starts an execution, and you see them in the executions list.",
        active:
          "<b>While building the workflow</b>, click 'Execute step', then make a change in Pingstreams that matches Events and Only When: it becomes the test event.<br /><br /><b>The workflow is active</b>: every matching event starts an execution, listed in the executions list.",
      },
      activationHint:
        'Once the workflow is published, every matching Pingstreams event starts an execution (batches of recovered or snapshot items start one execution each).',
    },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    // Literals (not CREDENTIAL_NAME): n8n's credential-test-required rule reads the name and testedBy from the source.
    credentials: [{ name: 'pingstreamsApi', required: true, testedBy: 'pingstreamsApiTest' }],
    properties: [
      ...withLiveMetrics([...topicProperties(), EVENTS_PROPERTY, ...outputProperties('event')]),
      ...LIVE_METRICS_PROPERTIES,
      {
        displayName: 'Options',
        displayOptions: NOT_METRICS,
        name: 'options',
        type: 'collection',
        placeholder: 'Add option',
        default: {},
        options: [
          CONDITION_PROPERTIES[0], // Conditions Must Match
          {
            displayName: 'Batch Size',
            name: 'batchSize',
            type: 'number',
            typeOptions: { minValue: 1, maxValue: 1000 },
            default: 1,
            description:
              'Most events per execution, one item each. More than 1 lets n8n keep up with busy projects: one execution costs n8n far more than one item.',
          },
          {
            displayName: 'Batch Wait (Ms)',
            name: 'batchWaitMs',
            type: 'number',
            typeOptions: { minValue: 0, maxValue: 60000 },
            default: 0,
            description:
              'How long the first event of a batch waits for more before its execution starts. 0: a batch holds the events that are there at once.',
          },
          {
            displayName: 'Emit Changes Missed While Disconnected',
            name: 'emitRecovered',
            type: 'boolean',
            default: true,
            description:
              'Whether to emit, once and flagged recovered, what changed while the connection was down or n8n was stopped (found by comparing the snapshot the server sends again)',
          },
          {
            displayName: 'Emit Open Items at Activation',
            name: 'emitSnapshot',
            type: 'boolean',
            default: false,
            description:
              'Whether to emit the current state (e.g. every open request) when the workflow is activated, flagged snapshot. Off: only changes from now on.',
          },
          {
            displayName: 'Heartbeat Interval (Seconds)',
            name: 'heartbeatInterval',
            type: 'number',
            typeOptions: { minValue: 5, maxValue: 300 },
            default: 15,
            description:
              'How often to ping the server to detect dead connections. Workflows sharing the credentials share one connection and its settings.',
          },
          {
            displayName: 'Heartbeat Timeout (Seconds)',
            name: 'heartbeatTimeout',
            type: 'number',
            typeOptions: { minValue: 2, maxValue: 120 },
            default: 10,
            description: 'How long to wait for any frame after a ping before reconnecting',
          },
          {
            displayName: 'Keep Order Per',
            name: 'orderBy',
            type: 'options',
            options: [
              {
                name: 'Nothing (Fastest)',
                value: 'none',
                description: 'Executions start as events arrive and may overlap',
              },
              {
                name: 'Element',
                value: 'element',
                description: "One element's executions (e.g. one request's) run one after another, in order",
              },
              {
                name: 'Request',
                value: 'request',
                description:
                  'Everything of one request (the request, or its messages) runs one after another, in order',
              },
            ],
            default: 'none',
            description:
              'Whether later events wait until the execution of an earlier one of the same element or request has finished. Different ones still run in parallel (in queue mode on the workers).',
          },
          {
            displayName: 'Max Events Held',
            name: 'maxHeld',
            type: 'number',
            typeOptions: { minValue: 10, maxValue: 100000 },
            default: DEFAULT_MAX_HELD,
            description:
              'Events waiting for their turn before the trigger stops reading the connection until n8n catches up (nothing is dropped; workflows sharing the credentials wait too)',
          },
          {
            displayName: 'Max Executions in Parallel',
            name: 'maxParallel',
            type: 'number',
            typeOptions: { minValue: 0, maxValue: 1000 },
            default: 0,
            description:
              'Executions started and not finished, at most; later events wait. 0: no limit. About the workers times their concurrency in queue mode.',
          },
          ...CONDITION_PROPERTIES.slice(1), // Only When, Only When (JSONata, No Longer Supported)
          {
            displayName: 'Order Wait Limit (Seconds)',
            name: 'orderWaitSeconds',
            type: 'number',
            typeOptions: { minValue: 5, maxValue: 86400 },
            default: DEFAULT_OVERDUE_SECONDS,
            description:
              'With Keep Order Per: how long later events wait for an execution n8n has not reported finished once it reported later ones of any Pingstreams Trigger (its report was lost, e.g. with a Redis restart or a worker killed), before they go on with a warning in the log. A backlog in n8n does not count; without later reports they wait ten times this at most.',
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
          {
            displayName: 'Test Timeout (Seconds)',
            name: 'testTimeout',
            type: 'number',
            typeOptions: { minValue: 5, maxValue: 3600 },
            default: 120,
            description: 'When listening for a test event in the editor: how long to wait for a matching event',
          },
        ],
      },
    ],
  };

  methods = { credentialTest: { pingstreamsApiTest } };

  async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
    if (this.getNodeParameter('resource', 'requests') === 'liveMetrics') return liveMetricsTrigger.call(this);
    const node = this.getNode();
    const manual = this.getMode() === 'manual';
    const credentials = (await this.getCredentials(CREDENTIAL_NAME)) as unknown as PingstreamsCredentials;
    const options = this.getNodeParameter('options', {}) as TriggerOptions;
    const token = String(credentials.accessToken ?? '');
    const fail = (error: unknown) => toNodeError(node, error, token);

    let topic: string;
    let pipelineOptions: BasePipelineOptions;
    try {
      topic = topicFromParameters((name, fallback) => this.getNodeParameter(name, fallback));
      pipelineOptions = {
        methods: methodsParameter(this.getNodeParameter('events', ['CREATE'])),
        filter: conditionsParameter(node, options),
        output: outputParameter(node, this.getNodeParameter('output', 'event'), this.getNodeParameter('mapping', '')),
      };
    } catch (error) {
      throw fail(error);
    }
    if (!pipelineOptions.methods?.length) {
      throw new NodeOperationError(node, 'No event selected', {
        description: 'Choose at least one of Create, Update, Delete in Events.',
      });
    }

    // Static data is persisted by n8n when the workflow is activated and before each emitted execution.
    const staticData = this.getWorkflowStaticData('node');
    const stored = staticData[RESUME_KEY] as ResumeState | undefined;
    const resumeState = !manual && stored?.topic === topic ? stored : undefined;
    const restoredKeys = new RestoredExecutionKeys(resumeState ? staticData[EXECUTION_KEYS] : undefined);

    let closed = false;
    let activated = false;
    let listening = false; // false until trigger() has returned: n8n swaps emit() in manual mode only then
    let subscription: Subscription | undefined;
    let handle: ConnectionHandle | undefined;
    let testTimer: TimerHandle | undefined;
    const pending: Delivery[] = [];
    let flushScheduled = false;
    let pipeline: ReturnType<typeof createPipeline> | undefined;
    let earlyTestError: Error | undefined;
    // Saved by n8n with each emit: what n8n reported finished counts as seen. What it has not (in flight, not
    // started, still held here, or received and not yet flushed to the dispatcher: another execution's emit can
    // come first) counts as not delivered, so a restart emits it again; what was in flight goes out under its old
    // deduplication key, which n8n runs only if it never ran it (execution-keys.ts).
    const persistState = () => {
      if (manual || !subscription) return;
      const inFlight = emitter.inFlightElements;
      const known = new Map(inFlight.events().map(({ event, state }) => [event, state]));
      staticData[RESUME_KEY] = subscription.exportState(
        [
          ...emitter.undelivered(),
          ...known.keys(),
          ...(dispatcher?.waiting() ?? []).map(({ event }) => event),
          ...pending.map(({ event }) => event),
          ...(pipeline?.unhandled() ?? []),
        ],
        (event) => known.get(event) ?? deliveredState(event),
      ) as unknown as IDataObject;
      staticData[EXECUTION_KEYS] = inFlight.toStored() as unknown as IDataObject;
    };
    const platform = platformOf(this);
    const emitter = new ExecutionEmitter(
      {
        clock: platform.clock,
        emit: this.emit.bind(this),
        createDeferredPromise: this.helpers.createDeferredPromise,
        logger: this.logger,
      },
      {
        nodeName: node.name,
        keyPrefix: `pingstreams:${this.getWorkflow().id ?? ''}:${node.id ?? node.name}`,
        token,
        onStateChange: persistState,
      },
    );

    // With order, batches or a parallel limit: which events go into which execution, and when (dispatcher.ts).
    const dispatch = manual ? undefined : dispatchOptions(options);
    const dispatcher =
      dispatch &&
      new Dispatcher(dispatch, {
        clock: platform.clock,
        start: (deliveries, settled) => emitter.emit(deliveries, settled),
        pause: () => handle?.pause(),
        resume: () => handle?.resume(),
        overdue: (items, waitedMs) =>
          this.logger.warn(
            `[Pingstreams] ${node.name}: n8n has not reported the end of an execution of ${items} item(s) handed over ${Math.round(waitedMs / 1000)} s ago (Order Wait Limit ${dispatch.overdueMs / 1000} s); later events of its elements go on without waiting for it. Check n8n's log (in queue mode also Redis and the workers); in queue mode, set N8N_EXECUTIONS_QUEUE_KEEP_LAST_COMPLETED and N8N_EXECUTIONS_QUEUE_KEEP_LAST_FAILED (e.g. 100) on the main, or n8n misses the end of jobs that finish before it listens for them.`,
          ),
      });

    // In manual mode the first matching execution completes the test; n8n closes the trigger afterwards.
    const completeTest = (deliveries: Delivery[]) => {
      if (closed || deliveries.length === 0) return;
      closed = true;
      platform.clock.clearTimeout(testTimer);
      this.emit([deliveries.map(({ output }) => toItem(output))]);
    };

    // What the pipeline passed, as executions: through the dispatcher when options ask for one.
    const flush = async () => {
      flushScheduled = false;
      if (!pipeline) return;
      await pipeline.idle();
      if (closed || !listening) return;
      if (dispatcher) return dispatcher.push(pending.splice(0));
      const executions = executionsWithoutDispatch(pending.splice(0));
      if (manual) return completeTest(executions[0] ?? []);
      emitter.emitAll(executions.map((deliveries) => ({ deliveries })));
    };
    const failTest = (error: unknown) => {
      if (closed) return;
      closed = true;
      platform.clock.clearTimeout(testTimer);
      this.emitError(error instanceof NodeOperationError ? error : fail(error));
    };
    const scheduleFlush = () => {
      if (flushScheduled || !listening) return;
      flushScheduled = true;
      platform.clock.setTimeout(
        () => void flush().catch((error) => this.logger.error(`[Pingstreams] ${String(error)}`)),
        0,
      );
    };

    try {
      pipeline = createPipeline(
        pipelineOptions,
        (output, event) => {
          pending.push({ output, event, dedupKey: restoredKeys.take(event) });
          scheduleFlush();
        },
        (error) => {
          if (closed) return;
          if (!manual) {
            // The output failing on one event: record it, keep listening.
            this.saveFailedExecution(fail(error));
            return;
          }
          // The test fails with it, once n8n listens for it (after trigger() has returned).
          if (listening) failTest(error);
          else earlyTestError ??= error;
        },
      );
    } catch (error) {
      throw fail(error);
    }

    const stop = () => {
      closed = true;
      platform.clock.clearTimeout(testTimer);
      emitter.close();
      dispatcher?.close();
      subscription?.close();
      handle?.release();
    };

    try {
      handle = acquireConnection(
        connectionOptions(credentials, {
          pingIntervalMs:
            options.heartbeatInterval !== undefined ? secondsToMs(options.heartbeatInterval, 15, 5, 300) : undefined,
          pongTimeoutMs:
            options.heartbeatTimeout !== undefined ? secondsToMs(options.heartbeatTimeout, 10, 2, 120) : undefined,
          logger: coreLogger(this.logger, node.name),
          platform,
        }),
      );
      handle.onStatus((status) => {
        if (closed) return;
        if (status.state === 'reconnecting' && status.error && !loggedStatuses.has(status)) {
          // Every trigger on the shared socket hears the same status object: the first one logs it.
          loggedStatuses.add(status);
          this.logger.warn(
            `[Pingstreams] connection lost (${redact(status.error?.message ?? 'no reason', token)}); reconnecting in ${Math.round((status.retryInMs ?? 0) / 1000)} s`,
          );
        } else if (status.state === 'failed' && activated) {
          // Permanent: a refused token or too many failures. n8n deactivates and retries the activation later.
          // (Before activation completes, the rejected `ready` reports it as the activation error.)
          const error = fail(status.error ?? new Error('The Pingstreams connection failed permanently.'));
          stop();
          this.emitError(error);
        }
      });
      subscription = handle.subscribe(topic, {
        onEvent: (event) => pipeline?.push(event),
        onError: (error) => {
          if (closed) return;
          // Only this subscription's trouble arrives here (connection trouble is a status, logged above). A topic
          // refused after a reconnect (no snapshot) is worth a failed execution the user can see.
          this.logger.warn(`[Pingstreams] ${node.name}: ${redact(error.message, token)}`);
          if (!manual && activated && error instanceof SubscriptionTimeoutError) this.saveFailedExecution(fail(error));
        },
        emitSnapshot: options.emitSnapshot === true,
        emitRecovered: options.emitRecovered !== false,
        subscribeTimeoutMs: secondsToMs(options.subscribeTimeout, 10, 1, 300),
        resumeState,
        resumable: !manual, // persistState's record (a manual test saves none)
      });
      await subscription.ready;
    } catch (error) {
      stop();
      throw fail(error);
    }

    activated = true;
    persistState(); // the baseline for catch-up, saved by n8n at the end of the activation
    // After trigger() has returned (a timer, not a microtask): n8n swaps emit() in manual mode only then.
    platform.clock.setTimeout(() => {
      listening = true;
      if (earlyTestError) failTest(earlyTestError);
      else if (pending.length) scheduleFlush();
    }, 0);

    if (manual) {
      const timeoutMs = secondsToMs(options.testTimeout, 120, 5, 3600);
      testTimer = platform.clock.setTimeout(() => {
        failTest(
          new NodeOperationError(node, `No matching event arrived within ${Math.round(timeoutMs / 1000)} s`, {
            description:
              'The subscription is active, but nothing matched. Make a change in Pingstreams that fits Resource, Events and "Only When" (e.g. create a request), or turn on "Emit Open Items at Activation" to get the current state, then listen again.',
          }),
        );
      }, timeoutMs);
    }

    return {
      closeFunction: async () => stop(),
    };
  }
}
