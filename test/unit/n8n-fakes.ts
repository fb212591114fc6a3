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
	ITriggerResponse,
} from 'n8n-workflow';
import { PingstreamsTrigger } from '../../nodes/PingstreamsTrigger/PingstreamsTrigger.node';
import { Pingstreams } from '../../nodes/Pingstreams/Pingstreams.node';
import type { PingstreamsCredentials } from '../../nodes/Pingstreams/shared';

export interface FakeLog {
	level: 'debug' | 'info' | 'warn' | 'error';
	message: string;
}

function logger(logs: FakeLog[]) {
	const at = (level: FakeLog['level']) => (message: string) => logs.push({ level, message });
	return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
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
	/** Each call of emit(): the items of one execution. */
	executions: INodeExecutionData[][];
	/** emit()/emitError() calls before trigger() returned (in manual mode n8n would lose them). */
	earlyEmits: number;
	errors: Error[];
	failedExecutions: Error[];
	logs: FakeLog[];
	staticData: IDataObject;
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
}): Promise<TriggerRun> {
	const staticData: IDataObject = opts.staticData ? (JSON.parse(JSON.stringify(opts.staticData)) as IDataObject) : {};
	const nodeStatic: IDataObject = (staticData['node:Pingstreams Trigger'] as IDataObject) ?? {};
	staticData['node:Pingstreams Trigger'] = nodeStatic;
	const executions: INodeExecutionData[][] = [];
	const errors: Error[] = [];
	const failedExecutions: Error[] = [];
	const logs: FakeLog[] = [];
	let returned = false;
	let earlyEmits = 0;
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
		emit: (data: INodeExecutionData[][]) => {
			if (!returned) earlyEmits++;
			executions.push(data[0]);
		},
		emitError: (error: Error) => {
			if (!returned) earlyEmits++;
			errors.push(error);
		},
		saveFailedExecution: (error: Error) => failedExecutions.push(error),
		logger: logger(logs),
	};
	const response = await new PingstreamsTrigger().trigger.call(context as unknown as ITriggerFunctions);
	returned = true;
	return {
		executions,
		get earlyEmits() {
			return earlyEmits;
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
	};
	const [output] = await new Pingstreams().execute.call(context as unknown as IExecuteFunctions);
	return { output, logs };
}

export async function testCredentials(credentials: PingstreamsCredentials) {
	const test = new Pingstreams().methods.credentialTest.pingstreamsApiTest;
	return test.call({} as ICredentialTestFunctions, {
		id: 'cred-1',
		name: 'Pingstreams account',
		type: 'pingstreamsApi',
		data: { ...credentials },
	});
}
