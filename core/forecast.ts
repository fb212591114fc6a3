// Staffing forecast: Erlang C (callers wait forever) and Erlang A (callers abandon after an exponential
// patience), zero-dependency. No factorials: Erlang B by its recurrence, the Erlang A series by term ratios
// with rescaling, so hundreds or thousands of agents neither overflow nor lose precision. Every result is
// finite: an overloaded queue is reported as such, never as NaN or Infinity. Model: docs/metrics.md.
import { PingstreamsError } from './errors';

export interface ForecastInput {
  /** Arrivals per hour (new chats or contacts). */
  arrivalsPerHour: number;
  /** Average handle time of one contact, in seconds (for chats: elapsed time of one chat). */
  ahtSeconds: number;
  /** Service-level target: this share answered within targetSeconds (0.8 = 80 %). */
  targetServiceLevel: number;
  targetSeconds: number;
  /** Highest acceptable occupancy (0.85). Default 1 (no limit). */
  maxOccupancy?: number;
  /** Share of paid time not available for contacts (0.3). Default 0. */
  shrinkage?: number;
  /** Chats one agent handles at once. Default 1. Each agent is modelled as this many servers. */
  chatsPerAgent?: number;
  /** Average patience in seconds: adds the Erlang A model (abandonment). */
  patienceSeconds?: number;
  /** Agents available now: the forecast service level and the shortfall are for them. */
  agents?: number;
  /** Upper bound of the search for agents required. Default 10 000. */
  maxAgents?: number;
}

/** The queue's figures for a given number of agents. */
export interface QueueFigures {
  agents: number;
  /** True when the load reaches the servers (Erlang C): the queue grows without bound. */
  overloaded: boolean;
  serviceLevel: number;
  probabilityOfWaiting: number;
  /** Average wait of all contacts in seconds (answered at once count as 0); null when overloaded. */
  averageSpeedOfAnswerSeconds: number | null;
  occupancy: number;
  /** Erlang A only. */
  probabilityOfAbandoning?: number;
}

export interface StaffingResult {
  /** Agents required on line to meet the target and the occupancy limit; null when none up to maxAgents does. */
  agents: number | null;
  /** agents / (1 - shrinkage), rounded up: agents to schedule. */
  scheduled: number | null;
  figures: QueueFigures | null;
}

export interface Forecast {
  model: 'erlang-c' | 'erlang-a';
  input: Required<Omit<ForecastInput, 'patienceSeconds' | 'agents'>> & {
    patienceSeconds: number | null;
    agents: number | null;
  };
  /** Offered load in Erlangs (arrival rate x handle time), in chats. */
  trafficErlangs: number;
  /** Erlang C staffing. */
  required: StaffingResult;
  /** Erlang C with the agents available now, and how many are missing (0 when enough; null when no staffing meets the target). */
  now: (QueueFigures & { shortfall: number | null }) | null;
  /** Erlang A staffing and its figures with the agents available now (or with the Erlang C requirement). */
  erlangA: { required: StaffingResult; now: (QueueFigures & { shortfall: number | null }) | null } | null;
  /** A sentence for people: what to do. */
  summary: string;
}

/** Erlang B blocking probability, by the recurrence B(k) = A B(k-1) / (k + A B(k-1)): stable for any n. */
export function erlangB(servers: number, traffic: number): number {
  let b = 1;
  for (let k = 1; k <= servers; k++) b = (traffic * b) / (k + traffic * b);
  return b;
}

/** Erlang C probability of waiting from Erlang B; 1 when overloaded. */
export function erlangC(servers: number, traffic: number): number {
  if (traffic <= 0) return 0;
  if (traffic >= servers) return 1;
  return erlangCFromB(servers, traffic, erlangB(servers, traffic));
}

function erlangCFromB(servers: number, traffic: number, b: number): number {
  return (servers * b) / (servers - traffic * (1 - b));
}

