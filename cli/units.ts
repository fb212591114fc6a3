// Durations, rates and targets as people type them: 5s, 3m, 1h, 250ms; 100/30m; 80/20.
import { UsageError } from './args';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "5s", "3m", "1.5h", "250ms"; a bare number is seconds. Returns milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?\s*$/i.exec(text);
  if (!match) throw new UsageError(`--${flag} needs a duration such as 30s, 5m or 1h (got "${text}").`);
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? 's').toLowerCase()];
  if (!(ms > 0)) throw new UsageError(`--${flag} must be longer than 0 (got "${text}").`);
  return ms;
}

/** "100/30m" (100 per 30 minutes), "200/h", or a bare number per hour. Returns arrivals per hour. */
export function parseRate(flag: string, text: string): number {
  const [count, per] = text.split('/');
  const n = Number(count);
  if (count.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${flag} needs arrivals per period such as 100/30m or 200/h (got "${text}").`);
  }
  if (per === undefined) return n;
  const periodMs = parseDuration(flag, /^\s*(ms|s|min|m|h)\s*$/i.test(per) ? `1${per.trim()}` : per);
  return (n * 3_600_000) / periodMs;
}

/** "80/20": 80 % answered within 20 s (the seconds may carry a unit: 80/1m). */
export function parseTarget(flag: string, text: string): { serviceLevel: number; seconds: number } {
  const [percent, within] = text.split('/');
  const p = Number(percent);
  if (within === undefined || percent.trim() === '' || !Number.isFinite(p) || p <= 0 || p >= 100) {
    throw new UsageError(`--${flag} needs PERCENT/SECONDS, e.g. 80/20 for 80% answered within 20 s (got "${text}").`);
  }
  return { serviceLevel: p / 100, seconds: parseDuration(flag, within) / 1000 };
}

/** A percentage from 0 to 100 (85 = 85 %), returned as a share. */
export function parsePercent(flag: string, value: number, { allowZero }: { allowZero: boolean }): number {
  if (value > 100 || (!allowZero && value === 0))
    throw new UsageError(`--${flag} is a percentage ${allowZero ? 'from 0' : 'above 0'} to 100 (got ${value}).`);
  return value / 100;
}
