// Figure 1: the PS dense momentum apply (v = mu*v + g; w -= lr*v), ns per parameter at 1M and
// 10M floats: the scalar TypeScript loop, the rule's apply as the PS calls it (SIMD kernels through
// a chunked scratch, bit-exact), the f32 and the resident-memory kernel variants (bench/kernels/), and the C loop
// (cc -O3 -march=native) as reference; a Float32Array.set copy as the memory reference.
// Each figure is the median of its repetitions (25 at 1M, 9 at 10M) with their min and max,
// each implementation's repetitions in a row after two warm-up calls, as the C loop runs them:
// at 1M floats the arrays fit in the last-level cache, and the figures are of that case.
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import { simdAvailable } from '../shared/kernels/momentum-simd.ts';
import { ResidentDense, applyChunked, plainLoop, type KernelParams as UpdateParams } from './kernels/variants.ts';
import { figure, progress, randomF32, sampled, timeSync, type Quantity, type Reps } from './lib/figures.ts';
import { runNative } from './native.ts';

const SIZES = [{ label: '1M', n: 1_000_000, reps: 25 }, { label: '10M', n: 10_000_000, reps: 9 }];
const TARGET = '<= 2x the C loop (ratio <= 2)';
const within2x = (r: number) => r <= 2;

/** ns per parameter of each named implementation: `reps` calls in a row after 2 warm-up calls,
 *  as the C reference runs (so each side meets its arrays in the cache alike). */
function consecutive(impls: [string, () => void][], n: number, reps: number): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, fn] of impls) out[name] = timeSync(fn, reps, 2).samplesMs.map((ms) => (ms * 1e6) / n);
  return out;
}

export async function benchDense(): Promise<void> {
  if (!simdAvailable()) progress('WebAssembly SIMD is not available: the SIMD figures are skipped');
  for (const { label, n, reps } of SIZES) {
    progress(`dense apply at ${label} floats`);
    const w = randomF32(n, 1);
    const slot = new Float32Array(n);
    const g = randomF32(n, 2);
    const impls: [string, () => void][] = [];
    for (const rule of ['momentum', 'nesterov'] as const) {
      const p: UpdateParams = { rule, lr: 0.01, mu: 0.9, eps: 1e-8 };
      const { hp } = resolveRule(rule, { lr: 0.01, mu: 0.9 }, 'bench');
      const ps = UPDATE_RULES[rule];
      impls.push([`${rule}.ts-loop`, () => plainLoop(p, w, slot, 0, g, 0, n, 1)]);
      impls.push([`${rule}.applyUpdate`, () => ps.apply(w, slot, 0, g, 0, n, 1, 1, hp)]);
      if (simdAvailable()) impls.push([`${rule}.simd-f32`, () => applyChunked(p, w, slot, 0, g, 0, n, 1, false)]);
    }
    const copyDst = new Float32Array(n);
    impls.push(['copy', () => copyDst.set(g)]);
    if (simdAvailable()) {
      const r = new ResidentDense(n);
      r.weights.set(w);
      const p: UpdateParams = { rule: 'momentum', lr: 0.01, mu: 0.9, eps: 1e-8 };
      impls.push(['momentum.resident-exact', () => r.apply(p, g, 1)], ['momentum.resident-f32', () => r.apply(p, g, 1, false)]);
    }
    const samples = consecutive(impls, n, reps);
    const q = (name: string, key: string): Quantity => sampled(`${name}.${label}`, 'ns/param', samples[key]);
    const native = (name: string, r: { median: number; reps: Reps }): Quantity => ({ name: `${name}.${label}`, value: r.median, unit: 'ns/param', reps: r.reps });
    const c = { momentum: runNative(n, reps, 'momentum'), nesterov: runNative(n, reps, 'nesterov'), copy: runNative(n, reps, 'copy') };
    const copyRef = q('dense.copy.Float32Array.set', 'copy');

    for (const rule of ['momentum', 'nesterov'] as const) {
      const cRef = c[rule] === null ? null : native(`dense.${rule}.c-O3-native`, c[rule]!);
      const ref = cRef ?? copyRef;
      const noC = cRef ? undefined : 'no C compiler: held against the Float32Array.set copy instead';
      figure(q(`dense.${rule}.ts-loop`, `${rule}.ts-loop`), ref, { note: noC ?? 'the scalar loop (bench/kernels/variants.ts plainLoop)' });
      if (!simdAvailable()) continue;
      figure(q(`dense.${rule}.applyUpdate-simd`, `${rule}.applyUpdate`), ref, {
        target: TARGET, check: within2x,
        note: 'what the PS runs (UPDATE_RULES[rule].apply): exact f64x2 kernel (bit-identical to the scalar loop), arrays streamed through a 3x64 KiB wasm scratch',
      });
      figure(q(`dense.${rule}.simd-f32-chunked`, `${rule}.simd-f32`), ref, {
        target: TARGET, check: within2x, note: 'f32x4 math (a few ulp from the scalar loop), same chunked copies',
      });
      figure(q(`dense.${rule}.applyUpdate-simd`, `${rule}.applyUpdate`), q(`dense.${rule}.ts-loop`, `${rule}.ts-loop`), {
        note: 'speed-up of the PS path over the scalar loop (ratio < 1 = faster)',
      });
    }
    if (simdAvailable()) {
      const cRef = c.momentum === null ? copyRef : native('dense.momentum.c-O3-native', c.momentum);
      figure(q('dense.momentum.resident-exact', 'momentum.resident-exact'), cRef, {
        target: TARGET, check: within2x, note: 'weights+slot live in wasm memory; only g is copied in; exact f64x2 math',
      });
      figure(q('dense.momentum.resident-f32', 'momentum.resident-f32'), cRef, {
        target: TARGET, check: within2x, note: 'weights+slot live in wasm memory; only g is copied in; f32x4 math',
      });
    }
    if (c.momentum !== null) {
      figure(native('dense.momentum.c-O3-native', c.momentum), copyRef, { note: 'how far the C loop is from a plain copy (memory reference)' });
      figure(native('dense.copy.c-memcpy', c.copy!), copyRef, { note: 'memcpy vs Float32Array.set' });
    }
  }
}
