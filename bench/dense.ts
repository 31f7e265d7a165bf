// Figure 1: the PS dense momentum apply (v = mu*v + g; w -= lr*v), ns per parameter at 1M and
// 10M floats: the scalar TypeScript loop in double, what the PS runs (Updater.apply on one dense
// tensor: the gradient copied into wasm memory, the f32x4 kernel on the resident tensor), the
// rule's apply on heap arrays (the same kernel through a chunked scratch), the exact kernel
// (double lanes, bench/kernels/), and the C loop (cc -O3 -march=native) as reference; a
// Float32Array.set copy as the memory reference.
// Each figure is the median of its repetitions (25 at 1M, 9 at 10M) with their min and max,
// each implementation's repetitions in a row after two warm-up calls, as the C loop runs them:
// at 1M floats the arrays fit in the last-level cache, and the figures are of that case.
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import { Updater } from '../shared/update-rules/updater.ts';
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
      if (simdAvailable()) impls.push([`${rule}.chunked`, () => ps.apply(w, slot, 0, g, 0, n, 1, 1, hp)]);
      const up = new Updater({ model: 'bench', seed: 1, dense: [{ name: 'd', shape: [n], init: { kind: 'zeros' } }], tables: [] },
        { learningRate: 0.01, momentum: 0.9, nesterov: rule === 'nesterov', clipNorm: 0 });
      if (simdAvailable() && !up.dense.get('d')!.resident) throw new Error(`the Updater did not keep a ${label} tensor resident`);
      const push = { dense: [{ name: 'd', values: g }], sparse: [] };
      impls.push([`${rule}.updater`, () => up.apply(push, 1)]);
    }
    const copyDst = new Float32Array(n);
    impls.push(['copy', () => copyDst.set(g)]);
    if (simdAvailable()) {
      const r = new ResidentDense(n);
      r.weights.set(w);
      const p: UpdateParams = { rule: 'momentum', lr: 0.01, mu: 0.9, eps: 1e-8 };
      impls.push(['momentum.resident-exact', () => r.apply(p, g, 1)]);
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
      const loop = q(`dense.${rule}.ts-loop`, `${rule}.ts-loop`);
      figure(loop, ref, { note: noC ?? 'the scalar loop in double (bench/kernels/variants.ts plainLoop)' });
      const updater = q(`dense.${rule}.ps-updater`, `${rule}.updater`);
      figure(updater, ref, {
        target: TARGET, check: within2x,
        note: simdAvailable()
          ? 'what the PS runs (Updater.apply): the gradient copied into wasm memory, the f32x4 kernel on the resident tensor (same bits as the rule\'s f32 loop)'
          : 'what the PS runs (Updater.apply): no WebAssembly SIMD here, so the f32 loop',
      });
      figure(updater, loop, { note: 'speed-up of the PS path over the scalar loop (ratio < 1 = faster)' });
      if (!simdAvailable()) continue;
      figure(q(`dense.${rule}.chunked-heap-arrays`, `${rule}.chunked`), ref, {
        note: 'the same kernel on heap arrays streamed through a 3x64 KiB wasm scratch (the rule\'s apply on tensors that are not resident)',
      });
    }
    if (simdAvailable()) {
      const cRef = c.momentum === null ? copyRef : native('dense.momentum.c-O3-native', c.momentum);
      figure(q('dense.momentum.resident-exact', 'momentum.resident-exact'), cRef, {
        note: 'resident, with the exact kernel (double lanes, rounded on store; the PS path before): what f32 math gains',
      });
    }
    if (c.momentum !== null) {
      figure(native('dense.momentum.c-O3-native', c.momentum), copyRef, { note: 'how far the C loop is from a plain copy (memory reference)' });
      figure(native('dense.copy.c-memcpy', c.copy!), copyRef, { note: 'memcpy vs Float32Array.set' });
    }
  }
}
