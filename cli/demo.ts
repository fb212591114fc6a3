// `pingstreams demo`: a live support queue on the embedded emulator, watched through the core exactly
// as a user's flow would watch the real server. Shows a feed of events, the metrics a dashboard
// derives from them, and a network cut in the middle that the core recovers from.
import {
  acquireConnection,
  buildTopic,
  closeAllConnections,
  type ConnectionStatus,
  type Element,
  type RealtimeEvent,
  type Subscription,
} from '../core';
import { nodePlatform } from '../core/node-platform';
import { startEmulator, type Emulator } from '../emulator';
import { isAbsolute, relative, sep } from 'node:path';
import { parseArgs, UsageError } from './args';
import type { CommandIo } from './emulator-command';
import { EXIT, withinLimit } from './listen';
import { Dashboard, parseDashboardArgs } from './dashboard';

export const DEMO_USAGE = `Usage: pingstreams demo [--rate N] [--duration S] [--port N | --no-dashboard]

Starts a local emulator with a simulated support queue, connects to it like any Pingstreams
client, and prints every event as it arrives, queue metrics every 5 s, and how the connection
recovers from a network cut injected halfway. A live wall of the same queue is served at the
address it prints (see "pingstreams help dashboard"). No account or network needed.

Options:
  --rate N        simulated changes per second, about (default 3)
  --duration S    stop after S seconds and print a summary (default: run until Ctrl+C;
                  the network cut happens after half the duration, or after 10 s)
  --port N        port of the live wall (default 8790; a free one when it is taken)
  --no-dashboard  no live wall, the terminal only
  -h, --help      show this help
`;

const FLAGS = {
  rate: { type: 'number', min: 0.1, max: 1_000 },
  duration: { type: 'number', min: 1, max: 604_800 },
  port: { type: 'number', min: 0, max: 65_535, integer: true },
  dashboard: { type: 'boolean', negatable: true },
} as const;

const METRICS_EVERY_MS = 5_000;
const FAULT_AFTER_MS_WITHOUT_DURATION = 10_000;
/** After reconnecting, recovered changes arrive with the new snapshots (and probes of vanished requests). */
const RECOVERY_REPORT_AFTER_MS = 2_000;

const STATUS_NAMES: Record<number, string> = {
  50: 'temporary',
  100: 'unassigned',
  150: 'abandoned',
  200: 'assigned',
  300: 'served',
  1000: 'closed',
};

/** Runs the demo; resolves with the exit code: 0 when it ends (duration or Ctrl+C), 1 on failure, 2 on usage errors. */
export async function runDemo(
  argv: readonly string[],
  io: CommandIo,
  control: { signal?: AbortSignal } = {},
): Promise<number> {
  let rate: number;
  let durationMs: number | undefined;
  let wallPort: number | undefined;
  try {
    const { flags, positionals, help } = parseArgs(argv, FLAGS);
    if (help) {
      io.stdout.write(DEMO_USAGE);
      return EXIT.OK;
    }
    if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
    rate = flags.rate ?? 3;
    durationMs = flags.duration !== undefined ? flags.duration * 1000 : undefined;
    if (flags.port !== undefined && flags.port > 65535)
      throw new UsageError(`--port needs a whole number from 0 to 65535 (got "${flags.port}").`);
    wallPort = flags.dashboard === false ? undefined : (flags.port ?? 8790);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `pingstreams demo: ${error.message}\n\n${DEMO_USAGE.split('\n')[0]}\nRun "pingstreams help demo" for all options.\n`,
    );
    return EXIT.USAGE;
  }
  if (control.signal?.aborted) return EXIT.OK;

  let emu: Emulator;
  try {
    // A queue a supervisor would recognise (waits, assignments, replies, abandonment): each arrival makes about four
    // changes, so `rate` changes per second are about 15 x rate arrivals a minute, for 4 agents of 2 chats.
    const queue = {
      arrivalsPerMinute: rate * 4,
      ahtSeconds: 30,
      firstResponseSeconds: 5,
      patienceSeconds: 60,
      agents: 4,
      chatsPerAgent: 2,
      availabilityChangesPerMinute: 2,
    };
    emu = await startEmulator({ port: 0, simulate: { ratePerSecond: rate, queue } });
  } catch (error) {
    io.stderr.write(`pingstreams demo: could not start the embedded emulator: ${(error as Error).message}\n`);
    return EXIT.FATAL;
  }
  let wall: Dashboard | undefined;
  try {
    if (wallPort !== undefined) wall = await startWall(emu, wallPort);
  } catch (error) {
    io.stderr.write(
      `pingstreams demo: the live wall could not start (${(error as Error).message}); going on without it.\n`,
    );
  }
  const demo = new Demo(emu, io, rate, wall?.url);
  try {
    return await demo.run(durationMs, control.signal);
  } finally {
    await withinLimit(async () => {
      await wall?.close();
      await emu.close();
    });
  }
}

