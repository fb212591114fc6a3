// `pingstreams forecast`: the staffing forecast as one JSON object, from numbers on the command line.
import { forecastStaffing, PingstreamsError, type ForecastInput } from '../core';
import { parseArgs, UsageError } from './args';
import { EXIT, usageError, type CommandIo } from './command';
import { parseDuration, parsePercent, parseRate, parseTarget } from './units';

export const FORECAST_USAGE = `Usage: pingstreams forecast --rate N/PERIOD --aht DURATION --target PERCENT/SECONDS [options]

Prints the staffing forecast (Erlang C; Erlang A with --patience) as one JSON object.

  --rate N/PERIOD        arrivals, e.g. 100/30m (100 per 30 minutes) or 200/h
  --aht DURATION         average handle time of one contact, e.g. 3m or 180s
  --target P/S           service-level target, e.g. 80/20: 80% answered within 20 s
  --max-occupancy P      highest acceptable occupancy in percent (default 100)
  --shrinkage P          share of paid time away from contacts, in percent (default 0)
  --chats N              chats one agent handles at once (default 1)
  --patience DURATION    average patience before abandoning: adds the Erlang A figures
  --agents N             agents on line now: their service level and the shortfall

Example:
  pingstreams forecast --rate 100/30m --aht 3m --target 80/20 --max-occupancy 85 --shrinkage 30
`;

export const FORECAST_FLAGS = {
  rate: { type: 'string' },
  aht: { type: 'string' },
  target: { type: 'string' },
  'max-occupancy': { type: 'number', min: 0, max: 100 },
  shrinkage: { type: 'number', min: 0, max: 100 },
  chats: { type: 'number', min: 1, max: 100, integer: true },
  patience: { type: 'string' },
  agents: { type: 'number', min: 0, max: 100_000, integer: true },
} as const;

type ForecastFlags = ReturnType<typeof parseArgs<typeof FORECAST_FLAGS>>['flags'];

/** The forecast options shared with `pingstreams metrics` (where rate and handle time may come from live data). */
export function forecastOptions(flags: ForecastFlags): Partial<ForecastInput> {
  const options: Partial<ForecastInput> = {};
  if (flags.rate !== undefined) options.arrivalsPerHour = parseRate('rate', flags.rate);
  if (flags.aht !== undefined) options.ahtSeconds = parseDuration('aht', flags.aht) / 1000;
  if (flags.target !== undefined) {
    const target = parseTarget('target', flags.target);
    options.targetServiceLevel = target.serviceLevel;
    options.targetSeconds = target.seconds;
  }
  if (flags['max-occupancy'] !== undefined)
    options.maxOccupancy = parsePercent('max-occupancy', flags['max-occupancy'], { allowZero: false });
  if (flags.shrinkage !== undefined) {
    if (flags.shrinkage >= 100) throw new UsageError(`--shrinkage must be below 100 (got ${flags.shrinkage}).`);
    options.shrinkage = parsePercent('shrinkage', flags.shrinkage, { allowZero: true });
  }
  if (flags.chats !== undefined) options.chatsPerAgent = flags.chats;
  if (flags.patience !== undefined) options.patienceSeconds = parseDuration('patience', flags.patience) / 1000;
  if (flags.agents !== undefined) options.agents = flags.agents;
  return options;
}

export async function runForecast(argv: readonly string[], io: CommandIo): Promise<number> {
  try {
    const { flags, positionals, help } = parseArgs(argv, FORECAST_FLAGS);
    if (help) {
      io.stdout.write(FORECAST_USAGE);
      return EXIT.OK;
    }
    if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
    for (const required of ['rate', 'aht', 'target'] as const) {
      if (flags[required] === undefined) throw new UsageError(`--${required} is required.`);
    }
    const forecast = forecastStaffing(forecastOptions(flags) as ForecastInput);
    io.stdout.write(`${JSON.stringify(forecast)}\n`);
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof PingstreamsError)) throw error;
    return usageError('forecast', FORECAST_USAGE, error.message, io, argv, process.env);
  }
}
