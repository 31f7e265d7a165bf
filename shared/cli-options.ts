// Command-line options, declared once per command: name, type, default, one help line. The
// usage text is made from the declarations; node:util parseArgs in strict mode splits the
// arguments (an unknown flag is an error naming it); numbers are checked here with the flag's
// name in the message. Every command takes --help. A usage error is a UsageError: exit status 2.
import { parseArgs as nodeParseArgs } from 'node:util';

export type OptionType = 'string' | 'boolean' | 'integer' | 'number';

export interface OptionSpec {
  type: OptionType;
  /** One line for the usage text. */
  help: string;
  /** Applied when the flag is absent. Default: none (the value is undefined). */
  default?: string | number | boolean;
  /** How the usage text shows a default computed elsewhere (e.g. "1000 with --ingest-only"). */
  defaultText?: string;
  /** The value's placeholder in the usage text. Default FILE/N/X/VALUE by type. */
  value?: string;
  /** integer and number: inclusive bounds. */
  min?: number;
  max?: number;
  /** string: the values allowed. */
  choices?: readonly string[];
  required?: boolean;
}

export interface CommandSpec {
  /** As typed after `flywheel`, e.g. "ps". */
  name: string;
  /** One line: what the command does. */
  summary: string;
  options: Record<string, OptionSpec>;
  /** Lines printed after the options. */
  notes?: string;
}

export type OptionValue = string | number | boolean | undefined;
export type OptionValues = Record<string, OptionValue>;

/** Bad arguments: the message names the flag; the process exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
  constructor(message: string, readonly command?: string) {
    super(command ? `flywheel ${command}: ${message} (see flywheel ${command} --help)` : message);
  }
}

export type ParsedCommandLine = { help: true; usage: string } | ParsedOptions;
/** The options of a command line that is not a --help: values (defaults applied) and the flags given. */
export interface ParsedOptions { help: false; values: OptionValues; given: Set<string> }

/** A `flywheel` command module: its declaration and what runs it (resolving to the exit status). */
export interface CommandModule {
  spec: CommandSpec;
  run(args: ParsedOptions): Promise<number>;
}

function placeholder(o: OptionSpec): string {
  if (o.type === 'boolean') return '';
  if (o.value) return ` ${o.value}`;
  if (o.choices) return ` ${o.choices.join('|')}`;
  return o.type === 'string' ? ' VALUE' : o.type === 'integer' ? ' N' : ' X';
}

/** The usage text of a command, from its declarations. */
export function usageOf(spec: CommandSpec): string {
  const entries = Object.entries(spec.options);
  const heads = entries.map(([name, o]) => `  --${name}${placeholder(o)}`);
  const width = Math.min(36, Math.max(12, ...heads.map((h) => h.length)) + 2);
  const lines = [`usage: flywheel ${spec.name} ${entries.filter(([, o]) => o.required).map(([n, o]) => `--${n}${placeholder(o)}`).join(' ')}`.trimEnd()
    + (entries.some(([, o]) => !o.required) ? ' [options]' : ''), spec.summary, '', 'options:'];
  entries.forEach(([, o], i) => {
    const dflt = o.defaultText ?? (o.default !== undefined && o.default !== false ? String(o.default) : undefined);
    const range = o.min !== undefined && o.max !== undefined ? ` (${o.min}..${o.max})`
      : o.min !== undefined ? ` (>= ${o.min})` : o.max !== undefined ? ` (<= ${o.max})` : '';
    const text = `${o.help}${range}${o.required ? ' (required)' : dflt !== undefined ? ` (default ${dflt})` : ''}`;
    lines.push(heads[i].length + 1 >= width ? `${heads[i]}\n${' '.repeat(width)}${text}` : `${heads[i].padEnd(width)}${text}`);
  });
  lines.push(`${'  --help'.padEnd(width)}print this and exit`);
  if (spec.notes) lines.push('', spec.notes);
  return lines.join('\n');
}

function checkNumber(spec: CommandSpec, name: string, o: OptionSpec, raw: string): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  const intOk = o.type !== 'integer' || Number.isInteger(n);
  if (!Number.isFinite(n) || !intOk || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    const what = o.type === 'integer' ? 'an integer' : 'a number';
    const range = o.min !== undefined && o.max !== undefined ? ` in ${o.min}..${o.max}`
      : o.min !== undefined ? ` >= ${o.min}` : o.max !== undefined ? ` <= ${o.max}` : '';
    throw new UsageError(`--${name} must be ${what}${range}, got ${JSON.stringify(raw)}`, spec.name);
  }
  return n;
}

/**
 * Parses argv (without the command name) by the command's declarations. `--help` anywhere
 * returns the usage and nothing else is checked, so help never starts anything.
 */
export function parseCommandLine(spec: CommandSpec, argv: string[]): ParsedCommandLine {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true, usage: usageOf(spec) };
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type === 'boolean' ? 'boolean' : 'string' };
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = nodeParseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'(-[^']*)'/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${flag ?? e.message}`, spec.name);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(flag && spec.options[flag.replace(/^-+/, '').split(' ')[0]]?.type === 'boolean'
        ? `${flag.split(' ')[0]} takes no value` : `${flag ?? 'an option'} needs a value`, spec.name);
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${flag ?? /'([^']*)'/.exec(e.message)?.[1] ?? ''}`.trim(), spec.name);
    throw new UsageError(e.message, spec.name);
  }
  const values: OptionValues = {};
  const given = new Set<string>();
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed[name];
    if (raw === undefined) {
      if (o.required) throw new UsageError(`--${name} is required`, spec.name);
      values[name] = o.default;
      continue;
    }
    given.add(name);
    if (o.type === 'boolean') values[name] = raw === true;
    else if (o.type === 'string') {
      const s = String(raw);
      if (o.choices && !o.choices.includes(s)) throw new UsageError(`--${name} must be one of ${o.choices.join(', ')}, got ${JSON.stringify(s)}`, spec.name);
      values[name] = s;
    } else values[name] = checkNumber(spec, name, o, String(raw));
  }
  return { help: false, values, given };
}

/** The flags given, as --name value strings (for option parsers that take that form). */
export function givenAsStrings(p: ParsedOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of p.given) out[k] = String(p.values[k]);
  return out;
}

/** One line for an error at start-up: the message's first line, no stack. */
export function oneLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0];
}
