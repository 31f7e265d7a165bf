// Figure 1b: which dense-update implementation belongs in the PS path, at the shapes the PS
// applies: the default CTR model's dense tensors (8x64 = 512, 64x32 = 2048, 64-float biases;
// ~5k floats per step in all), 1M floats, and sparse rows of dim 8 and 16 (one call per row).
// For momentum and Adagrad (the rules with kernels): the plain loop, the loop unrolled by four,
// the f32 SIMD kernel through the chunked scratch (forced, at every size), the rule's apply on
// heap arrays (kernel from SIMD_MIN_FLOATS on, loop below), the wasm-resident tensor (what the
// Updater keeps from SIMD_MIN_FLOATS on) and, bench-only, the exact (double-lane) kernel. Each variant is timed in alternation with the others so
// that load drifts hit all alike; each rep times enough calls for ~2M floats. Figures: the
// median ns/param of the reps (with min and max) against the plain loop (ratio < 1 = faster).
import { KERNEL, SIMD_MIN_FLOATS, applyUpdateSimd, simdAvailable } from '../shared/kernels/momentum-simd.ts';
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import { ResidentDense, applyChunked, plainLoop, unrolledMomentum, type KernelParams } from './kernels/variants.ts';
import { figure, progress, randomF32, sampled } from './lib/figures.ts';

const REPS = 9;
const WARMUP = 2;
const FLOATS_PER_REP = 2_000_000;
const DENSE = [64, 512, 2048, 1_000_000];
const ROW_DIMS = [8, 16];
const ARENA_ROWS = 65536;

type Variant = [name: string, fn: () => void];

/** ns per float of each variant: REPS reps (after WARMUP), round-robin over the variants. */
function measure(variants: Variant[], floatsPerCall: number): Map<string, number[]> {
  const calls = Math.max(1, Math.round(FLOATS_PER_REP / floatsPerCall));
  const out = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (let rep = 0; rep < WARMUP + REPS; rep++) {
    for (const [name, fn] of variants) {
      const t0 = performance.now();
      for (let c = 0; c < calls; c++) fn();
      const ns = ((performance.now() - t0) * 1e6) / (calls * floatsPerCall);
      if (rep >= WARMUP) out.get(name)!.push(ns);
    }
  }
  return out;
}

function report(prefix: string, res: Map<string, number[]>, note: string): void {
  const ref = res.get('plain-loop')!;
  const q = (name: string, xs: number[]) => sampled(`${prefix}.${name}`, 'ns/param', xs);
  for (const [name, xs] of res) {
    if (name === 'plain-loop') continue;
    figure(q(name, xs), q('plain-loop', ref), { note });
  }
}

export async function benchKernels(): Promise<void> {
  const simd = simdAvailable();
  if (!simd) progress('WebAssembly SIMD is not available: the kernel variants are skipped');
  for (const rule of ['momentum', 'adagrad'] as const) {
    const p: KernelParams = { rule, lr: 0.01, mu: 0.9, eps: 1e-8 };
    const { hp } = resolveRule(rule, { lr: 0.01, mu: 0.9 }, 'bench');
    const ps = UPDATE_RULES[rule];
    for (const n of DENSE) {
      progress(`kernels: ${rule}, dense ${n} floats`);
      const w = randomF32(n, 1), s = new Float32Array(n), g = randomF32(n, 2);
      // Gradients small enough that 100k+ steps leave the values finite and normal.
      for (let i = 0; i < n; i++) g[i] *= 1e-3;
      const variants: Variant[] = [
        ['plain-loop', () => plainLoop(p, w, s, 0, g, 0, n, 1)],
        ['rule-apply', () => ps.apply(w, s, 0, g, 0, n, 1, 1, hp)],
      ];
      if (rule === 'momentum') variants.push(['unrolled-4', () => unrolledMomentum(p, w, s, 0, g, 0, n, 1)]);
      if (simd) {
        const r = new ResidentDense(n);
        variants.push(
          ['simd-chunked', () => applyUpdateSimd(KERNEL[rule], p.lr, p.mu, p.eps, w, s, 0, g, 0, n, 1)],
          ['simd-exact-chunked', () => applyChunked(p, w, s, 0, g, 0, n, 1, true)],
          ['resident', () => r.apply(p, g, 1, false)],
          ['resident-exact', () => r.apply(p, g, 1)],
        );
      }
      const where = n >= SIMD_MIN_FLOATS ? 'kernel' : 'loop';
      report(`kernels.${rule}.dense${n}`, measure(variants, n), `rule-apply = the rule on heap arrays (${where} at this size); the PS keeps tensors of SIMD_MIN_FLOATS (${SIMD_MIN_FLOATS}) or more resident`);
    }
    for (const dim of ROW_DIMS) {
      progress(`kernels: ${rule}, sparse rows of dim ${dim}`);
      const w = randomF32(ARENA_ROWS * dim, 3), s = new Float32Array(ARENA_ROWS * dim), g = randomF32(8000 * dim, 4);
      for (let i = 0; i < g.length; i++) g[i] *= 1e-3;
      // 8,000 rows per push at scattered arena offsets, one call per row as the Updater makes them.
      const at = Int32Array.from({ length: 8000 }, (_, i) => ((i * 40503) % ARENA_ROWS) * dim);
      const rows = (fn: (off: number, gOff: number) => void) => () => { for (let i = 0; i < at.length; i++) fn(at[i], i * dim); };
      const variants: Variant[] = [
        ['plain-loop', rows((o, go) => plainLoop(p, w, s, o, g, go, dim, 1))],
        ['rule-apply', rows((o, go) => ps.apply(w, s, o, g, go, dim, 1, 1, hp))],
      ];
      if (rule === 'momentum') variants.push(['unrolled-4', rows((o, go) => unrolledMomentum(p, w, s, o, g, go, dim, 1))]);
      if (simd) variants.push(['simd-per-row', rows((o, go) => applyUpdateSimd(KERNEL[rule], p.lr, p.mu, p.eps, w, s, o, g, go, dim, 1))]);
      report(`kernels.${rule}.rows-dim${dim}`, measure(variants, 8000 * dim), 'one call per row, 8000 rows');
    }
  }
}
