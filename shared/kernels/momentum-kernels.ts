// The optimizer kernels as WebAssembly SIMD function bodies. All take
//   (bytes: length in bytes, a multiple of STEP_FLOATS*4; lr, mu, scale, eps: f64)
// and work on three regions (w, slot, g) at byte addresses fixed when the module is emitted:
// they go into the memarg offsets, so the loop has one index and no address arithmetic
// (that arithmetic cost more than the math when the addresses were parameters).
// They compute in f32x4 lanes, every operation rounded to f32 as C's float math and tfjs do;
// the rules' scalar loops (shared/update-rules/) round every operation with Math.fround in the
// same order, so kernel and loop give the same bits (test/unit/simd-kernel.test.ts). The
// scalars arrive as f64 and are rounded to f32 once, as the loops round them. (An exact family,
// f64 lanes rounded only on store, was the PS path before: 2-6x slower than C where this one
// is within 2x; it lives in bench/kernels/ for the comparison.)
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

// 4 floats per sub-step, as f32x4. `at` names the local holding each region's address (the
// loop index for dense runs; a row's own address for sparse rows).
interface Addr { w: number; s: number; g: number }
const AT_I: Addr = { w: I, s: I, g: I };
const load4 = (L: KernelLayout, at: Addr, r: Region, off: number) => [...ins.get(at[r]), ...ins.mem(simd.v128Load, 2, L[r] + off)];
const store4 = (L: KernelLayout, at: Addr, r: Region, off: number, value: number[]) => [...ins.get(at[r]), ...value, ...ins.mem(simd.v128Store, 2, L[r] + off)];

function f32Step(L: KernelLayout, rule: KernelRule, off: number, at: Addr = AT_I): number[] {
  // gi = scale * g
  const gi = [...ins.get(VSC), ...load4(L, at, G, off), ...f(simd.f32x4Mul), ...ins.set(GI)];
  if (rule === 'adagrad') {
    return [
      ...gi,
      // a = s + gi*gi
      ...load4(L, at, S, off), ...ins.get(GI), ...ins.get(GI), ...f(simd.f32x4Mul), ...f(simd.f32x4Add), ...ins.set(V),
      ...store4(L, at, S, off, ins.get(V)),
      // w = w - (lr*gi) / (sqrt(a) + eps)
      ...store4(L, at, W, off, [...load4(L, at, W, off), ...ins.get(VLR), ...ins.get(GI), ...f(simd.f32x4Mul),
        ...ins.get(V), ...f(simd.f32x4Sqrt), ...ins.get(VEPS), ...f(simd.f32x4Add), ...f(simd.f32x4Div), ...f(simd.f32x4Sub)]),
    ];
  }
  // v = mu*s + gi
  const v = [...ins.get(VMU), ...load4(L, at, S, off), ...f(simd.f32x4Mul), ...ins.get(GI), ...f(simd.f32x4Add), ...ins.set(V)];
  // classic: w - lr*v;  nesterov: w - lr*(gi + mu*v)
  const step = rule === 'momentum'
    ? [...ins.get(VLR), ...ins.get(V), ...f(simd.f32x4Mul)]
    : [...ins.get(VLR), ...ins.get(GI), ...ins.get(VMU), ...ins.get(V), ...f(simd.f32x4Mul), ...f(simd.f32x4Add), ...f(simd.f32x4Mul)];
  return [...gi, ...v, ...store4(L, at, S, off, ins.get(V)), ...store4(L, at, W, off, [...load4(L, at, W, off), ...step, ...f(simd.f32x4Sub)])];
}

/** f64 -> f32 (f32.demote_f64), then splat: the scalars are rounded to f32 once, as the loops do. */
const F32_DEMOTE_F64 = 0xb6;
export const SPLAT_F32 = [F32_DEMOTE_F64, ...f(simd.f32x4Splat)];

/** The kernel of `rule` named `name`, over the regions of `layout`. */
export function kernelFunc(name: string, rule: KernelRule, layout: KernelLayout): FuncDef {
  return { name, params: PARAMS, locals: LOCALS, body: loopBody(STEP_FLOATS * 4, 16, SPLAT_F32, (off) => f32Step(layout, rule, off)) };
}

export const KERNEL_RULES: KernelRule[] = ['momentum', 'nesterov', 'adagrad'];

// The row kernel's extra locals: the row's address in the w and slot regions, its gradient's.
const ROW = 12, GROW = 13;

/**
 * The kernel of `rule` over sparse rows of `dim` floats (a multiple of 4): for each of the
 * `bytes`/4 entries of the row-index region `idx` (arena slots, i32), one step of that row in
 * the w and slot regions (slot s at s*dim floats in each) with its gradient, row i of region g.
 * Rows in a call must be distinct (a push's are). The same f32 operations as the dense kernel.
 */
export function rowKernelFunc(name: string, rule: KernelRule, dim: number, layout: KernelLayout & { idx: number }): FuncDef {
  if (dim % 4 !== 0 || dim <= 0) throw new Error(`row kernels take a dim that is a multiple of 4, not ${dim}`);
  const rowBytes = dim * 4;
  const at: Addr = { w: ROW, s: ROW, g: GROW };
  const perRow: number[] = [
    // row = idx[i] * rowBytes; grow = i * dim (i counts bytes of the index: 4 per row)
    ...ins.get(I), ...ins.load32(layout.idx), ...ins.i32(rowBytes), op.i32Mul, ...ins.set(ROW),
    ...ins.get(I), ...ins.i32(dim), op.i32Mul, ...ins.set(GROW),
  ];
  for (let off = 0; off < rowBytes; off += 16) perRow.push(...f32Step(layout, rule, off, at));
  return { name, params: PARAMS, locals: [...LOCALS, I32, I32], body: loopBody(4, 4, SPLAT_F32, (off) => (off === 0 ? perRow : [])) };
}

/** Exported functions, named `<rule>`: a kernel per rule over one layout. */
export function kernelFuncs(layout: KernelLayout): FuncDef[] {
  return KERNEL_RULES.map((rule) => kernelFunc(rule, rule, layout));
}