/** The dashboard of the demo's project, on the same connection as the feed (one socket: the cut shows on both). */
async function startWall(emu: Emulator, port: number): Promise<Dashboard> {
  const config = (p: number) => {
    const parsed = parseDashboardArgs(
      [
        '--project',
        emu.projectId,
        '--endpoint',
        emu.url,
        '--port',
        String(p),
        '--window',
        '5m',
        ...emu.simulation!.truth().agentIds.flatMap((id) => ['--agent', id]),
      ],
      { PINGSTREAMS_TOKEN: emu.tokens.owner },
    );
    if (parsed === 'help') throw new Error('unexpected help');
    return parsed;
  };
  const quiet = (): void => undefined; // the feed already tells what the connection does
  try {
    return await Dashboard.start(config(port), quiet);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    return Dashboard.start(config(0), quiet);
  }
}

interface Counts {
  snapshot: number;
  live: number;
  recovered: number;
  duplicates: number;
}

class Demo {
  private readonly counts: Counts = { snapshot: 0, live: 0, recovered: 0, duplicates: 0 };
  /** topic|id|version of every event shown: the same state twice would be a duplicate. */
  private readonly shown = new Set<string>();
  private readonly openRequests = new Map<string, Element>();
  private readonly agents = new Map<string, Element>();
  private readonly agentRoles: Record<string, string>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly subscriptions: Subscription[] = [];
  private startedAt = Date.now();
  private drop?: { at: number; before: Counts; reconnectedAt?: number; reported: boolean };
  private lastMetricsAt = 0;
  private reconnects = 0;

  constructor(
    private readonly emu: Emulator,
    private readonly io: CommandIo,
    private readonly rate: number,
    private readonly wallUrl?: string,
  ) {
    this.agentRoles = { [emu.projectUsers.agent]: 'agent', [emu.projectUsers.agent2]: 'agent2' };
  }

  private print(line: string): void {
    this.io.stdout.write(`${line}\n`);
  }

