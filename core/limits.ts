// Limits that protect the host process (n8n, Node-RED, the CLI) from hostile servers and runaway input.
// docs/limits.md explains each one and what happens when it is reached.
import { PingstreamsError } from './errors';

/** Node's timers hold a signed 32-bit delay: anything larger fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

/** The longest wait a server's Retry-After gets; a longer one is shortened to this, and the error says so. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** Every delay the package hands to setTimeout/setInterval: finite, not negative, not beyond the timer's range. */
export function timerDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return Number.isNaN(ms) || ms <= 0 ? 0 : MAX_TIMER_MS;
  return Math.min(Math.ceil(ms), MAX_TIMER_MS);
}

/** Bounds of numeric connection options: a value outside is refused with a clear error, never clamped silently. */
export const OPTION_BOUNDS = {
  handshakeTimeoutMs: [100, 600_000],
  pingIntervalMs: [100, 3_600_000],
  pongTimeoutMs: [100, 600_000],
  backoffInitialMs: [1, 3_600_000],
  backoffMaxMs: [1, MAX_RETRY_AFTER_MS],
  stableAfterMs: [0, 86_400_000],
  maxConnectsPerMinute: [1, 10_000],
  defaultRetryAfterMs: [0, MAX_RETRY_AFTER_MS],
  lingerMs: [0, 3_600_000],
  maxFrameBytes: [1_024, 256 * 1024 * 1024],
  maxFrameNodes: [1_000, 10_000_000],
  requestsSnapshotLimit: [1, 1_000_000],
  maxTrackedPerTopic: [1, 10_000_000],
  maxTrackedBytesPerTopic: [1_024, 4 * 1024 * 1024 * 1024],
  subscribeTimeoutMs: [1, 3_600_000],
} as const satisfies Record<string, readonly [number, number]>;

export function checkBound(name: keyof typeof OPTION_BOUNDS, value: unknown): void {
  if (value === undefined) return;
  const [min, max] = OPTION_BOUNDS[name];
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new PingstreamsError(
      'INVALID_OPTION',
      `The option ${name} must be a number from ${min} to ${max} (got ${JSON.stringify(value)?.slice(0, 40)}).`,
    );
  }
}