/** Erlang C figures for n servers carrying `traffic` Erlangs (aht and target in seconds). */
function erlangCFigures(
  servers: number,
  traffic: number,
  ahtSeconds: number,
  targetSeconds: number,
  b = erlangB(servers, traffic),
): QueueFigures {
  if (traffic >= servers) {
    return {
      agents: servers,
      overloaded: true,
      serviceLevel: 0,
      probabilityOfWaiting: 1,
      averageSpeedOfAnswerSeconds: null,
      occupancy: 1,
    };
  }
  const pw = traffic > 0 ? erlangCFromB(servers, traffic, b) : 0;
  const serviceLevel = 1 - pw * Math.exp((-(servers - traffic) * targetSeconds) / ahtSeconds);
  return {
    agents: servers,
    overloaded: false,
    serviceLevel: clamp01(serviceLevel),
    probabilityOfWaiting: clamp01(pw),
    averageSpeedOfAnswerSeconds: (pw * ahtSeconds) / (servers - traffic),
    occupancy: clamp01(traffic / servers),
  };
}

/**
 * log of A(x, y) = 1 + sum_{k>=1} y^k / ((x+1)...(x+k)) (Mandelbaum and Zeltyn's A(x,y) = x e^y y^-x gamma(x,y)),
 * summed by term ratios; rescaled so a sum past 1e300 (many callers, little patience) stays finite.
 */
function logA(x: number, y: number): number {
  let sum = 1;
  let term = 1;
  let logScale = 0;
  for (let k = 1; k < 10_000_000; k++) {
    term *= y / (x + k);
    sum += term;
    if (sum > 1e280) {
      sum /= 1e280;
      term /= 1e280;
      logScale += 280 * Math.LN10;
    }
    if (x + k > y && term < 1e-17 * sum) break;
  }
  return Math.log(sum) + logScale;
}

/** Erlang A (M/M/n+M) figures: n servers, arrival rate and service rate per second, patience rate theta per second. */
function erlangAFigures(
  servers: number,
  lambda: number,
  mu: number,
  theta: number,
  targetSeconds: number,
  b = erlangB(servers, lambda / mu),
): QueueFigures {
  if (lambda <= 0) {
    return {
      agents: servers,
      overloaded: false,
      serviceLevel: 1,
      probabilityOfWaiting: 0,
      averageSpeedOfAnswerSeconds: 0,
      occupancy: 0,
      probabilityOfAbandoning: 0,
    };
  }
  const x = (servers * mu) / theta;
  const y = lambda / theta;
  const rho = lambda / (servers * mu);
  const lA = logA(x, y);
  const invA = Math.exp(-lA);
  // P(wait > 0) = A E / (1 + (A - 1) E), written with 1/A so a huge A cannot overflow.
  const pw = b / (b + (1 - b) * invA);
  const pin = pw * invA; // probability that exactly n are in the system
  const pAbandon = pw * (1 - 1 / rho) + pin / rho;
  // P(served within t) = 1 - P(abandon) - pi_n F (A(x, y q) - 1) / rho, with q = e^{-theta t}, F = e^{-n mu t + y (1 - q)}.
  const q = Math.exp(-theta * targetSeconds);
  const logF = -servers * mu * targetSeconds + y * (1 - q);
  const lAz = logA(x, y * q);
  const tail = Math.exp(Math.log(pw) - lA + logF + lAz) - pin * Math.exp(logF);
  const serviceLevel = 1 - pAbandon - tail / rho;
  return {
    agents: servers,
    overloaded: false,
    serviceLevel: clamp01(serviceLevel),
    probabilityOfWaiting: clamp01(pw),
    averageSpeedOfAnswerSeconds: Math.max(0, pAbandon / theta), // Little's law on the abandonments: E[wait] = P(abandon) / theta
    occupancy: clamp01((lambda * (1 - pAbandon)) / (servers * mu)),
    probabilityOfAbandoning: clamp01(pAbandon),
  };
}

