// The chaos soak's consumer for a real n8n: one workflow per project, one Pingstreams Trigger per topic
// (Create, Update, Delete; snapshot emitted at activation), all posting their items to an HTTP sink run by
// the test. The sink's requests are turned back into ObservedEvent for the soak's exactly-once accounting
// (test/integration/soak-harness.ts), in the order n8n emitted them.
import { join } from 'node:path';
import { parseTopic } from '../../../core';
import type { ConsumerContext, ObservedEvent, SoakConsumer } from '../../integration/soak-harness';
import { sleep, waitFor } from '../../helpers/wait';
import { HttpSink, type N8n, type SinkRequest } from './harness';
import { CREDENTIAL_ID, credential, postToSink } from './workflows';

export const SOAK_PRELOAD = join(__dirname, 'soak-preload.js');

/** n8n settings for a long run: no execution data kept, little logging (see docs/soak-results.md). */
export const SOAK_N8N_ENV: NodeJS.ProcessEnv = {
	EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'none',
	EXECUTIONS_DATA_SAVE_ON_ERROR: 'all',
	EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS: 'false',
	EXECUTIONS_DATA_SAVE_ON_PROGRESS: 'false',
	EXECUTIONS_DATA_PRUNE: 'true',
	N8N_LOG_LEVEL: 'warn',
	N8N_METRICS: 'false',
	// The production backoff is shortened (see soak-preload.js); the connection budget is not.
	NODE_OPTIONS: `--require ${SOAK_PRELOAD}`,
	PINGSTREAMS_SOAK_DEFAULTS: JSON.stringify({ backoffInitialMs: 100, backoffMaxMs: 1_000 }),
};

/** The trigger parameters for one topic. */
export function triggerParameters(topic: string): Record<string, unknown> {
	const parsed = parseTopic(topic);
	const base = { projectId: parsed.projectId, events: ['CREATE', 'UPDATE', 'DELETE'], output: 'event' };
	// Short heartbeats so a half-open socket is noticed within seconds (the node's minimum values).
	const options = { emitSnapshot: true, emitRecovered: true, heartbeatInterval: 5, heartbeatTimeout: 3, subscribeTimeout: 60 };
	switch (parsed.kind) {
		case 'requests':
			return { resource: 'requests', ...base, options };
		case 'request':
			return { resource: 'request', requestId: parsed.requestId, ...base, options };
		case 'messages':
			return { resource: 'messages', requestId: parsed.requestId, ...base, options };
		case 'agent':
			return { resource: 'agent', projectUserId: parsed.projectUserId, ...base, options };
		default:
			return { resource: 'custom', topic, ...base, options };
	}
}

/** One workflow per project: a trigger per topic, all wired to one HTTP Request node posting each item. */
export function soakWorkflows(topics: string[], sinkUrl: string) {
	const byProject = new Map<string, string[]>();
	for (const topic of topics) {
		const { projectId } = parseTopic(topic);
		byProject.set(projectId, [...(byProject.get(projectId) ?? []), topic]);
	}
	return [...byProject.entries()].map(([projectId, projectTopics], w) => {
		const post = postToSink('Post Event', sinkUrl, [400, 0]);
		// Execution id + item index + item count let the sink restore n8n's emission order (items of one
		// execution are posted concurrently, executions overlap).
		post.parameters.headerParameters.parameters.push(
			{ name: 'x-item', value: '={{ $itemIndex }}' },
			{ name: 'x-count', value: '={{ $input.all().length }}' },
		);
		const triggers = projectTopics.map((topic, i) => ({
			id: `soak-trigger-${w}-${i}`,
			name: `Trigger ${i}`,
			type: 'n8n-nodes-pingstreams.pingstreamsTrigger',
			typeVersion: 1,
			position: [0, i * 120] as [number, number],
			parameters: triggerParameters(topic),
			credentials: { pingstreamsApi: { id: CREDENTIAL_ID, name: 'Pingstreams emulator' } },
		}));
		return {
			id: `PsSoakFlow${String(w).padStart(6, '0')}`,
			name: `Pingstreams soak ${projectId}`,
			active: false,
			nodes: [...triggers, post],
			connections: Object.fromEntries(triggers.map((t) => [t.name, { main: [[{ node: 'Post Event', type: 'main', index: 0 }]] }])),
			settings: { executionOrder: 'v1', saveDataSuccessExecution: 'none', saveManualExecutions: false },
			pinData: {},
		};
	});
}

interface Execution {
	id: number;
	count: number;
	items: Map<number, SinkRequest>;
	firstSeenAt: number;
}

/**
 * Restores emission order from the sink's requests: executions in id order (n8n numbers them as they are
 * emitted), items by index. An execution missing for `gapTimeoutMs` (it failed before posting) is skipped.
 */
export class ExecutionOrder {
	private next = 1;
	private read = 0;
	private readonly pending = new Map<number, Execution>();
	skippedGaps = 0;
	/** Executions that arrived after their place in line was skipped (delivered late, out of order). */
	late = 0;
	released = 0;

	constructor(
		private readonly sink: HttpSink,
		private readonly deliver: (request: SinkRequest) => void,
		private readonly gapTimeoutMs = 15_000,
	) {}

