// The optimizer kernel variants that lost their place in the PS path (bench/kernels.ts measures
// them against the plain loop and the exact kernel that stays in shared/kernels/):
// - f32: f32x4 lanes throughout (4 per op). Faster to compute, but rounds every intermediate
//   to f32, so it differs from the scalar loop by an ulp or so: the PS keeps exact results.
// - resident: weights and slot live in a wasm memory of their own, only g is copied in. The PS
//   would have to allocate its dense tensors there (and give up plain Float32Array state).
// - unrolled: the TypeScript loop four floats per iteration.
import { LOCAL, LOCALS, PARAMS, STEP_FLOATS, f, loopBody, type KernelLayout, type KernelRule, type Region } from '../../shared/kernels/momentum-kernels.ts';
import { CHUNK_FLOATS, SimdKernels, compileKernels, padToStep, type KernelFn } from '../../shared/kernels/momentum-simd.ts';
import { ins, simd, type FuncDef } from '../../shared/kernels/wasm-bytes.ts';

const { I, VLR, VMU, VSC, VEPS, V, GI } = LOCAL;
const W: Region = 'w', S: Region = 's', G: Region = 'g';
const F32_DEMOTE_F64 = 0xb6;
const RULES: KernelRule[] = ['momentum', 'nesterov', 'adagrad'];

export interface KernelParams { rule: KernelRule; lr: number; mu: number; eps: number }

const load4 = (L: KernelLayout, r: Region, off: number) => [...ins.get(I), ...ins.mem(simd.v128Load, 2, L[r] + off)];
const store4 = (L: KernelLayout, r: Region, off: number, value: number[]) => [...ins.get(I), ...value, ...ins.mem(simd.v128Store, 2, L[r] + off)];

function f32Step(L: KernelLayout, rule: KernelRule, off: number): number[] {
  const gi = [...ins.get(VSC), ...load4(L, G, off), ...f(simd.f32x4Mul), ...ins.set(GI)];
  if (rule === 'adagrad') {
    return [
      ...gi,
      ...load4(L, S, off), ...ins.get(GI), ...ins.get(GI), ...f(simd.f32x4Mul), ...f(simd.f32x4Add), ...ins.set(V),
      ...store4(L, S, off, ins.get(V)),
      ...store4(L, W, off, [...load4(L, W, off), ...ins.get(VLR), ...ins.get(GI), ...f(simd.f32x4Mul),
        ...ins.get(V), ...f(simd.f32x4Sqrt), ...ins.get(VEPS), ...f(simd.f32x4Add), ...f(simd.f32x4Div), ...f(simd.f32x4Sub)]),
    ];
  }
  const v = [...ins.get(VMU), ...load4(L, S, off), ...f(simd.f32x4Mul), ...ins.get(GI), ...f(simd.f32x4Add), ...ins.set(V)];
  const step = rule === 'momentum'
    ? [...ins.get(VLR), ...ins.get(V), ...f(simd.f32x4Mul)]
    : [...ins.get(VLR), ...ins.get(GI), ...ins.get(VMU), ...ins.get(V), ...f(simd.f32x4Mul), ...f(simd.f32x4Add), ...f(simd.f32x4Mul)];
  return [...gi, ...v, ...store4(L, S, off, ins.get(V)), ...store4(L, W, off, [...load4(L, W, off), ...step, ...f(simd.f32x4Sub)])];
}

/** The f32 kernels, named `<rule>_f32`, next to the exact ones. */
export function f32Funcs(layout: KernelLayout): FuncDef[] {
  return RULES.map((rule) => ({
    name: `${rule}_f32`, params: PARAMS, locals: LOCALS,
    body: loopBody(STEP_FLOATS * 4, 16, [F32_DEMOTE_F64, ...f(simd.f32x4Splat)], (off) => f32Step(layout, rule, off)),
  }));
}

function kernelsFor(floats: number): SimdKernels {
  const m = compileKernels(floats, f32Funcs);
  if (!m) throw new Error('WebAssembly SIMD is not available');
  return new SimdKernels(m, padToStep(floats));
}

const run = (k: SimdKernels, p: KernelParams, n: number, scale: number, exact: boolean) =>
  (k.fn(exact ? p.rule : `${p.rule}_f32`) as KernelFn)(padToStep(n) * 4, p.lr, p.mu, scale, p.eps);

let scratch: SimdKernels | undefined;

/** The chunked path of shared/kernels/momentum-simd.ts with the f32 (or exact) kernels. */
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

/** The plain loops as the rules ran them before the registry (momentum, nesterov, adagrad). */
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