/** Checks and completes the input; throws a PingstreamsError that names the bad value. */
export function normaliseForecastInput(input: ForecastInput): Forecast['input'] {
  const need = (name: string, value: unknown, ok: (v: number) => boolean, rule: string): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      throw new PingstreamsError(
        'FORECAST_INPUT',
        `The forecast's ${name} is ${JSON.stringify(value) ?? 'missing'}: it must be ${rule}.`,
      );
    }
    return value;
  };
  const optional = (name: string, value: unknown, fallback: number, ok: (v: number) => boolean, rule: string) =>
    value === undefined || value === null ? fallback : need(name, value, ok, rule);
  return {
    arrivalsPerHour: need(
      'arrival rate',
      input.arrivalsPerHour,
      (v) => v >= 0,
      'a number of arrivals per hour, 0 or more',
    ),
    ahtSeconds: need('average handle time', input.ahtSeconds, (v) => v > 0, 'a number of seconds above 0'),
    targetServiceLevel: need(
      'service-level target',
      input.targetServiceLevel,
      (v) => v > 0 && v < 1,
      'a share between 0 and 1 (0.8 for 80 %)',
    ),
    targetSeconds: need('target answer time', input.targetSeconds, (v) => v >= 0, 'a number of seconds, 0 or more'),
    maxOccupancy: optional(
      'maximum occupancy',
      input.maxOccupancy,
      1,
      (v) => v > 0 && v <= 1,
      'a share above 0 and at most 1 (0.85 for 85 %)',
    ),
    shrinkage: optional(
      'shrinkage',
      input.shrinkage,
      0,
      (v) => v >= 0 && v < 1,
      'a share from 0 to below 1 (0.3 for 30 %)',
    ),
    chatsPerAgent: optional(
      'chats per agent',
      input.chatsPerAgent,
      1,
      (v) => Number.isInteger(v) && v >= 1 && v <= 100,
      'a whole number from 1 to 100',
    ),
    patienceSeconds:
      input.patienceSeconds === undefined || input.patienceSeconds === null
        ? null
        : need('average patience', input.patienceSeconds, (v) => v > 0, 'a number of seconds above 0'),
    agents:
      input.agents === undefined || input.agents === null
        ? null
        : need('number of agents', input.agents, (v) => Number.isInteger(v) && v >= 0, 'a whole number, 0 or more'),
    maxAgents: optional(
      'search limit',
      input.maxAgents,
      10_000,
      (v) => Number.isInteger(v) && v >= 1 && v <= 1_000_000,
      'a whole number from 1 to 1 000 000',
    ),
  };
}

export function forecastStaffing(raw: ForecastInput): Forecast {
  const input = normaliseForecastInput(raw);
  const c = input.chatsPerAgent;
  const lambda = input.arrivalsPerHour / 3600; // per second
  const traffic = lambda * input.ahtSeconds; // Erlangs, in chat slots
  const theta = input.patienceSeconds ? 1 / input.patienceSeconds : 0;
  const mu = 1 / input.ahtSeconds;

  // Servers are chat slots; an agent is `c` slots. Erlang B grows by one slot per step, so the search is O(slots).
  const slotFigures = (slots: number, b: number, model: 'c' | 'a'): QueueFigures =>
    model === 'c'
      ? erlangCFigures(slots, traffic, input.ahtSeconds, input.targetSeconds, b)
      : erlangAFigures(slots, lambda, mu, theta, input.targetSeconds, b);
  const perAgent = (f: QueueFigures, agents: number): QueueFigures => ({ ...f, agents });
  const meets = (f: QueueFigures) =>
    !f.overloaded && f.serviceLevel >= input.targetServiceLevel && f.occupancy <= input.maxOccupancy;
  const search = (model: 'c' | 'a'): StaffingResult => {
    let b = 1;
    let slots = 0;
    for (let agents = 1; agents <= input.maxAgents; agents++) {
      while (slots < agents * c) {
        slots++;
        b = (traffic * b) / (slots + traffic * b);
      }
      // Erlang C cannot meet anything below the load; skip the costly Erlang A series there too.
      if (model === 'c' && slots <= traffic) continue;
      const f = slotFigures(slots, b, model);
      if (meets(f))
        return { agents, scheduled: Math.ceil(agents / (1 - input.shrinkage) - 1e-9), figures: perAgent(f, agents) };
    }
    return { agents: null, scheduled: null, figures: null };
  };
  const at = (agents: number, model: 'c' | 'a', required: number | null) => {
    const slots = agents * c;
    const f = perAgent(slotFigures(slots, erlangB(slots, traffic), model), agents);
    return { ...f, shortfall: required === null ? null : Math.max(0, required - agents) };
  };

  const required = search('c');
  const now = input.agents === null ? null : at(input.agents, 'c', required.agents);
  let erlangA: Forecast['erlangA'] = null;
  if (theta > 0) {
    const requiredA = search('a');
    const agentsA = input.agents ?? required.agents;
    erlangA = { required: requiredA, now: agentsA === null ? null : at(agentsA, 'a', requiredA.agents) };
  }
  const result: Forecast = {
    model: theta > 0 ? 'erlang-a' : 'erlang-c',
    input,
    trafficErlangs: traffic,
    required,
    now,
    erlangA,
    summary: '',
  };
  result.summary = summarise(result);
  return roundForecast(result);
}

