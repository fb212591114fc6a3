// "Tell me when the queue is longer than 5 for 2 minutes, and when it clears, but not more than once in 5
// minutes": a condition on the live metrics, held for a while before it fires, with a cool-down between
// notifications so a flapping value cannot flood a channel. No timers: the host calls update() on each check.
import type { LiveMetrics } from './metrics';

export type MetricCondition = 'queueAbove' | 'longestWaitAbove' | 'serviceLevelBelow' | 'agentsAvailableBelow';

export const METRIC_CONDITIONS: Record<
  MetricCondition,
  {
    text: (value: number) => string;
    read: (m: LiveMetrics) => number | null;
    test: (v: number, limit: number) => boolean;
  }
> = {
  queueAbove: { text: (v) => `queue longer than ${v}`, read: (m) => m.requests.queue, test: (v, limit) => v > limit },
  longestWaitAbove: {
    text: (v) => `longest wait over ${v} s`,
    read: (m) => m.requests.longestWaitSeconds ?? 0,
    test: (v, limit) => v > limit,
  },
  // No answer and nobody waiting past the threshold yet: no service level, so the condition is not met.
  serviceLevelBelow: {
    text: (v) => `service level under ${v}%`,
    read: (m) => (m.window.serviceLevel.value === null ? null : m.window.serviceLevel.value * 100),
    test: (v, limit) => v < limit,
  },
  agentsAvailableBelow: {
    text: (v) => `fewer than ${v} agents available`,
    read: (m) => m.agents.available,
    test: (v, limit) => v < limit,
  },
};

/** The value a condition looks at, and whether it holds, for one metrics object. */
export function evaluateCondition(
  condition: MetricCondition,
  limit: number,
  metrics: LiveMetrics,
): { value: number | null; holds: boolean } {
  const spec = METRIC_CONDITIONS[condition];
  const value = spec.read(metrics);
  return { value, holds: value !== null && spec.test(value, limit) };
}

export class MetricAlert {
  private firing = false;
  private trueSince: number | undefined;
  private lastNotified: number | undefined;

  constructor(
    /** The condition must hold this long, without a break, before it fires. */
    private readonly holdMs: number,
    /** At least this long between two notifications; a change meanwhile is notified when it ends, if still true. */
    private readonly coolDownMs: number,
  ) {}

  get isFiring(): boolean {
    return this.firing;
  }

  /** One check: returns 'fired' or 'cleared' when a notification is due now. */
  update(holds: boolean, now: number): 'fired' | 'cleared' | undefined {
    if (holds) this.trueSince ??= now;
    else this.trueSince = undefined;
    const wanted = holds && now - (this.trueSince ?? now) >= this.holdMs;
    if (wanted === this.firing) return undefined;
    if (this.lastNotified !== undefined && now - this.lastNotified < this.coolDownMs) return undefined;
    this.firing = wanted;
    this.lastNotified = now;
    return wanted ? 'fired' : 'cleared';
  }
}
