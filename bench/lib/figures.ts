// One JSON line per figure on stdout; progress on stderr. Every figure carries the reference it
// is held against, measured in the same run (the machine is shared and noisy: only ratios
// within one run mean anything), except where the note says the reference is external.

export interface Quantity { name: string; value: number; unit: string }

export interface Figure extends Quantity {
  reference: Quantity;
  /** value / reference.value. */
  ratio: number;
  target?: string;
  /** Whether the target is met, when there is one and it can be judged. */
  met?: boolean;
  note?: string;
}

const emitted: Figure[] = [];

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
  const f: Figure = {
    name: value.name, value: round(value.value), unit: value.unit,
    reference: { ...reference, value: round(reference.value) }, ratio: round(ratio),
  };
  if (opts.target) f.target = opts.target;
  if (opts.target && opts.check) f.met = opts.check(ratio);
  if (opts.note) f.note = opts.note;
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

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Minimum and median ms of `reps` calls after `warmup` calls. */
export function timeSync(fn: () => void, reps: number, warmup = 2): { minMs: number; medianMs: number } {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return { minMs: Math.min(...ms), medianMs: median(ms) };
}

export async function timeAsync(fn: () => Promise<void>, reps: number, warmup = 2): Promise<{ minMs: number; medianMs: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return { minMs: Math.min(...ms), medianMs: median(ms) };
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
