// "pingstreams subscription": topics chosen at run time by messages (msg.action subscribe | unsubscribe | list)
// on the shared connection; emits the events of every topic it holds, shaped like "pingstreams in".
import {
  buildTopic,
  createEventPipeline,
  isTopicKind,
  kindsAskedFor,
  topicFromFields,
  TOPIC_ID_FIELD_ORDER,
  TOPIC_KIND_DESCRIPTIONS,
  TOPIC_KINDS,
} from '../core';
import type { ConnectionHandle, Subscription } from '../core';
import type { ConnectionUser, DoneFn, Node, NodeAPI, NodeDef, NodeMessage, PingstreamsConfigNode, SendFn } from './api';
import { t } from './i18n';
import { eventToMessage } from './messages';
import { configNode, selectedMethods } from './node-def';
import { errorCode, safeError, startupFailure, StatusReporter, userError } from './status';

interface SubscriptionDef extends NodeDef {
  server?: string;
  snapshot?: boolean;
  recovered?: boolean;
}

const ACTIONS = ['subscribe', 'unsubscribe', 'list'] as const;

export = function register(RED: NodeAPI): void {
  /** The topics a message names: msg.topic (string or array), else ids as msg properties. */
  function topicsOf(msg: NodeMessage): string[] {
    const raw = msg.topic;
    if (Array.isArray(raw) ? raw.length > 0 : typeof raw === 'string' && raw.trim() !== '') {
      const list = Array.isArray(raw) ? raw : [raw];
      return [
        ...new Set(
          list.map((item) => {
            if (typeof item !== 'string')
              throw userError(
                'INVALID_TOPIC',
                t(RED, 'pingstreams-subscription:errors.topicNotString', { value: JSON.stringify(item) }),
              );
            return buildTopic({ kind: 'custom', topic: item.trim() });
          }),
        ),
      ];
    }
    const str = (v: unknown): string | undefined =>
      typeof v === 'string' || typeof v === 'number' ? String(v).trim() || undefined : undefined;
    if (!str(msg.projectId)) throw userError('INVALID_TOPIC', t(RED, 'pingstreams-subscription:errors.noTopic'));
    const named = str(msg.kind);
    if (named !== undefined && (!isTopicKind(named) || TOPIC_KIND_DESCRIPTIONS[named].path === undefined)) {
      const kinds = TOPIC_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].path !== undefined).join(', ');
      throw userError('INVALID_TOPIC', t(RED, 'pingstreams-subscription:errors.badKind', { kind: named, kinds }));
    }
    // Without msg.kind the ids given decide; when they name several kinds (a request and an agent), the last
    // described one (the agent).
    const given = new Set(TOPIC_ID_FIELD_ORDER.filter((field) => str(msg[field]) !== undefined));
    const kind = named ?? kindsAskedFor(given, new Set()).at(-1) ?? 'requests';
    return [topicFromFields(kind, (field) => str(msg[field]))];
  }

  function PingstreamsSubscription(this: Node, def: SubscriptionDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED's constructor idiom: the handlers below outlive this call.
    const node = this;

    const found = configNode(RED, def.server);
    if (found instanceof Error) return startupFailure(RED, node, found);
    const config: PingstreamsConfigNode = found;
    const methods = selectedMethods(def, ['CREATE', 'UPDATE', 'DELETE']);
    if (methods.length === 0)
      return startupFailure(RED, node, userError('NO_METHOD', t(RED, 'pingstreams-in:errors.noMethod')));

    let closed = false;
    let events = 0;
    const held = new Map<string, Subscription>();
    const confirmed = new WeakSet<Subscription>();
    const status = new StatusReporter(RED, node, () =>
      t(RED, 'pingstreams-subscription:status.connected', { topics: held.size, count: events }),
    );

    const pipeline = createEventPipeline(
      { methods, output: 'event' },
      (_output, event) => {
        if (closed || !held.has(event.topic)) return;
        events += 1;
        node.send(eventToMessage(event));
        status.bump();
      },
      (err, event) => {
        if (!closed) node.error(config.redact(err.message), eventToMessage(event));
      },
    );

    const user: ConnectionUser = { onConnectionStatus: (s) => status.setConnection(s) };
    const registered = config.register(user);
    if (registered instanceof Error) {
      status.close();
      return startupFailure(RED, node, registered);
    }
    const handle: ConnectionHandle = registered;

    async function subscribe(topics: string[], msg: NodeMessage): Promise<void> {
      const emitSnapshot = typeof msg.snapshot === 'boolean' ? msg.snapshot : def.snapshot === true;
      const waits = topics.map(async (topic) => {
        let sub: Subscription | undefined = held.get(topic);
        if (!sub) {
          const created = handle.subscribe(topic, {
            onEvent: (event) => pipeline.push(event),
            // Before the snapshot, failures end the subscribe message (done(err)); after it, only the
            // subscription's own trouble is news: the connection status covers the rest.
            onError: (err) => {
              if (closed || held.get(topic) !== created || !confirmed.has(created)) return;
              node.error(config.redact(safeError(err).message), {
                topic,
                payload: { code: errorCode(err), message: err.message },
              });
            },
            emitSnapshot,
            emitRecovered: def.recovered !== false,
            ...(config.subscribeTimeoutMs !== undefined ? { subscribeTimeoutMs: config.subscribeTimeoutMs } : {}),
          });
          sub = created;
          held.set(topic, sub);
          status.bump();
        }
        const mine = sub;
        try {
          await mine.ready;
          confirmed.add(mine);
        } catch (err) {
          // Refused or timed out: forget it so a later subscribe tries again.
          if (held.get(topic) === mine) {
            held.delete(topic);
            mine.close();
            status.bump();
          }
          throw safeError(err);
        }
      });
      const results = await Promise.allSettled(waits);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
      if (failures.length > 0 && !closed) {
        const failure = failures.length === 1 ? failures[0] : new Error(failures.map((f) => f.message).join(' '));
        failure.message = config.redact(failure.message);
        throw failure;
      }
    }

    function unsubscribe(topics: string[]): void {
      const missing = topics.filter((topic) => !held.has(topic));
      if (missing.length > 0) {
        throw userError(
          'NOT_SUBSCRIBED',
          t(RED, 'pingstreams-subscription:errors.notHeld', {
            topics: missing.join(', '),
            held: held.size ? [...held.keys()].join(', ') : t(RED, 'pingstreams-subscription:errors.none'),
          }),
        );
      }
      for (const topic of topics) {
        held.get(topic)?.close();
        held.delete(topic);
      }
      status.bump();
    }

    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      const action =
        msg.action === undefined || msg.action === null || msg.action === ''
          ? 'subscribe'
          : String(msg.action).trim().toLowerCase();
      if (!(ACTIONS as readonly string[]).includes(action)) {
        done(
          userError(
            'UNKNOWN_ACTION',
            t(RED, 'pingstreams-subscription:errors.unknownAction', { action: String(msg.action) }),
          ),
        );
        return;
      }
      if (action === 'list') {
        msg.payload = [...held.keys()];
        send(msg);
        done();
        return;
      }
      let topics: string[];
      try {
        topics = topicsOf(msg);
      } catch (err) {
        done(safeError(err));
        return;
      }
      if (action === 'unsubscribe') {
        try {
          unsubscribe(topics);
          done();
        } catch (err) {
          done(err as Error);
        }
        return;
      }
      subscribe(topics, msg).then(
        () => done(),
        (err: Error) => done(err),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      status.close();
      try {
        for (const sub of held.values()) sub.close();
        held.clear();
        config.deregister(user);
      } finally {
        done();
      }
    });
  }

  RED.nodes.registerType('pingstreams subscription', PingstreamsSubscription);
};
