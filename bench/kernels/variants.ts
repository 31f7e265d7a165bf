// The optimizer kernel variants that lost their place in the PS path (bench/kernels.ts measures
// them against the plain loop and the f32 kernels that ship in shared/kernels/):
// - exact: f32 values promoted to f64x2 lanes (2 per op), the math in double, rounded to f32
//   only on store: bit-identical to a plain f64 loop, and 2-6x slower than C where f32 is
//   within 2x (bench/dense.ts). The PS ran it until f32 math measured faster.
// - resident: weights and slot live in a wasm memory of their own, only g is copied in (the
//   Updater now keeps its large dense tensors so: shared/kernels/resident-dense.ts).
// - unrolled: the TypeScript loop four floats per iteration.
import { LOCAL, LOCALS, PARAMS, STEP_FLOATS, f, loopBody, type KernelLayout, type KernelRule, type Region } from '../../shared/kernels/momentum-kernels.ts';
import { CHUNK_FLOATS, SimdKernels, compileKernels, padToStep, type KernelFn } from '../../shared/kernels/momentum-simd.ts';
import { ins, simd, type FuncDef } from '../../shared/kernels/wasm-bytes.ts';

const { I, VLR, VMU, VSC, VEPS, V, GI } = LOCAL;
const W: Region = 'w', S: Region = 's', G: Region = 'g';
const RULES: KernelRule[] = ['momentum', 'nesterov', 'adagrad'];

export interface KernelParams { rule: KernelRule; lr: number; mu: number; eps: number }

// 2 floats per sub-step, loaded as 64 bits and promoted to f64x2.
const load2 = (L: KernelLayout, r: Region, off: number) => [...ins.get(I), ...ins.mem(simd.load64Zero, 3, L[r] + off), ...f(simd.f64x2PromoteLowF32x4)];
const store2 = (L: KernelLayout, r: Region, off: number, value: number[]) =>
  [...ins.get(I), ...value, ...f(simd.f32x4DemoteF64x2Zero), ...ins.lane(simd.store64Lane, 3, L[r] + off, 0)];

function exactStep(L: KernelLayout, rule: KernelRule, off: number): number[] {
  const gi = [...ins.get(VSC), ...load2(L, G, off), ...f(simd.f64x2Mul), ...ins.set(GI)];
  if (rule === 'adagrad') {
    return [
      ...gi,
      ...load2(L, S, off), ...ins.get(GI), ...ins.get(GI), ...f(simd.f64x2Mul), ...f(simd.f64x2Add), ...ins.set(V),
      ...store2(L, S, off, ins.get(V)),
      ...store2(L, W, off, [...load2(L, W, off), ...ins.get(VLR), ...ins.get(GI), ...f(simd.f64x2Mul),
        ...ins.get(V), ...f(simd.f64x2Sqrt), ...ins.get(VEPS), ...f(simd.f64x2Add), ...f(simd.f64x2Div), ...f(simd.f64x2Sub)]),
    ];
  }
  const v = [...ins.get(VMU), ...load2(L, S, off), ...f(simd.f64x2Mul), ...ins.get(GI), ...f(simd.f64x2Add), ...ins.set(V)];
  const step = rule === 'momentum'
    ? [...ins.get(VLR), ...ins.get(V), ...f(simd.f64x2Mul)]
    : [...ins.get(VLR), ...ins.get(GI), ...ins.get(VMU), ...ins.get(V), ...f(simd.f64x2Mul), ...f(simd.f64x2Add), ...f(simd.f64x2Mul)];
  return [...gi, ...v, ...store2(L, S, off, ins.get(V)), ...store2(L, W, off, [...load2(L, W, off), ...step, ...f(simd.f64x2Sub)])];
}

/** The exact kernels, named `<rule>_exact`, next to the shipped f32 ones. */
export function exactFuncs(layout: KernelLayout): FuncDef[] {
  return RULES.map((rule) => ({
    name: `${rule}_exact`, params: PARAMS, locals: LOCALS,
    body: loopBody(STEP_FLOATS * 4, 8, f(simd.f64x2Splat), (off) => exactStep(layout, rule, off)),
  }));
}

function kernelsFor(floats: number): SimdKernels {
  const m = compileKernels(floats, exactFuncs);
  if (!m) throw new Error('WebAssembly SIMD is not available');
  return new SimdKernels(m, padToStep(floats));
}

