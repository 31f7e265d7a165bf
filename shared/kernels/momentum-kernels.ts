// The optimizer kernels as WebAssembly SIMD function bodies. All take
//   (bytes: length in bytes, a multiple of STEP_FLOATS*4; lr, mu, scale, eps: f64)
// and work on three regions (w, slot, g) at byte addresses fixed when the module is emitted:
// they go into the memarg offsets, so the loop has one index and no address arithmetic
// (that arithmetic cost more than the math when the addresses were parameters).
// The exact family: f32 values are promoted to f64 lanes (2 per op), the math runs in double
// in the same order as the TypeScript loops in shared/update-rules/ (momentum, nesterov,
// adagrad), and the results are rounded to f32 on store. JavaScript computes
// `mu * slot[i] + scale * g[i]` in double and rounds only when it stores, so this gives
// bit-identical results: same IEEE operations, same order. (The f32x4 family, a few ulp off,
// lost nothing but exactness and lives in bench/kernels/ for the comparison.)
import { F64, I32, V128, ins, op, simd, type FuncDef } from './wasm-bytes.ts';

export type KernelRule = 'momentum' | 'nesterov' | 'adagrad';

/** Floats per loop iteration; the wrapper pads lengths to a multiple of this. */
export const STEP_FLOATS = 8;

/** Byte addresses of the three regions in the module's memory. */
export interface KernelLayout { w: number; s: number; g: number }

// Parameter and local indices.
const BYTES = 0, LR = 1, MU = 2, SC = 3, EPS = 4;
const I = 5, VLR = 6, VMU = 7, VSC = 8, VEPS = 9, V = 10, GI = 11;

const W = 'w', S = 's', G = 'g';
export type Region = typeof W | typeof S | typeof G;
export const f = (code: number) => ins.simd(code);
export const PARAMS = [I32, F64, F64, F64, F64];
export const LOCALS = [I32, V128, V128, V128, V128, V128, V128];
/** Local indices inside a kernel body, for kernels defined elsewhere (bench/kernels/). */
export const LOCAL = { I, VLR, VMU, VSC, VEPS, V, GI } as const;

/** Shared loop: splat the scalars, then `body(offset)` for each sub-step of the iteration. */
export function loopBody(stepBytes: number, subBytes: number, splat: number[], sub: (off: number) => number[]): number[] {
  const init = [
    ...ins.get(LR), ...splat, ...ins.set(VLR), ...ins.get(MU), ...splat, ...ins.set(VMU),
    ...ins.get(SC), ...splat, ...ins.set(VSC), ...ins.get(EPS), ...splat, ...ins.set(VEPS),
  ];
  const steps: number[] = [];
  for (let off = 0; off < stepBytes; off += subBytes) steps.push(...sub(off));
  return [
    ...init,
    op.block, op.void, op.loop, op.void,
    ...ins.get(I), ...ins.get(BYTES), op.i32GeU, op.brIf, 1,
    ...steps,
    ...ins.get(I), ...ins.i32(stepBytes), op.i32Add, ...ins.set(I),
    op.br, 0, op.end, op.end,
  ];
}

// exact family: 2 floats per sub-step, loaded as 64 bits and promoted to f64x2.
const load2 = (L: KernelLayout, r: Region, off: number) => [...ins.get(I), ...ins.mem(simd.load64Zero, 3, L[r] + off), ...f(simd.f64x2PromoteLowF32x4)];
const store2 = (L: KernelLayout, r: Region, off: number, value: number[]) =>
  [...ins.get(I), ...value, ...f(simd.f32x4DemoteF64x2Zero), ...ins.lane(simd.store64Lane, 3, L[r] + off, 0)];

function exactStep(L: KernelLayout, rule: KernelRule, off: number): number[] {
  // gi = scale * g
  const gi = [...ins.get(VSC), ...load2(L, G, off), ...f(simd.f64x2Mul), ...ins.set(GI)];
  if (rule === 'adagrad') {
    return [
      ...gi,
      // a = s + gi*gi  (kept in V, unrounded, as the scalar loop keeps it in a double)
      ...load2(L, S, off), ...ins.get(GI), ...ins.get(GI), ...f(simd.f64x2Mul), ...f(simd.f64x2Add), ...ins.set(V),
      ...store2(L, S, off, ins.get(V)),
      // w = w - (lr*gi) / (sqrt(a) + eps)
      ...store2(L, W, off, [...load2(L, W, off), ...ins.get(VLR), ...ins.get(GI), ...f(simd.f64x2Mul),
        ...ins.get(V), ...f(simd.f64x2Sqrt), ...ins.get(VEPS), ...f(simd.f64x2Add), ...f(simd.f64x2Div), ...f(simd.f64x2Sub)]),
    ];
  }
  // v = mu*s + gi
  const v = [...ins.get(VMU), ...load2(L, S, off), ...f(simd.f64x2Mul), ...ins.get(GI), ...f(simd.f64x2Add), ...ins.set(V)];
  // classic: w - lr*v;  nesterov: w - lr*(gi + mu*v)
  const step = rule === 'momentum'
    ? [...ins.get(VLR), ...ins.get(V), ...f(simd.f64x2Mul)]
    : [...ins.get(VLR), ...ins.get(GI), ...ins.get(VMU), ...ins.get(V), ...f(simd.f64x2Mul), ...f(simd.f64x2Add), ...f(simd.f64x2Mul)];
  return [...gi, ...v, ...store2(L, S, off, ins.get(V)), ...store2(L, W, off, [...load2(L, W, off), ...step, ...f(simd.f64x2Sub)])];
}

export const KERNEL_RULES: KernelRule[] = ['momentum', 'nesterov', 'adagrad'];

/** Exported functions, named `<rule>`: the exact kernels. */
export function kernelFuncs(layout: KernelLayout): FuncDef[] {
  return KERNEL_RULES.map((rule) => ({
    name: rule, params: PARAMS, locals: LOCALS,
    body: loopBody(STEP_FLOATS * 4, 8, f(simd.f64x2Splat), (off) => exactStep(layout, rule, off)),
  }));
}
