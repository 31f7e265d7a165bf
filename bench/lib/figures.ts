// One JSON line per figure on stdout; progress on stderr. Every figure carries the reference it
// is held against, measured in the same run (the machine is shared and noisy: only ratios
// within one run mean anything), except where the note says the reference is external.
// A timed quantity is the median of its repetitions and carries their min and max, so a reader
// can tell a figure from noise; one whose repetitions spread more than MAX_SPREAD says so.

/** Repetitions of a timed quantity: `value` is their median. */
export interface Reps { n: number; min: number; max: number }

export interface Quantity {
  name: string;
  value: number;
  unit: string;
  /** Absent: not a repeated timing (a byte count, an external reference). */
  reps?: Reps;
}

/** Repetitions a timed figure needs before its median is quoted without a warning. */
export const MIN_REPS = 5;
/** (max - min) / median above which a quantity's repetitions are said to vary. */
export const MAX_SPREAD = 0.2;

export interface Figure extends Quantity {
  reference: Quantity;
  /** value / reference.value. */
  ratio: number;
  target?: string;
  /** Whether the target is met, when there is one and it can be judged. */
  met?: boolean;
  note?: string;
  /** Why the figure is less solid than it looks: repetitions that spread, or too few. */
  warnings?: string[];
}

const emitted: Figure[] = [];
const warned = new Set<string>();

/** A quantity from repeated measurements: their median, with n, min and max. */
export function sampled(name: string, unit: string, samples: readonly number[]): Quantity {
  if (!samples.length) throw new Error(`${name}: no samples`);
  return { name, unit, value: median(samples), reps: { n: samples.length, min: Math.min(...samples), max: Math.max(...samples) } };
}

/** (max - min) / median of a quantity's repetitions; 0 without repetitions. */
export function spreadOf(q: Quantity): number {
  if (!q.reps || q.reps.n < 2 || q.value === 0) return 0;
  return (q.reps.max - q.reps.min) / Math.abs(q.value);
}

/** What a reader must know about a quantity before quoting it: repetitions that spread, or too few. */
export function warningsOf(q: Quantity): string[] {
  if (!q.reps) return [];
  const out: string[] = [];
  const spread = spreadOf(q);
  if (spread > MAX_SPREAD) out.push(`${q.name} varied ${(spread * 100).toFixed(0)}% between its ${q.reps.n} repetitions (min ${round(q.reps.min)}, max ${round(q.reps.max)})`);
  if (q.reps.n < MIN_REPS) out.push(`${q.name} is the median of only ${q.reps.n} repetition(s)`);
  return out;
}

const roundReps = (q: Quantity): Quantity => (q.reps
  ? { ...q, value: round(q.value), reps: { n: q.reps.n, min: round(q.reps.min), max: round(q.reps.max) } }
  : { ...q, value: round(q.value) });

export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x)) return x;
  const m = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(x) || 1)));
  return Math.round(x * m) / m;
}

/** Prints a figure; `met` judges the target from the ratio when a check is given. */
export function figure(
  value: Quantity, reference: Quantity,
  opts: { target?: string; check?: (ratio: number) => boolean; note?: string } = {},
): Figure {
  const ratio = value.value / reference.value;
  const v = roundReps(value);
  // Key order is the printed order: the figure, its repetitions, then what it is held against.
  const f: Figure = { name: v.name, value: v.value, unit: v.unit, ...(v.reps ? { reps: v.reps } : {}), reference: roundReps(reference), ratio: round(ratio) };
  if (opts.target) f.target = opts.target;
  if (opts.target && opts.check) f.met = opts.check(ratio);
  if (opts.note) f.note = opts.note;
  const warnings = [...warningsOf(value), ...warningsOf(reference)];
  if (warnings.length) {
    f.warnings = warnings;
    // A reference shared by several figures is warned about once.
    for (const w of warnings) if (!warned.has(w)) { warned.add(w); progress(`WARNING ${w}`); }
  }
  emitted.push(f);
  process.stdout.write(`${JSON.stringify(f)}\n`);
  return f;
}

export function allFigures(): Figure[] {
  return emitted;
}

const errors: string[] = [];

/** A measurement that could not be taken (the code under test failed): goes into the summary. */
export function recordError(name: string, err: unknown): void {
  const msg = `${name}: ${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
  errors.push(msg);
  progress(`ERROR ${msg}`);
}

export function allErrors(): string[] {
  return errors;
}

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Timing { minMs: number; medianMs: number; maxMs: number; samplesMs: number[] }

const timing = (ms: number[]): Timing => ({ minMs: Math.min(...ms), medianMs: median(ms), maxMs: Math.max(...ms), samplesMs: ms });

/** Min, median and max ms of `reps` calls after `warmup` calls, and every sample. */
export function timeSync(fn: () => void, reps: number, warmup = 2): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return timing(ms);
}

export async function timeAsync(fn: () => Promise<void>, reps: number, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return timing(ms);
}

/** A unique name for this run's models, subjects and keys, so runs never collide. */
export function runId(what: string): string {
  return `bench_${what}_${process.pid}_${Date.now().toString(36)}`;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomF32(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    a[i] = ((x >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}
