// The WebAssembly SIMD kernels against the rules' scalar loops. Both round every operation to
// f32 in the same order (the kernels in f32x4 lanes, the loops with Math.fround), so they must
// match bit for bit (no tolerance), on heap arrays streamed through the scratch memory and on
// tensors resident in wasm memory. The exact kernels (bench/kernels/, used only by the
// benchmark) compute in double and round only on store: each f32 step's error is half an ulp of
// its operands, so the bound between the two is a few ulp of the largest operand (|values| <= 3
// here, and mu*v + g can cancel, so the bound is absolute, not relative to the result).
import t from 'tap';
import { KERNEL, CHUNK_FLOATS, SIMD_MIN_FLOATS, applyUpdateSimd, simdAvailable } from '../../shared/kernels/momentum-simd.ts';
import { UPDATE_RULES, resolveRule } from '../../shared/update-rules/registry.ts';
import { residentTensors } from '../../shared/kernels/resident-dense.ts';
import { ResidentDense, applyChunked, plainLoop, type KernelParams } from '../../bench/kernels/variants.ts';

const RULES = ['momentum', 'nesterov', 'adagrad'] as const;
type Rule = (typeof RULES)[number];

/** The rule's own plain loop over any n: pieces shorter than SIMD_MIN_FLOATS never take the kernel
 *  (a one-slot rule's slots sit at the weights' offsets, so pieces give the same result). */
function ruleLoop(rule: Rule, lr: number, w: Float32Array, s: Float32Array, off: number, g: Float32Array, gOff: number, n: number, scale: number): void {
  const { hp } = resolveRule(rule, { lr, mu: 0.9 }, 'test');
  const piece = SIMD_MIN_FLOATS - 1;
  for (let d = 0; d < n; d += piece) UPDATE_RULES[rule].apply(w, s, off + d, g, gOff + d, Math.min(piece, n - d), scale, 1, hp);
}