	/** Reads new sink requests and delivers whatever is complete and next in line. */
	pump(now = Date.now()): void {
		const requests = this.sink.requests;
		for (; this.read < requests.length; this.read++) {
			const request = requests[this.read];
			const id = Number(request.headers['x-execution']);
			let execution = this.pending.get(id);
			if (!execution) this.pending.set(id, (execution = { id, count: Number(request.headers['x-count']), items: new Map(), firstSeenAt: now }));
			execution.items.set(Number(request.headers['x-item']), request);
		}
		for (const execution of this.pending.values()) {
			if (execution.id >= this.next || execution.items.size < execution.count) continue;
			this.late += 1;
			for (let i = 0; i < execution.count; i++) this.deliver(execution.items.get(i)!);
			this.pending.delete(execution.id);
		}
		for (;;) {
			const execution = this.pending.get(this.next);
			if (execution && execution.items.size >= execution.count) {
				for (let i = 0; i < execution.count; i++) this.deliver(execution.items.get(i)!);
				this.released += execution.count;
				this.pending.delete(this.next);
				this.next += 1;
				continue;
			}
			if (execution) return; // still arriving
			// Nothing for `next`: skip it only when a later complete execution has waited long enough.
			const waiting = [...this.pending.values()].filter((e) => e.items.size >= e.count && now - e.firstSeenAt > this.gapTimeoutMs);
			if (!waiting.length) return;
			this.skippedGaps += 1;
			this.next = Math.min(...[...this.pending.keys()].filter((id) => id > this.next));
		}
	}

	get buffered(): number {
		return [...this.pending.values()].reduce((n, e) => n + e.items.size, 0);
	}
}

export function toObserved(request: SinkRequest): ObservedEvent {
	const body = request.body as { topic: string; method: ObservedEvent['method']; recovered: boolean; snapshot: boolean; data: Record<string, unknown> };
	return {
		topic: body.topic,
		method: body.method,
		id: String(body.data?._id ?? body.data?.id),
		updatedAt: typeof body.data?.updatedAt === 'string' ? body.data.updatedAt : '',
		recovered: body.recovered === true,
		snapshot: body.snapshot === true,
	};
}

export interface N8nSoakStats {
	startMs: number;
	rssAfterStartMb?: number;
	skippedGaps: number;
	lateExecutions: number;
	sinkRequests: number;
	executions: number;
}

/** A SoakConsumer driving a real n8n (already installed with the package, not started). */
export function n8nConsumer(n8n: N8n, log: (line: string) => void = () => undefined): SoakConsumer & { stats: N8nSoakStats; sink: HttpSink } {
	const sink = new HttpSink();
	const warnings: string[] = [];
	const stats: N8nSoakStats = { startMs: 0, skippedGaps: 0, lateExecutions: 0, sinkRequests: 0, executions: 0 };
	let pump: NodeJS.Timeout | undefined;
	let order: ExecutionOrder | undefined;
	return {
		name: 'n8n',
		stats,
		sink,
		async start(context: ConsumerContext) {
			await sink.start();
			const workflows = soakWorkflows(context.topics, sink.url('/events'));
			await n8n.cli(['import:credentials', `--input=${n8n.writeJson('credentials.json', credential(context.endpoint, context.token))}`], 'soak-import-credentials');
			await n8n.cli(['import:workflow', `--input=${n8n.writeJson('workflows.json', workflows)}`], 'soak-import-workflows');
			for (const workflow of workflows) await n8n.cli(['publish:workflow', `--id=${workflow.id}`], `soak-publish-${workflow.id}`);
			order = new ExecutionOrder(sink, (request) => context.onEvent(toObserved(request)));
			pump = setInterval(() => order?.pump(), 50);
			const started = Date.now();
			await n8n.start();
			stats.startMs = Date.now() - started;
			log(`n8n ready in ${stats.startMs} ms; ${workflows.length} workflows, ${context.topics.length} triggers`);
			// Every topic's snapshot posted (each seeded topic holds at least one element), then quiet.
			const snapshotTopics = () => new Set(sink.requests.filter((r) => r.body.snapshot === true).map((r) => String(r.body.topic)));
			await waitFor(() => context.topics.every((t) => snapshotTopics().has(t)), 'a snapshot posted for every topic', 4 * 60_000, 200);
			let last = -1;
			await waitFor(
				() => {
					const quiet = sink.requests.length === last && order!.buffered === 0;
					last = sink.requests.length;
					return quiet;
				},
				'the snapshots posted completely',
				60_000,
				1_000,
			);
			stats.rssAfterStartMb = n8n.rssMb();
		},
		async stop() {
			order?.pump(Date.now() + 60_000);
			clearInterval(pump);
			stats.skippedGaps = order?.skippedGaps ?? 0;
			stats.lateExecutions = order?.late ?? 0;
			stats.sinkRequests = sink.requests.length;
			stats.executions = new Set(sink.requests.map((r) => r.headers['x-execution'])).size;
			if (order?.buffered) warnings.push(`${order.buffered} sink requests of incomplete executions`);
			await sleep(0);
			await sink.close();
		},
		warnings: () => warnings,
	};
}
