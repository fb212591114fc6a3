// Fake n8n function contexts (the host API only): the nodes under test still talk to the real
// emulator over loopback. Behaviour copied from n8n 2.40: in manual mode n8n replaces emit() and
// emitError() only after trigger() has returned, and static data survives restarts as JSON.
import type {
  ICredentialTestFunctions,
  IDataObject,
  IExecuteFunctions,
  INode,
  INodeExecutionData,
  ITriggerFunctions,
  IRun,
  ITriggerResponse,
} from 'n8n-workflow';
import { UserError } from 'n8n-workflow';
import { PingstreamsTrigger } from '../../nodes/PingstreamsTrigger/PingstreamsTrigger.node';
import { Pingstreams } from '../../nodes/Pingstreams/Pingstreams.node';
import type { PingstreamsCredentials } from '../../nodes/Pingstreams/shared';
import { ensureGlobalWebSocket, fakeHttpRequest, fakeRequest } from '../helpers/n8n-http';

ensureGlobalWebSocket();

export interface FakeLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

function logger(logs: FakeLog[]) {
  const at = (level: FakeLog['level']) => (message: string) => logs.push({ level, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** n8n's IDeferredPromise (from @n8n/utils, not re-exported by n8n-workflow). */
interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function createDeferredPromise<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function node(type: string, name: string): INode {
  return { id: 'node-1', name, type, typeVersion: 1, position: [0, 0], parameters: {} };
}

function parameterReader(params: Record<string, unknown>) {
  return (name: string, fallback?: unknown) => {
    if (name in params) return params[name];
    if (fallback !== undefined) return fallback;
    throw new Error(`Could not get parameter "${name}"`);
  };
}

export interface TriggerRun {
  /** Each execution started by emit(): its items. */
  executions: INodeExecutionData[][];
  /** Each emit() n8n failed to start (see refuseExecution): its items. */
  refusedEmits: INodeExecutionData[][];
  /** Each emit() n8n skipped as a duplicate of an execution's deduplication key: its items. */
  skippedEmits: INodeExecutionData[][];
  /** emit()/emitError() calls before trigger() returned (in manual mode n8n would lose them). */
  earlyEmits: number;
  errors: Error[];
  failedExecutions: Error[];
  logs: FakeLog[];
  staticData: IDataObject;
  /** The static data as n8n last saved it (at activation and at each emit): what a restart starts from. */
  readonly savedStaticData: IDataObject;
  response: ITriggerResponse;
  close(): Promise<void>;
  items(): IDataObject[];
}

export async function runTrigger(opts: {
  credentials: PingstreamsCredentials;
  params: Record<string, unknown>;
  mode?: 'trigger' | 'manual';
  /** Workflow static data as stored in the database (JSON), e.g. from a previous run. */
  staticData?: IDataObject;
  /**
   * Whether n8n fails to start the execution of this emit() (0-based call number), as n8n 2.40 reports it: the
   * done promise is rejected with the database error, and no execution exists.
   */
  refuseExecution?: (items: INodeExecutionData[], call: number) => boolean;
  /** The workflow runs on n8n's Engine 2.0, which refuses an emit() that asks to be told when it is done. */
  engineV2?: boolean;
  /**
   * n8n's executions table as far as deduplication keys go, shared by the runs of one test as the database is: an
   * emit under a key an execution already has is skipped (the done promise resolves with undefined), as in n8n 2.40.
   */
  executionKeys?: Set<string>;
  /** n8n stopped (killed) after saving the static data of this emit, before creating its execution. */
  diesAfterSaving?: (items: INodeExecutionData[], call: number) => boolean;
}): Promise<TriggerRun> {
  const executionKeys = opts.executionKeys ?? new Set<string>();
  const staticData: IDataObject = opts.staticData ? (JSON.parse(JSON.stringify(opts.staticData)) as IDataObject) : {};
  const nodeStatic: IDataObject = (staticData['node:Pingstreams Trigger'] as IDataObject) ?? {};
  staticData['node:Pingstreams Trigger'] = nodeStatic;
  const executions: INodeExecutionData[][] = [];
  const errors: Error[] = [];
  const failedExecutions: Error[] = [];
  const refusedEmits: INodeExecutionData[][] = [];
  const skippedEmits: INodeExecutionData[][] = [];
  const logs: FakeLog[] = [];
  let returned = false;
  let earlyEmits = 0;
  let emitCalls = 0;
  let savedStaticData: IDataObject = JSON.parse(JSON.stringify(staticData)) as IDataObject;
  const saveStaticData = () => {
    savedStaticData = JSON.parse(JSON.stringify(staticData)) as IDataObject;
  };
  const context = {
    getNode: () => node('n8n-nodes-pingstreams.pingstreamsTrigger', 'Pingstreams Trigger'),
    getMode: () => opts.mode ?? 'trigger',
    getActivationMode: () => 'activate',
    getCredentials: async () => ({ ...opts.credentials }),
    getNodeParameter: parameterReader(opts.params),
    getWorkflowStaticData: (type: string) => {
      if (type !== 'node') throw new Error('only node static data is faked');
      return nodeStatic;
    },
    getWorkflow: () => ({ id: 'FakeWorkflow0001', name: 'Fake workflow', active: true }),
    emit: (data: INodeExecutionData[][], _response?: unknown, done?: Deferred<IRun>, deduplicationKey?: string) => {
      if (!returned) earlyEmits++;
      const call = emitCalls++;
      saveStaticData(); // n8n saves the workflow's static data at each emit, before starting the execution
      if (opts.diesAfterSaving?.(data[0], call)) return; // nothing more happens: done never settles
      setImmediate(() => {
        if (deduplicationKey !== undefined && executionKeys.has(deduplicationKey)) {
          skippedEmits.push(data[0]);
          done?.resolve(undefined as unknown as IRun);
          return;
        }
        if (opts.engineV2 && done) {
          refusedEmits.push(data[0]);
          done.reject(
            new UserError(
              'Engine 2.0 cannot run a trigger that waits for its execution to finish yet. Set the node to hand off without waiting.',
            ),
          );
          return;
        }
        if (opts.refuseExecution?.(data[0], call)) {
          refusedEmits.push(data[0]);
          done?.reject(new Error('Timeout waiting for lock SqliteWriteConnectionMutex'));
          return;
        }
        if (deduplicationKey !== undefined) executionKeys.add(deduplicationKey);
        executions.push(data[0]);
        done?.resolve({ status: 'success' } as IRun);
      });
    },
    emitError: (error: Error) => {
      if (!returned) earlyEmits++;
      errors.push(error);
    },
    saveFailedExecution: (error: Error) => failedExecutions.push(error),
    logger: logger(logs),
    helpers: { createDeferredPromise, httpRequest: fakeHttpRequest() },
  };
  const response = await new PingstreamsTrigger().trigger.call(context as unknown as ITriggerFunctions);
  saveStaticData(); // and at the end of the activation; not at deactivation
  returned = true;
  return {
    executions,
    refusedEmits,
    skippedEmits,
    get earlyEmits() {
      return earlyEmits;
    },
    get savedStaticData() {
      return savedStaticData;
    },
    errors,
    failedExecutions,
    logs,
    staticData,
    response,
    close: async () => {
      await response.closeFunction?.();
    },
    items: () => executions.flat().map((item) => item.json),
  };
}

export interface ExecuteResult {
  output: INodeExecutionData[];
  logs: FakeLog[];
}

export async function runAction(opts: {
  credentials?: PingstreamsCredentials;
  params: Record<string, unknown>;
  /** Parameters per item override `params` (n8n resolves expressions per item). */
  itemParams?: Array<Record<string, unknown>>;
  items?: IDataObject[];
  continueOnFail?: boolean;
  signal?: AbortSignal;
}): Promise<ExecuteResult> {
  const logs: FakeLog[] = [];
  const items: INodeExecutionData[] = (opts.items ?? [{}]).map((json) => ({ json }));
  const context = {
    getNode: () => node('n8n-nodes-pingstreams.pingstreams', 'Pingstreams'),
    getInputData: () => items,
    getNodeParameter: (name: string, itemIndex: number, fallback?: unknown) =>
      parameterReader({ ...opts.params, ...(opts.itemParams?.[itemIndex] ?? {}) })(name, fallback),
    getCredentials: async () => {
      if (!opts.credentials) throw new Error('no credentials set');
      return { ...opts.credentials };
    },
    continueOnFail: () => opts.continueOnFail === true,
    getExecutionCancelSignal: () => opts.signal,
    logger: logger(logs),
    helpers: { httpRequest: fakeHttpRequest() },
  };
  const [output] = await new Pingstreams().execute.call(context as unknown as IExecuteFunctions);
  return { output, logs };
}

export async function testCredentials(credentials: PingstreamsCredentials) {
  const test = new Pingstreams().methods.credentialTest.pingstreamsApiTest;
  return test.call({ helpers: { request: fakeRequest() } } as unknown as ICredentialTestFunctions, {
    id: 'cred-1',
    name: 'Pingstreams account',
    type: 'pingstreamsApi',
    data: { ...credentials },
  });
}