  async run(durationMs: number | undefined, signal: AbortSignal | undefined): Promise<number> {
    const emu = this.emu;
    const requestsTopic = buildTopic({ kind: 'requests', projectId: emu.projectId });
    const agentTopics = Object.keys(this.agentRoles).map((projectUserId) =>
      buildTopic({ kind: 'agent', projectId: emu.projectId, projectUserId }),
    );
    this.print(`Pingstreams demo: emulator at ${emu.url}, project ${emu.projectId}, about ${this.rate} change(s)/s.`);
    this.print(
      `Watching ${requestsTopic} and ${agentTopics.length} agents through the realtime core. ${durationMs ? `Ends after ${durationMs / 1000} s.` : 'Ctrl+C to stop.'}`,
    );
    if (this.wallUrl) this.print(`Live wall of the same queue (open it in a browser): ${this.wallUrl}`);
    this.print('');

    // Exactly what a user's program does: one shared connection, a subscription per topic.
    const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, platform: nodePlatform });
    handle.onStatus((status) => this.onStatus(status));
    handle.onWarning((message) => this.print(`         warning: ${message}`));
    const onError = (error: Error): void => this.print(`         error: ${error.message}`);
    for (const topic of [requestsTopic, ...agentTopics]) {
      this.subscriptions.push(
        handle.subscribe(topic, { emitSnapshot: true, onEvent: (event) => this.onEvent(event), onError }),
      );
    }

    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    signal?.addEventListener('abort', () => stop(), { once: true });
    let code: number = EXIT.OK;
    try {
      await Promise.race([Promise.all(this.subscriptions.map((s) => s.ready)), stopped]);
    } catch (error) {
      this.print(`The demo could not subscribe: ${(error as Error).message}`);
      code = EXIT.FATAL;
      stop();
    }

    if (code === EXIT.OK && !signal?.aborted) {
      this.startedAt = Date.now();
      this.printMetrics();
      this.every(METRICS_EVERY_MS, () => this.printMetrics());
      this.after(durationMs !== undefined ? durationMs / 2 : FAULT_AFTER_MS_WITHOUT_DURATION, () => this.injectFault());
      if (durationMs !== undefined) this.after(durationMs, stop);
    }
    await stopped;

    for (const timer of this.timers) clearTimeout(timer);
    if (code === EXIT.OK) this.printSummary();
    await withinLimit(async () => {
      for (const subscription of this.subscriptions) subscription.close();
      handle.release();
      await closeAllConnections();
    });
    return code;
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(setInterval(fn, ms));
  }

  private after(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  // ---- events ----------------------------------------------------------------------------------

  private onEvent(event: RealtimeEvent): void {
    const key = `${event.topic}|${String(event.data._id ?? event.data.id)}|${version(event.data)}`;
    if (this.shown.has(key) && event.method !== 'DELETE') this.counts.duplicates += 1;
    this.shown.add(key);
    if (event.snapshot) this.counts.snapshot += 1;
    else if (event.recovered) this.counts.recovered += 1;
    else this.counts.live += 1;

    if (event.kind === 'requests') this.trackRequest(event);
    else if (event.kind === 'agent') this.agents.set(String(event.data._id), event.data);
    this.print(this.describe(event));
  }

  private trackRequest(event: RealtimeEvent): void {
    const id = String(event.data._id);
    if (event.method === 'DELETE' || !isOpen(event.data)) this.openRequests.delete(id);
    else this.openRequests.set(id, event.data);
  }

  private describe(event: RealtimeEvent): string {
    const time = clock(new Date(event.receivedAt));
    const method = (event.snapshot ? 'SNAPSHOT' : event.method).padEnd(8);
    const flag = event.recovered ? '  [recovered after reconnect]' : '';
    const data = event.data;
    const before = event.previous;
    if (event.kind === 'agent') {
      const who = `${this.agentRoles[String(data._id)] ?? 'agent'} ${shortId(String(data._id))}`;
      const now = availability(data);
      const change = before && availability(before) !== now ? `${availability(before)} -> ${now}` : now;
      return `${time}  ${method} agent    ${who.padEnd(20)}  ${change}${flag}`;
    }
    const who = shortRequestId(String(data.request_id ?? data._id));
    let detail: string;
    if (event.method === 'DELETE') detail = 'deleted';
    else if (before && before.status !== data.status) detail = `status ${before.status} -> ${statusText(data.status)}`;
    else if (event.method === 'CREATE')
      detail = `status ${statusText(data.status)}  "${truncate(String(data.first_text ?? ''), 40)}"`;
    else if (before && JSON.stringify(before.participants) !== JSON.stringify(data.participants))
      detail = `participants ${participantCount(data)}`;
    else detail = 'updated';
    return `${time}  ${method} request  ${who.padEnd(20)}  ${detail}${flag}`;
  }

  // ---- connection and the injected fault ---------------------------------------------------------

  private onStatus(status: ConnectionStatus): void {
    if (status.state === 'connected' && this.drop && this.drop.reconnectedAt === undefined) {
      this.drop.reconnectedAt = Date.now();
      this.reconnects += 1;
      this.print(
        `${clock(new Date())}  -- reconnected after ${seconds(this.drop.reconnectedAt - this.drop.at)}; subscribing again and comparing snapshots`,
      );
      this.after(RECOVERY_REPORT_AFTER_MS, () => this.reportRecovery());
    } else if ((status.state === 'reconnecting' || status.state === 'connecting') && status.retryInMs !== undefined) {
      const reason = status.error ? `${status.error.message.replace(/; reconnecting\.?$/, '')}; ` : '';
      this.print(`${clock(new Date())}  -- connection lost: ${reason}reconnecting in ${seconds(status.retryInMs)}`);
    } else if (status.state === 'failed') {
      this.print(`${clock(new Date())}  -- connection failed: ${status.error?.message ?? 'unknown reason'}`);
    }
  }

  private injectFault(): void {
    this.drop = { at: Date.now(), before: { ...this.counts }, reported: false };
    const dropped = this.emu.faults.dropAll();
    // Changes made while the client is cut off are never published to it: only the snapshot
    // comparison after reconnecting can reveal them.
    const P = this.emu.projectId;
    const created = this.emu.createRequest(P, { first_text: 'Hello? Is anyone there? (sent during the outage)' });
    const waiting = [...this.openRequests.values()].find(
      (r) => r.status === 100 && r.request_id !== created.request_id,
    );
    if (waiting)
      this.emu.updateRequest(P, String(waiting.request_id), { status: 200, participants: [this.emu.users.agent] });
    const changes = waiting ? 'a new request and an assignment' : 'a new request';
    this.print('');
    this.print(
      `${clock(new Date())}  !! fault injected: ${dropped} socket(s) dropped without a close frame (a network cut); ${changes} happen meanwhile`,
    );
  }

  private reportRecovery(): void {
    const drop = this.drop;
    if (!drop || drop.reported) return;
    drop.reported = true;
    const recovered = this.counts.recovered - drop.before.recovered;
    const duplicates = this.counts.duplicates - drop.before.duplicates;
    this.print(
      `${clock(new Date())}  -- connection dropped -> reconnected, ${plural(recovered, 'change')} recovered, ${plural(duplicates, 'duplicate')}` +
        ' (the open requests were not re-announced as new)',
    );
    this.print('');
  }

  // ---- metrics -----------------------------------------------------------------------------------

  private printMetrics(): void {
    const now = Date.now();
    this.lastMetricsAt = now;
    const open = [...this.openRequests.values()];
    const unassigned = open.filter((r) => r.status === 100);
    const waits = unassigned
      .map((r) => now - Date.parse(String(r.createdAt)))
      .filter((ms) => Number.isFinite(ms) && ms >= 0);
    const averageWait = waits.length ? duration(waits.reduce((a, b) => a + b, 0) / waits.length) : '-';
    const available = [...this.agents.values()].filter((a) => a.user_available === true).length;
    this.print(
      `${clock(new Date(now))}  == queue: ${open.length} open, ${unassigned.length} unassigned, average wait ${averageWait}, ` +
        `agents available ${available}/${this.agents.size}`,
    );
  }

  private printSummary(): void {
    const c = this.counts;
    const total = c.snapshot + c.live + c.recovered;
    this.print('');
    this.print(`Demo finished after ${seconds(Date.now() - this.startedAt)}.`);
    this.print(
      `  events: ${total} (${c.snapshot} from snapshots, ${c.live} live, ${c.recovered} recovered after reconnect), ${plural(c.duplicates, 'duplicate')}`,
    );
    if (this.drop) {
      this.print(
        this.drop.reconnectedAt !== undefined
          ? `  network cut: reconnected after ${seconds(this.drop.reconnectedAt - this.drop.at)}, ${plural(this.reconnects, 'reconnect')}`
          : '  network cut: the demo ended before the connection came back',
      );
    }
    // The periodic line may have been printed a moment ago, at the same tick as the end.
    if (Date.now() - this.lastMetricsAt >= 1_000) this.printMetrics();
    this.print('');
    const cli = cliCommand();
    this.print(`Next: run \`${cli} emulator --simulate 1\` and, in another terminal,`);
    this.print(
      `  PINGSTREAMS_TOKEN=<owner token it prints> ${cli} listen --endpoint <its URL> --project <its project id>`,
    );
    this.print(
      `  or its wall: PINGSTREAMS_TOKEN=<owner token> ${cli} dashboard --endpoint <its URL> --project <its project id>`,
    );
  }
}