function rand(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function fill(n: number, seed: number, positive = false): Float32Array {
  const r = rand(seed);
  return Float32Array.from({ length: n }, () => (positive ? r() : r() * 2 - 1) * 3);
}

/** Indices where a and b differ bitwise (NaN = NaN counts as equal). */
function diffs(a: Float32Array, b: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

t.test('WebAssembly SIMD is available in this Node', async (t) => {
  t.ok(simdAvailable());
});

// Lengths around the 8-float step, the chunk size, and offsets not multiples of 4.
const CASES = [
  { n: 1, wOff: 0, gOff: 0 }, { n: 3, wOff: 1, gOff: 2 }, { n: 7, wOff: 5, gOff: 0 },
  { n: 8, wOff: 0, gOff: 3 }, { n: 13, wOff: 3, gOff: 1 }, { n: 257, wOff: 7, gOff: 9 },
  { n: CHUNK_FLOATS - 1, wOff: 2, gOff: 1 }, { n: CHUNK_FLOATS + 5, wOff: 1, gOff: 3 },
  { n: 2 * CHUNK_FLOATS + 3, wOff: 0, gOff: 6 },
];

for (const rule of RULES) {
  t.test(`${rule}: the kernel equals the scalar loop bit for bit`, async (t) => {
    for (const c of CASES) {
      const len = c.wOff + c.n + 4;
      const w0 = fill(len, 1 + c.n), s0 = fill(len, 2 + c.n, rule === 'adagrad'), g = fill(c.gOff + c.n + 2, 3 + c.n);
      const [w1, s1, w2, s2] = [w0.slice(), s0.slice(), w0.slice(), s0.slice()];
      // Three steps, with a staleness-like scale, so the slot carries state between them.
      for (const scale of [1, 0.5, 0.3]) {
        ruleLoop(rule, 0.037, w1, s1, c.wOff, g, c.gOff, c.n, scale);
        t.ok(applyUpdateSimd(KERNEL[rule], 0.037, 0.9, 1e-8, w2, s2, c.wOff, g, c.gOff, c.n, scale));
      }
      t.same(diffs(w1, w2), [], `weights, n=${c.n} wOff=${c.wOff} gOff=${c.gOff}`);
      t.same(diffs(s1, s2), [], `slot, n=${c.n} wOff=${c.wOff} gOff=${c.gOff}`);
      // Floats outside [wOff, wOff+n) are untouched.
      t.equal(w2[c.wOff + c.n], w0[c.wOff + c.n]);
      if (c.wOff > 0) t.equal(w2[c.wOff - 1], w0[c.wOff - 1]);
    }
  });

  t.test(`${rule}: the exact kernel (bench only) within a few ulp of the scalar loop`, async (t) => {
    const p: KernelParams = { rule, lr: 0.037, mu: 0.9, eps: 1e-8 };
    const n = 1001;
    const w1 = fill(n, 5), s1 = fill(n, 6, rule === 'adagrad'), g = fill(n, 7);
    const w2 = w1.slice(), s2 = s1.slice();
    ruleLoop(rule, 0.037, w1, s1, 0, g, 0, n, 1);
    applyChunked(p, w2, s2, 0, g, 0, n, 1, true);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(w1[i] - w2[i]), Math.abs(s1[i] - s2[i]));
    // 4 ulp of the largest operand (~6 for g + 0.9*v, i.e. ulp 2^-21 = 4.8e-7): 1.9e-6.
    t.ok(worst <= 4 * 2 ** -21, `worst absolute difference ${worst.toExponential(2)}`);
  });
}

for (const rule of RULES) {
  t.test(`${rule}: resident tensors give the same bits as the scalar loop, each in its own regions`, async (t) => {
    // Sizes around the 8-float step, so padded tails sit between the tensors.
    const sizes = [SIMD_MIN_FLOATS, SIMD_MIN_FLOATS + 5, 1003];
    const set = residentTensors(rule, sizes);
    if (!set) { t.fail('no resident set although SIMD is available'); return; }
    const { hp } = resolveRule(rule, { lr: 0.037, mu: 0.9 }, 'test');
    for (const [i, n] of sizes.entries()) {
      const r = set[i];
      t.equal(r.weights.length, n);
      const w = fill(n, 30 + i), s = fill(n, 40 + i, rule === 'adagrad'), g = fill(n, 50 + i);
      r.weights.set(w); r.slot.set(s);
      for (const scale of [1, 0.5, 0.3]) {
        ruleLoop(rule, 0.037, w, s, 0, g, 0, n, scale);
        r.grad.set(g);
        r.apply(UPDATE_RULES[rule].kernelArgs!(scale, 1, hp));
      }
      t.same(diffs(w, r.weights), [], `weights of tensor ${i} (${n} floats)`);
      t.same(diffs(s, r.slot), [], `slot of tensor ${i}`);
    }
    // A step of one tensor leaves the others as they were.
    const before = set[0].weights.slice();
    set[1].grad.fill(1);
    set[1].apply(UPDATE_RULES[rule].kernelArgs!(1, 1, hp));
    t.same(diffs(before, set[0].weights), []);
  });
}

t.test('resident dense tensors with the exact kernel (bench only) give the f64 loop\'s bits', async (t) => {
  const n = 1003;
  const p: KernelParams = { rule: 'nesterov', lr: 0.01, mu: 0.9, eps: 1e-8 };
  const r = new ResidentDense(n);
  const w = fill(n, 11), g = fill(n, 12);
  r.weights.set(w);
  const s = new Float32Array(n);
  for (let k = 0; k < 3; k++) {
    plainLoop(p, w, s, 0, g, 0, n, 1);
    r.apply(p, g, 1);
  }
  t.same(diffs(w, r.weights), []);
  t.same(diffs(s, r.slot), []);
});

t.test('the rules take the SIMD path from SIMD_MIN_FLOATS on, with the same results', async (t) => {
  const n = SIMD_MIN_FLOATS + 3;
  const { hp } = resolveRule('momentum', { lr: 0.1, mu: 0.9 }, 'test');
  const w1 = fill(n, 21), s1 = new Float32Array(n), g = fill(n, 22);
  const w2 = w1.slice(), s2 = s1.slice();
  UPDATE_RULES.momentum.apply(w1, s1, 0, g, 0, n, 1, 1, hp);
  ruleLoop('momentum', 0.1, w2, s2, 0, g, 0, n, 1);
  t.same(diffs(w1, w2), []);
  // Worked by hand for one float: v = 0.9*0 + g; w -= 0.1*v.
  const w = new Float32Array(n).fill(1), v = new Float32Array(n), gg = new Float32Array(n).fill(0.5);
  UPDATE_RULES.momentum.apply(w, v, 0, gg, 0, n, 1, 1, hp);
  t.equal(v[n - 1], 0.5);
  // 0.1 is rounded to f32 first, then each operation.
  t.equal(w[n - 1], Math.fround(1 - Math.fround(Math.fround(0.1) * 0.5)));
});
