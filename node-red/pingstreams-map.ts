// "pingstreams map": shapes a Pingstreams event with a JSONata expression (Node-RED's own JSONata, so
// $env, $flowContext... work as in the Change node) with $event and $previous bound; presets for Slack.
import {
  budgetErrorOf,
  compileExpression,
  expressionUsesRegex,
  guardExpression,
  type CompiledExpression,
} from '../core';
import { MAP_PRESETS } from './map-presets';
import type { DoneFn, JSONataExpression, Node, NodeAPI, NodeDef, NodeMessage, SendFn } from './api';
import { t } from './i18n';
import { messageToEvent } from './messages';
import { expressionBudgetOf, type ExpressionLimitDef } from './node-def';
import { userError } from './status';

// Node-RED's own functions, which the core's JSONata (used for expressions with a regular expression) lacks.
const NODE_RED_FUNCTIONS = /\$(?:env|flowContext|globalContext|moment|clone|parts)\s*\(/;

interface MapDef extends NodeDef, ExpressionLimitDef {
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
    let guard: ReturnType<typeof guardExpression> | undefined;
    // A regular expression is one native call the budget's hooks cannot interrupt: such an expression runs in the
    // core's worker thread, killed at the time limit, where Node-RED's own functions are not available.
    let offThread: CompiledExpression | undefined;
    let broken: Error | undefined;
    if (!source) {
      broken = userError('EXPRESSION_ERROR', t(RED, 'pingstreams-map:errors.empty'));
    } else {
      try {
        const budget = expressionBudgetOf(def);
        if (expressionUsesRegex(source)) {
          if (NODE_RED_FUNCTIONS.test(source))
            broken = userError('EXPRESSION_ERROR', t(RED, 'pingstreams-map:errors.regexWithNodeRedFunctions'));
          else offThread = compileExpression(source, budget);
        } else {
          expr = RED.util.prepareJSONataExpression(source, node);
          guard = guardExpression(expr, budget);
        }
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
      if (broken || (!expr && !offThread)) {
        done(Object.assign(new Error(broken?.message ?? ''), broken));
        return;
      }
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
            const output = (value: unknown): void => {
              try {
                RED.util.setMessageProperty(msg, property, value, true);
              } catch (setErr) {
                return finish(
                  userError(
                    'BAD_PROPERTY',
                    t(RED, 'pingstreams-map:errors.property', { property, message: (setErr as Error).message }),
                  ),
                );
              }
              finish();
            };
            try {
              const event = messageToEvent(msg);
              if (offThread) {
                offThread
                  .evaluateWith(msg, { event, previous: event.previous })
                  .then(output, (err: Error) => finish(userError('EXPRESSION_ERROR', err.message)));
                return;
              }
              const compiled = expr as JSONataExpression;
              compiled.assign('event', event);
              compiled.assign('previous', event.previous);
              guard?.arm();
              RED.util.evaluateJSONataExpression(compiled, msg, (err, value) => {
                if (err) {
                  const overBudget = guard && budgetErrorOf(source, err, guard.budget);
                  return finish(overBudget ? userError('EXPRESSION_BUDGET', overBudget.message) : expressionError(err));
                }
                output(value);
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
  const allow = RED.auth
    ? RED.auth.needsPermission('pingstreams.read')
    : (_req: unknown, _res: unknown, next: () => void) => next();
  RED.httpAdmin.get('/pingstreams/map-presets', allow, (_req, res) => {
    res.json(
      MAP_PRESETS.map((preset) => ({
        id: preset.id,
        label: t(RED, `pingstreams-map:presets.${preset.id}`),
        expression: preset.expression,
      })),
    );
  });
};