/** How to run this CLI again from where the user is: `npx pingstreams` when installed, the built file in a clone. */
export function cliCommand(script = process.argv[1] ?? '', cwd = process.cwd()): string {
  if (!script || script.split(sep).includes('node_modules')) return 'npx pingstreams';
  const path = relative(cwd, script);
  return `node ${path.startsWith('..') || isAbsolute(path) ? script : path}`;
}

function isOpen(request: Element): boolean {
  const status = Number(request.status);
  return status > 50 && status < 1000 && status !== 150 && request.preflight !== true;
}

function version(element: Element): string {
  return typeof element.updatedAt === 'string' ? element.updatedAt : JSON.stringify(element);
}

function availability(projectUser: Element): string {
  if (projectUser.user_available !== true) return 'unavailable';
  return projectUser.isBusy === true ? 'available (busy)' : 'available';
}

function statusText(status: unknown): string {
  const name = STATUS_NAMES[Number(status)];
  return name ? `${String(status)} (${name})` : String(status);
}

function participantCount(request: Element): string {
  const n = Array.isArray(request.participants) ? request.participants.length : 0;
  return n === 0 ? 'none' : String(n);
}

/** support-group-<uuid> shown with 8 hex digits of the uuid: 4 were too few, two requests looked like one. */
function shortRequestId(requestId: string): string {
  return requestId.length > 23 ? `${requestId.slice(0, 22)}…` : requestId;
}

function shortId(id: string): string {
  return id.length > 10 ? `…${id.slice(-6)}` : id;
}

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function clock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function duration(ms: number): string {
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  return m ? `${m}m ${String(total % 60).padStart(2, '0')}s` : `${total}s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