function summarise(f: Forecast): string {
  const target = `${Math.round(f.input.targetServiceLevel * 1000) / 10}% within ${f.input.targetSeconds} s`;
  if (f.required.agents === null) {
    return `No staffing up to ${f.input.maxAgents} agents meets ${target} at ${round(f.trafficErlangs, 3)} Erlangs; check the arrival rate and handle time, or raise the search limit.`;
  }
  let text = `${agentsText(f.required.agents)} on line (${f.required.scheduled} scheduled) meet ${target}`;
  if (f.now) {
    text += f.now.overloaded
      ? `; with ${agentsText(f.now.agents)} on line now the queue is overloaded (it grows without bound): ${f.now.shortfall} more needed.`
      : f.now.shortfall !== null && f.now.shortfall > 0
        ? `; with ${agentsText(f.now.agents)} on line now the service level is ${round(f.now.serviceLevel * 100, 1)}%: ${f.now.shortfall} more needed.`
        : `; the ${agentsText(f.now.agents)} on line now are enough (service level ${round(f.now.serviceLevel * 100, 1)}%).`;
  } else text += '.';
  return text;
}

function agentsText(n: number): string {
  return n === 1 ? '1 agent' : `${n} agents`;
}

/** Probabilities to 7 decimals, seconds to 3, so the JSON reads as the worked examples do. */
function roundForecast(f: Forecast): Forecast {
  const figures = <T extends QueueFigures | null>(q: T): T => {
    if (!q) return q;
    const out: QueueFigures & Record<string, unknown> = {
      ...q,
      serviceLevel: round(q.serviceLevel, 7),
      probabilityOfWaiting: round(q.probabilityOfWaiting, 7),
      averageSpeedOfAnswerSeconds:
        q.averageSpeedOfAnswerSeconds === null ? null : round(q.averageSpeedOfAnswerSeconds, 3),
      occupancy: round(q.occupancy, 7),
    };
    if (q.probabilityOfAbandoning !== undefined) out.probabilityOfAbandoning = round(q.probabilityOfAbandoning, 7);
    return out as T;
  };
  const staffing = (s: StaffingResult): StaffingResult => ({ ...s, figures: figures(s.figures) });
  return {
    ...f,
    trafficErlangs: round(f.trafficErlangs, 7),
    required: staffing(f.required),
    now: f.now ? { ...figures(f.now), shortfall: f.now.shortfall } : null,
    erlangA: f.erlangA
      ? {
          required: staffing(f.erlangA.required),
          now: f.erlangA.now ? { ...figures(f.erlangA.now), shortfall: f.erlangA.now.shortfall } : null,
        }
      : null,
  };
}

function clamp01(v: number): number {
  if (!Number.isFinite(v)) return v > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, v));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
