// The finiteness check of a push's floats in WebAssembly: a float is NaN or +-Inf exactly when
// its exponent bits are all set, tested four lanes at a time (i32x4). The JavaScript loop
// (`x - x !== 0`, shared/update-rules/vec.ts allFinite) ran at 1.2-2.3 ns per float here, about
// a third of validating a push of 8,000 rows x 16; this runs at memory speed. It reads the
// memory of the module it is emitted into: resident-rows.ts and resident-dense.ts carry one, so
// a gradient decoded straight into their gradient regions is checked there, and FloatScratch
// below holds what has no such region.
import { I32, V128, ins, op, simd, emitModule, type FuncDef } from './wasm-bytes.ts';
import { simdAvailable } from './momentum-simd.ts';

const EXP_MASK = 0x7f800000;
// Parameters and locals.
const ADDR = 0, BYTES = 1, END = 2, BAD = 3, ACC = 4, MASK = 5;

/** `name(addr, bytes) -> i32`: 1 when each f32 of memory [addr, addr + bytes) is finite, else 0. */
export function finiteFunc(name: string): FuncDef {
  const { get, set, i32, simd: v } = ins;
  // ACC |= (load(ADDR + off) & MASK) == MASK, lane-wise
  const vec = (off: number) => [
    ...get(ACC), ...get(ADDR), ...ins.mem(simd.v128Load, 2, off), ...get(MASK), ...v(simd.v128And), ...get(MASK), ...v(simd.i32x4Eq),
    ...v(simd.v128Or), ...set(ACC),
  ];
  // while ADDR < END: body; ADDR += step
  const loop = (step: number, body: number[]) => [
    op.block, op.void, op.loop, op.void,
    ...get(ADDR), ...get(END), op.i32GeU, op.brIf, 1,
    ...body,
    ...get(ADDR), ...i32(step), op.i32Add, ...set(ADDR),
    op.br, 0, op.end, op.end,
  ];
  const scalar = [...get(BAD), ...get(ADDR), ...ins.load32(0), ...i32(EXP_MASK), op.i32And, ...i32(EXP_MASK), op.i32Eq, op.i32Or, ...set(BAD)];
  const body = [
    ...i32(EXP_MASK), ...v(simd.i32x4Splat), ...set(MASK),
    // 64 bytes per step, then 16, then one float at a time
    ...get(ADDR), ...get(BYTES), ...i32(-64), op.i32And, op.i32Add, ...set(END),
    ...loop(64, [...vec(0), ...vec(16), ...vec(32), ...vec(48)]),
    ...get(END), ...get(BYTES), ...i32(48), op.i32And, op.i32Add, ...set(END),
    ...loop(16, vec(0)),
    ...get(END), ...get(BYTES), ...i32(15), op.i32And, op.i32Add, ...set(END),
    ...loop(4, scalar),
    ...get(ACC), ...v(simd.v128AnyTrue), ...get(BAD), op.i32Or, op.i32Eqz,
  ];
  return { name, params: [I32, I32], locals: [I32, I32, V128, V128], results: [I32], body };
}

export type FiniteFn = (addr: number, bytes: number) => number;

const PAGE_BYTES = 65536;

/**
 * Floats in a WebAssembly memory of their own, checked there: where a decoded push puts the
 * values that have no gradient region to go to. Bump-allocated per push (`reset`), so nothing
 * is allocated per push once the memory is large enough; a larger push makes a larger memory
 * (views of the last push's may still hold the old one).
 */
export class FloatScratch {
  private heap: Float32Array = new Float32Array(0);
  private fn: FiniteFn | null = null;
  private used = 0;

  /** null where WebAssembly SIMD is missing. */
  static create(): FloatScratch | null {
    return simdAvailable() ? new FloatScratch() : null;
  }

  /** Starts a push of at most `floats` floats in all. */
  reset(floats: number): void {
    this.used = 0;
    if (floats <= this.heap.length) return;
    let cap = Math.max(16384, this.heap.length);
    while (cap < floats) cap *= 2;
    const pages = Math.ceil((cap * 4) / PAGE_BYTES);
    const wasm = emitModule([finiteFunc('finite')], pages);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports as Record<string, unknown>;
    this.heap = new Float32Array((exports.mem as WebAssembly.Memory).buffer);
    this.fn = exports.finite as FiniteFn;
  }

  /** n floats; null when the push's reset() did not leave room. */
  take(n: number): Float32Array | null {
    const at = this.used;
    if (at + n > this.heap.length) return null;
    this.used = at + n;
    return this.heap.subarray(at, at + n);
  }

  /** Whether the floats of `a`, a view take() gave since the last reset, are all finite. */
  finite(a: Float32Array): boolean {
    return this.fn!(a.byteOffset, a.byteLength) === 1;
  }
}
