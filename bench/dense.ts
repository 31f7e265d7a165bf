// Figure 1: the PS dense momentum apply (v = mu*v + g; w -= lr*v), ns per parameter at 1M and
// 10M floats: the scalar TypeScript loop, the rule's apply as the PS calls it (SIMD kernels through
// a chunked scratch, bit-exact), the f32 and the resident-memory kernel variants (bench/kernels/), and the C loop
// (cc -O3 -march=native) as reference; a Float32Array.set copy as the memory reference.
// All figures are minimums over repetitions: the machine is shared, and the minimum is the
// run least disturbed by other work, for both sides of each ratio alike.
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import { simdAvailable } from '../shared/kernels/momentum-simd.ts';
import { ResidentDense, applyChunked, plainLoop, type KernelParams as UpdateParams } from './kernels/variants.ts';
import { figure, progress, randomF32, timeSync, type Quantity } from './lib/figures.ts';
import { runNative } from './native.ts';

const SIZES = [{ label: '1M', n: 1_000_000, reps: 25 }, { label: '10M', n: 10_000_000, reps: 7 }];
const TARGET = '<= 2x the C loop (ratio <= 2)';
const within2x = (r: number) => r <= 2;

function nsPerParam(fn: () => void, n: number, reps: number): number {
  return (timeSync(fn, reps, 2).minMs * 1e6) / n;
}

export async function benchDense(): Promise<void> {
  if (!simdAvailable()) progress('WebAssembly SIMD is not available: the SIMD figures are skipped');
  for (const { label, n, reps } of SIZES) {
    progress(`dense apply at ${label} floats`);
    const w = randomF32(n, 1);
    const slot = new Float32Array(n);
    const g = randomF32(n, 2);
    const q = (name: string, value: number): Quantity => ({ name: `${name}.${label}`, value, unit: 'ns/param' });
    const results: Record<string, number> = {};
    for (const rule of ['momentum', 'nesterov'] as const) {
      const p: UpdateParams = { rule, lr: 0.01, mu: 0.9, eps: 1e-8 };
      // Alternate implementations in one pass so machine load drifts affect all alike.
      const { hp } = resolveRule(rule, { lr: 0.01, mu: 0.9 }, 'bench');
      const ps = UPDATE_RULES[rule];
      results[`${rule}.ts-loop`] = nsPerParam(() => plainLoop(p, w, slot, 0, g, 0, n, 1), n, reps);
      results[`${rule}.applyUpdate`] = nsPerParam(() => ps.apply(w, slot, 0, g, 0, n, 1, 1, hp), n, reps);
      if (simdAvailable()) {
        results[`${rule}.simd-f32`] = nsPerParam(() => applyChunked(p, w, slot, 0, g, 0, n, 1, false), n, reps);
      }
    }
    const copyDst = new Float32Array(n);
    results.copy = nsPerParam(() => copyDst.set(g), n, reps);
    if (simdAvailable()) {
      const r = new ResidentDense(n);
      r.weights.set(w);
      const p: UpdateParams = { rule: 'momentum', lr: 0.01, mu: 0.9, eps: 1e-8 };
      results['momentum.resident-exact'] = nsPerParam(() => r.apply(p, g, 1), n, reps);
      results['momentum.resident-f32'] = nsPerParam(() => r.apply(p, g, 1, false), n, reps);
    }
    const c = { momentum: runNative(n, reps, 'momentum'), nesterov: runNative(n, reps, 'nesterov'), copy: runNative(n, reps, 'copy') };
    const copyRef = q('dense.copy.Float32Array.set', results.copy);

    for (const rule of ['momentum', 'nesterov'] as const) {
      const cRef = c[rule] === null ? null : q(`dense.${rule}.c-O3-native`, c[rule]!);
      const ref = cRef ?? copyRef;
      const noC = cRef ? undefined : 'no C compiler: held against the Float32Array.set copy instead';
      figure(q(`dense.${rule}.ts-loop`, results[`${rule}.ts-loop`]), ref, { note: noC ?? 'the scalar loop (bench/kernels/variants.ts plainLoop)' });
      if (!simdAvailable()) continue;
      figure(q(`dense.${rule}.applyUpdate-simd`, results[`${rule}.applyUpdate`]), ref, {
        target: TARGET, check: within2x,
        note: 'what the PS runs (UPDATE_RULES[rule].apply): exact f64x2 kernel (bit-identical to the scalar loop), arrays streamed through a 3x64 KiB wasm scratch',
      });
      figure(q(`dense.${rule}.simd-f32-chunked`, results[`${rule}.simd-f32`]), ref, {
        target: TARGET, check: within2x, note: 'f32x4 math (a few ulp from the scalar loop), same chunked copies',
      });
      figure(q(`dense.${rule}.applyUpdate-simd`, results[`${rule}.applyUpdate`]), q(`dense.${rule}.ts-loop`, results[`${rule}.ts-loop`]), {
        note: 'speed-up of the PS path over the scalar loop (ratio < 1 = faster)',
      });
    }
    if (simdAvailable()) {
      const cRef = c.momentum === null ? copyRef : q('dense.momentum.c-O3-native', c.momentum);
      figure(q('dense.momentum.resident-exact', results['momentum.resident-exact']), cRef, {
        target: TARGET, check: within2x, note: 'weights+slot live in wasm memory; only g is copied in; exact f64x2 math',
      });
      figure(q('dense.momentum.resident-f32', results['momentum.resident-f32']), cRef, {
        target: TARGET, check: within2x, note: 'weights+slot live in wasm memory; only g is copied in; f32x4 math',
      });
    }
    if (c.momentum !== null) {
      figure(q('dense.momentum.c-O3-native', c.momentum), copyRef, { note: 'how far the C loop is from a plain copy (memory reference)' });
      figure(q('dense.copy.c-memcpy', c.copy!), copyRef, { note: 'memcpy vs Float32Array.set' });
    }
  }
}
