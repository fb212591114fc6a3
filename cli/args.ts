// A small argv parser for the CLI commands: --flag value, --flag=value, --no-flag, repeated flags.
// No dependency on purpose: the package installs into n8n and Node-RED, where every dependency counts.

/** A mistake in the command line: the CLI prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagSpec =
  | { type: 'string'; multiple?: boolean }
  | { type: 'boolean'; /** Also accept --no-NAME (sets false). */ negatable?: boolean }
  | {
      type: 'number';
      min: number;
      /** Required: an unbounded number overflows timers or memory. */ max: number;
      integer?: boolean;
    };

export type FlagSpecs = Record<string, FlagSpec>;

type ValueOf<S extends FlagSpec> = S extends { type: 'string'; multiple: true }
  ? string[]
  : S extends { type: 'string' }
    ? string
    : S extends { type: 'boolean' }
      ? boolean
      : number;

export type ParsedFlags<T extends FlagSpecs> = { [K in keyof T]?: ValueOf<T[K]> };

export interface ParsedArgs<T extends FlagSpecs> {
  flags: ParsedFlags<T>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `argv` against `specs` (names without the leading "--"). `-h`/`--help` set `help`.
 * A lone `--` ends the options. Unknown options and missing values throw UsageError.
 */
export function parseArgs<T extends FlagSpecs>(argv: readonly string[], specs: T): ParsedArgs<T> {
  const flags: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`Unknown option "${arg}".`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq > 0 ? eq : undefined);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const spec: FlagSpec | undefined = specs[name];
    if (!spec && name.startsWith('no-')) {
      const base = specs[name.slice(3)];
      if (base?.type === 'boolean' && base.negatable) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
        flags[name.slice(3)] = false;
        continue;
      }
    }
    if (!spec) throw new UsageError(`Unknown option "--${name}".${suggest(name, specs)}`);
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
      flags[name] = true;
      continue;
    }
    // A value may start with "-" only when given inline (--map=-1), so a forgotten value is caught.
    const value = inline ?? (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : undefined);
    if (value === undefined) throw new UsageError(`--${name} needs a value.`);
    if (spec.type === 'number') {
      flags[name] = parseNumber(name, value, spec);
    } else if (spec.multiple) {
      flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    } else {
      if (flags[name] !== undefined) throw new UsageError(`--${name} is given twice.`);
      flags[name] = value;
    }
  }
  return { flags: flags as ParsedFlags<T>, positionals, help };
}

function parseNumber(name: string, value: string, spec: { min: number; max: number; integer?: boolean }): number {
  const n = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(n) ||
    n < spec.min ||
    n > spec.max ||
    (spec.integer && !Number.isInteger(n))
  ) {
    const kind = spec.integer ? 'a whole number' : 'a number';
    throw new UsageError(`--${name} needs ${kind} from ${spec.min} to ${spec.max} (got "${value}").`);
  }
  return n;
}

function suggest(name: string, specs: FlagSpecs): string {
  const close = Object.keys(specs).find(
    (known) => known.startsWith(name) || name.startsWith(known) || distance(known, name) <= 2,
  );
  return close ? ` Did you mean --${close}?` : '';
}

/** Levenshtein distance, for "did you mean" hints on short option names. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
