// CPU time of the processes the n8n tests start (n8n and its task runner, PostgreSQL's backends, Redis), from /proc.
import { readFileSync, readdirSync } from 'node:fs';

/** /proc/<pid>/stat's fields after the command name. */
function stat(pid: number | string): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  } catch {
    return undefined; // gone
  }
}

/** user+system seconds of a process and its children that were waited for. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = stat(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

/** Every process in the process groups of `leaders`. */
export function groupPids(leaders: number[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(entry);
    if (fields && leaders.includes(Number(fields[2]))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * CPU seconds of the process groups of `leaders()` over a run in which processes are killed and started again:
 * sampled every second, each process counted with its own user+system time up to its last sample (so a killed
 * process loses at most a second, and a child's time is not counted again in its parent).
 */
export class CpuMeter {
  private readonly seen = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly leaders: () => number[]) {
    this.timer = setInterval(() => this.sample(), 1_000);
    this.timer.unref();
    this.sample();
  }

  private sample(): void {
    for (const pid of groupPids(this.leaders())) {
      const fields = stat(pid);
      if (fields) this.seen.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    }
  }

  /** Stops sampling; the CPU seconds seen. */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return [...this.seen.values()].reduce((sum, s) => sum + s, 0);
  }
}
