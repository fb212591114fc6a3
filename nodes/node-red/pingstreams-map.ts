// "pingstreams map": shapes a Pingstreams event with a JSONata expression (Node-RED's own JSONata, so
// $env, $flowContext... work as in the Change node) with $event and $previous bound; presets for Slack.
import { MAP_PRESETS } from './map-presets';
import { messageToEvent, t, userError } from './red';
import type { DoneFn, JSONataExpression, Node, NodeAPI, NodeDef, NodeMessage, SendFn } from './red';

interface MapDef extends NodeDef {
  expression?: string;
  property?: string;
}

interface JSONataFailure {
  message?: string;
  position?: number;
  token?: string;
  code?: string;
}

export = function register(RED: NodeAPI): void {
  /** A Catch-able error saying where the expression failed. */
  function expressionError(raw: unknown): Error {
    const e = (raw ?? {}) as JSONataFailure;
    const message = e.message || String(raw);
    const text =
      typeof e.position === 'number'
        ? t(RED, 'pingstreams-map:errors.expressionAt', { position: e.position, token: e.token ?? '', message })
        : t(RED, 'pingstreams-map:errors.expression', { message });
    return Object.assign(userError('EXPRESSION_ERROR', text), { position: e.position, jsonataCode: e.code });
  }

  function PingstreamsMap(this: Node, def: MapDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED's constructor idiom: the handlers below outlive this call.
    const node = this;
    const property = (def.property || 'payload').trim();
    const source = (def.expression ?? '').trim();

    let expr: JSONataExpression | undefined;
    let broken: Error | undefined;
    if (!source) {
      broken = userError('EXPRESSION_ERROR', t(RED, 'pingstreams-map:errors.empty'));
    } else {
      try {
        expr = RED.util.prepareJSONataExpression(source, node);
      } catch (err) {
        broken = expressionError(err);
      }
    }
    if (broken) {
      node.status({ fill: 'red', shape: 'ring', text: t(RED, 'pingstreams-config:status.badExpression') });
      node.error(broken.message);
    }

    let closed = false;
    // $event/$previous are assigned on the shared compiled expression, so evaluations run one at a time
    // (this also keeps output order = input order).
    let queue: Promise<void> = Promise.resolve();

    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      if (broken || !expr) {
        done(Object.assign(new Error(broken?.message ?? ''), broken));
        return;
      }
      const compiled = expr;
      queue = queue.then(
        () =>
          new Promise<void>((resolve) => {
            const finish = (err?: Error): void => {
              if (err) done(err);
              else if (!closed) {
                send(msg);
                done();
              } else done();
              resolve();
            };
            try {
              const event = messageToEvent(msg);
              compiled.assign('event', event);
              compiled.assign('previous', event.previous);
              RED.util.evaluateJSONataExpression(compiled, msg, (err, value) => {
                if (err) return finish(expressionError(err));
                try {
                  RED.util.setMessageProperty(msg, property, value, true);
                } catch (setErr) {
                  return finish(userError('BAD_PROPERTY', t(RED, 'pingstreams-map:errors.property', { property, message: (setErr as Error).message })));
                }
                finish();
              });
            } catch (err) {
              finish(expressionError(err));
            }
          }),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      done();
    });
  }

  RED.nodes.registerType('pingstreams map', PingstreamsMap);

  // The editor's preset menu reads the expressions from here (one copy, in map-presets.ts).
  const allow = RED.auth ? RED.auth.needsPermission('pingstreams.read') : (_req: unknown, _res: unknown, next: () => void) => next();
  RED.httpAdmin.get('/pingstreams/map-presets', allow, (_req, res) => {
    res.json(MAP_PRESETS.map((preset) => ({ id: preset.id, label: t(RED, `pingstreams-map:presets.${preset.id}`), expression: preset.expression })));
  });
};