const run = (k: SimdKernels, p: KernelParams, n: number, scale: number, exact: boolean) =>
  (k.fn(exact ? `${p.rule}_exact` : p.rule) as KernelFn)(padToStep(n) * 4, p.lr, p.mu, scale, p.eps);

let scratch: SimdKernels | undefined;

/** The chunked path of shared/kernels/momentum-simd.ts with the f32 (shipped) or the exact kernels. */
export function applyChunked(p: KernelParams, w: Float32Array, slot: Float32Array, wOff: number,
  g: Float32Array, gOff: number, n: number, scale: number, exact: boolean): void {
  const k = (scratch ??= kernelsFor(CHUNK_FLOATS));
  const heap = k.heap;
  for (let done = 0; done < n; done += CHUNK_FLOATS) {
    const m = Math.min(CHUNK_FLOATS, n - done);
    const a = wOff + done, b = gOff + done;
    heap.set(w.subarray(a, a + m), k.wAt);
    heap.set(slot.subarray(a, a + m), k.sAt);
    heap.set(g.subarray(b, b + m), k.gAt);
    run(k, p, m, scale, exact);
    w.set(heap.subarray(k.wAt, k.wAt + m), a);
    slot.set(heap.subarray(k.sAt, k.sAt + m), a);
  }
}

/** Weights, slot and a gradient buffer resident in one wasm memory of their own: no copies but the gradient's. */
export class ResidentDense {
  readonly kernels: SimdKernels;
  readonly weights: Float32Array;
  readonly slot: Float32Array;
  readonly grad: Float32Array;

  constructor(readonly n: number) {
    this.kernels = kernelsFor(n);
    const h = this.kernels.heap;
    this.weights = h.subarray(this.kernels.wAt, this.kernels.wAt + n);
    this.slot = h.subarray(this.kernels.sAt, this.kernels.sAt + n);
    this.grad = h.subarray(this.kernels.gAt, this.kernels.gAt + n);
  }

  /** Copies g into the resident gradient buffer and applies it. */
  apply(p: KernelParams, g: Float32Array, scale: number, exact = true): void {
    this.grad.set(g);
    run(this.kernels, p, this.n, scale, exact);
  }
}

/** The plain loops in double, rounded only on store, as the rules ran them before they rounded
 *  every operation to f32 (momentum, nesterov, adagrad): the scalar reference. */
export function plainLoop(p: KernelParams, w: Float32Array, s: Float32Array, off: number,
  g: Float32Array, gOff: number, n: number, scale: number): void {
  const lr = p.lr, mu = p.mu, eps = p.eps;
  if (p.rule === 'momentum') {
    for (let i = 0; i < n; i++) { const v = mu * s[off + i] + scale * g[gOff + i]; s[off + i] = v; w[off + i] -= lr * v; }
  } else if (p.rule === 'nesterov') {
    for (let i = 0; i < n; i++) { const gi = scale * g[gOff + i]; const v = mu * s[off + i] + gi; s[off + i] = v; w[off + i] -= lr * (gi + mu * v); }
  } else {
    for (let i = 0; i < n; i++) { const gi = scale * g[gOff + i]; const a = s[off + i] + gi * gi; s[off + i] = a; w[off + i] -= (lr * gi) / (Math.sqrt(a) + eps); }
  }
}

/** Momentum four floats per iteration (same operations, same order as the plain loop). */
export function unrolledMomentum(p: KernelParams, w: Float32Array, s: Float32Array, o: number,
  g: Float32Array, go: number, n: number, sc: number): void {
  const lr = p.lr, mu = p.mu;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = o + i, b = go + i;
    const v0 = mu * s[a] + sc * g[b], v1 = mu * s[a + 1] + sc * g[b + 1];
    const v2 = mu * s[a + 2] + sc * g[b + 2], v3 = mu * s[a + 3] + sc * g[b + 3];
    s[a] = v0; s[a + 1] = v1; s[a + 2] = v2; s[a + 3] = v3;
    w[a] -= lr * v0; w[a + 1] -= lr * v1; w[a + 2] -= lr * v2; w[a + 3] -= lr * v3;
  }
  for (; i < n; i++) { const v = mu * s[o + i] + sc * g[go + i]; s[o + i] = v; w[o + i] -= lr * v; }
}
