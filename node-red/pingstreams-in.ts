// "pingstreams in": one topic on the shared connection; every event that passes the method filter and
// the optional "only when" condition becomes one message. Reconnects, snapshots and recovery are the core's.
import { createEventPipeline, topicFromFields } from '../core';
import type { ResumeState, Subscription, TopicField, TopicKind } from '../core';
import type { ConnectionUser, Node, NodeAPI, NodeDef } from './api';
import { t } from './i18n';
import { eventToMessage } from './messages';
import { configNode, expressionBudgetOf, selectedMethods, typedValue, type ExpressionLimitDef } from './node-def';
import { errorCode, safeError, startupFailure, StatusReporter, userError } from './status';

/** Each topic field is a str/env typedInput with its `<field>Type`. */
type InDef = NodeDef &
  ExpressionLimitDef &
  Partial<Record<TopicField | `${TopicField}Type`, string>> & {
    server?: string;
    kind?: TopicKind;
    snapshot?: boolean;
    recovered?: boolean;
    when?: string;
  };

/**
 * What a node restarted by a deploy had seen, by node id: the new instance resumes from it, so changes made
 * while it was being replaced are emitted (flagged recovered) instead of missed. Taken once, only soon after, and
 * only for the same server (the topic must match too).
 */
const handover = new Map<string, { state: ResumeState; endpoint: string; at: number }>();
const HANDOVER_MAX_AGE_MS = 60_000;

export = function register(RED: NodeAPI): void {
  function PingstreamsIn(this: Node, def: InDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED's constructor idiom: the handlers below outlive this call.
    const node = this;

    const config = configNode(RED, def.server);
    if (config instanceof Error) return startupFailure(RED, node, config);

    const methods = selectedMethods(def, ['CREATE']);
    if (methods.length === 0)
      return startupFailure(RED, node, userError('NO_METHOD', t(RED, 'pingstreams-in:errors.noMethod')));

    let topic: string;
    try {
      // A leftover env reference in a field this kind does not use is never read.
      topic = topicFromFields(def.kind ?? 'requests', (field) =>
        typedValue(RED, node, def[field], def[`${field}Type`], t(RED, `pingstreams-in:label.${field}`)),
      );
    } catch (err) {
      return startupFailure(RED, node, safeError(err));
    }

    let closed = false;
    let events = 0;
    const status = new StatusReporter(RED, node, () => t(RED, 'pingstreams-in:status.connected', { count: events }));

    let pipeline: ReturnType<typeof createEventPipeline>;
    try {
      pipeline = createEventPipeline(
        { methods, when: def.when?.trim() || undefined, output: 'event', expressionBudget: expressionBudgetOf(def) },
        (_output, event) => {
          if (closed) return;
          events += 1;
          node.send(eventToMessage(event));
          status.bump();
        },
        // A failing "only when" condition: Catch nodes get the event that could not be tested.
        (err, event) => {
          if (!closed) node.error(config.redact(err.message), eventToMessage(event));
        },
      );
    } catch (err) {
      return startupFailure(RED, node, safeError(err));
    }

    const user: ConnectionUser = { onConnectionStatus: (s) => status.setConnection(s) };
    const handle = config.register(user);
    if (handle instanceof Error) {
      status.close();
      return startupFailure(RED, node, handle);
    }

    // Only this subscription's trouble arrives here: a refused topic (no snapshot), a callback error, or the
    // connection's end for good (token refused), which its status shows and the config node logs once.
    const onError = (err: Error): void => {
      if (closed || handle.status.state === 'failed') return;
      const safe = safeError(err);
      safe.message = config.redact(safe.message);
      status.setProblem(safe);
      // Passed with a msg so a Catch node can react (alert someone that the feed stopped).
      node.error(safe.message, { topic, payload: { code: errorCode(safe), message: safe.message } });
    };

    const carried = handover.get(node.id);
    handover.delete(node.id);
    // With "Snapshot" ticked, a restarted node sends the current state again instead.
    const fresh = carried && carried.endpoint === config.endpoint && Date.now() - carried.at < HANDOVER_MAX_AGE_MS;
    const resumeState = def.snapshot !== true && fresh ? carried.state : undefined;

    let subscription: Subscription | undefined;
    try {
      subscription = handle.subscribe(topic, {
        resumeState,
        resumable: true, // the record handed to this node's successor on a deploy (see close), which decides
        onEvent: (event) => pipeline.push(event),
        onError,
        emitSnapshot: def.snapshot === true,
        emitRecovered: def.recovered !== false,
        ...(config.subscribeTimeoutMs !== undefined ? { subscribeTimeoutMs: config.subscribeTimeoutMs } : {}),
      });
      // Failures also reach onError; only success matters here.
      subscription.ready.then(
        () => status.setProblem(undefined),
        () => undefined,
      );
    } catch (err) {
      onError(err as Error);
    }

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      status.close();
      try {
        // Events still in the "only when" expression are dropped here: the successor gets them again.
        if (!removed && subscription?.isReady)
          handover.set(node.id, {
            state: subscription.exportState(pipeline.unhandled()),
            endpoint: config.endpoint,
            at: Date.now(),
          });
        subscription?.close();
        config.deregister(user);
      } finally {
        done();
      }
    });
  }

  RED.nodes.registerType('pingstreams in', PingstreamsIn);
};
