// A real Node-RED 4 runtime in the test process (node-red-node-test-helper) with the package's Node-RED
// nodes loaded from source: the typed slice of the (untyped) helper, flow placement, log and status capture.
import helperModule from 'node-red-node-test-helper';
import configNodeModule from '../../node-red/pingstreams-config';
import inNodeModule from '../../node-red/pingstreams-in';
import subscriptionNodeModule from '../../node-red/pingstreams-subscription';
import mapNodeModule from '../../node-red/pingstreams-map';
import metricsNodeModule from '../../node-red/pingstreams-metrics';

/** Node-RED messages and flow nodes are free-form JSON. */
export type Msg = Record<string, any>;
export type Status = { fill?: string; shape?: string; text?: string };

/** One call recorded by the helper's sinon spy on RED.log.log. */
export interface LogCall {
  args: Msg[];
}

/** The part of node-red-node-test-helper these tests use. */
export interface TestHelper {
  init(runtimePath: string): void;
  settings(settings: Record<string, unknown>): void;
  load(nodes: unknown[], flow: Msg[], credentials: Msg): Promise<void>;
  setFlows(flow: Msg[], type: 'full' | 'nodes' | 'flows', credentials: Msg): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): Msg;
  log(): { args: Msg[][]; getCalls(): LogCall[]; resetHistory(): void; ERROR: number; WARN: number; INFO: number };
  _redNodes: {
    getFlows(): unknown;
    setFlows(flow: Msg[], credentials: Msg, type: 'full' | 'nodes' | 'flows'): Promise<unknown>;
  };
  _events: { once(event: string, listener: () => void): void; off(event: string, listener: () => void): void };
  /** The sinon sandbox holding the spies on RED.log and the Node prototype (status, send, warn...). */
  _sandbox: { resetHistory(): void };
}

export const helper = helperModule as unknown as TestHelper;
helper.init(require.resolve('node-red'));

export const NODES = [configNodeModule, inNodeModule, subscriptionNodeModule, mapNodeModule, metricsNodeModule];

/** How long a deploy may take to start its flows: the runtime's own start is not awaited by its setFlows. */
const DEPLOY_START_MS = 15_000;

/**
 * A deploy ("full", "nodes" or "flows"), resolved once the new flows have started. The helper's own setFlows
 * gives the start 300 ms, which a loaded machine (CI running n8n beside) overruns: a failed test, not a slow node.
 */
export async function deploy(flow: Msg[], type: 'full' | 'nodes' | 'flows', credentials: Msg): Promise<void> {
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      helper._events.off('flows:started', onStarted);
      reject(new Error(`the deployed flows did not start within ${DEPLOY_START_MS} ms`));
    }, DEPLOY_START_MS);
    onStarted = () => {
      clearTimeout(timer);
      resolve();
    };
    helper._events.once('flows:started', onStarted);
  });
  started.catch(() => undefined); // awaited below; a timeout during setFlows is not an unhandled rejection
  try {
    await helper._redNodes.setFlows(flow, credentials, type);
  } catch (error) {
    onStarted(); // settles the wait: its listener and timer go
    throw error;
  }
  await started;
}

/** Flow nodes live on a tab (z) at a position (x, y): Node-RED treats nodes without one as config nodes. */
export function onTab(flow: Msg[]): Msg[] {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    ...flow.map((n, i) => (n.type === 'pingstreams-config' ? n : { z: 'tab', x: 100, y: 40 * (i + 1), ...n })),
  ];
}

/** Every log line (RED.log) recorded so far: level name, node id, text. */
export function logLines(): Array<{ level: number; id?: string; type?: string; msg: string }> {
  return helper.log().args.map(([entry]) => ({
    level: Number(entry?.level),
    id: entry?.id,
    type: entry?.type,
    msg: typeof entry?.msg === 'string' ? entry.msg : JSON.stringify(entry?.msg),
  }));
}

/** Messages reaching a node (a `helper` sink, usually) from now on. */
export function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => got.push(msg));
  return got;
}

/** Every status a node shows from now on. */
export function statuses(id: string): Status[] {
  const seen: Status[] = [];
  helper.getNode(id).on('call:status', (call: { args: [Status] }) => seen.push(call.args[0]));
  return seen;
}
