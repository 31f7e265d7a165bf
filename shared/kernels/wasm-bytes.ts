// Just enough of the WebAssembly binary format to emit the optimizer kernels from TypeScript.
// Why hand-assembled: a WAT assembler (wabt) would be a build step and a dependency for ~60
// instructions; the bytes below are checked by WebAssembly.validate at load time and the
// kernels against the scalar loop in test/unit/simd-kernel.test.ts.

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Core opcodes used by the kernels. */
export const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, void: 0x40,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i32Store: 0x36,
  i32Const: 0x41, i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtU: 0x49, i32GeU: 0x4f,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74,
} as const;

/** SIMD opcodes (after the 0xfd prefix), from the fixed-width SIMD proposal (Wasm 2.0). */
export const simd = {
  f64x2Splat: 0x14, f32x4Splat: 0x13,
  v128Load: 0x00, v128Store: 0x0b,
  load64Zero: 0x5d, store64Lane: 0x5b,
  f32x4DemoteF64x2Zero: 0x5e, f64x2PromoteLowF32x4: 0x5f,
  f32x4Sqrt: 0xe3, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7,
  f64x2Sqrt: 0xef, f64x2Add: 0xf0, f64x2Sub: 0xf1, f64x2Mul: 0xf2, f64x2Div: 0xf3,
  i32x4Splat: 0x11, i32x4Eq: 0x37, v128And: 0x4e, v128Or: 0x50, v128AnyTrue: 0x53,
} as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => { const b = new TextEncoder().encode(s); return [...uleb(b.length), ...b]; };

/** Instruction builders: each returns its bytes, so a body is a flat list of calls. */
export const ins = {
  get: (i: number) => [op.localGet, ...uleb(i)],
  set: (i: number) => [op.localSet, ...uleb(i)],
  tee: (i: number) => [op.localTee, ...uleb(i)],
  i32: (v: number) => [op.i32Const, ...sleb(v)],
  simd: (code: number) => [0xfd, ...uleb(code)],
  /** i32.load / i32.store at the address on the stack plus a constant byte offset (4-byte aligned). */
  load32: (offset: number) => [op.i32Load, 2, ...uleb(offset)],
  store32: (offset: number) => [op.i32Store, 2, ...uleb(offset)],
  /** memarg: log2 alignment hint, then a constant byte offset added to the address. */
  mem: (code: number, alignLog2: number, offset: number) => [0xfd, ...uleb(code), ...uleb(alignLog2), ...uleb(offset)],
  lane: (code: number, alignLog2: number, offset: number, lane: number) =>
    [0xfd, ...uleb(code), ...uleb(alignLog2), ...uleb(offset), lane],
};

export interface FuncDef {
  name: string;
  params: number[];
  /** Extra locals, by type, declared after the params. */
  locals: number[];
  body: number[];
  /** Result types; none when absent. */
  results?: number[];
}

/** A module with one memory of `pages` 64 KiB pages (exported as "mem") and the given functions. */
export function emitModule(funcs: FuncDef[], pages: number): Uint8Array<ArrayBuffer> {
  const types = section(1, vec(funcs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec((f.results ?? []).map((r) => [r]))])));
  const fnSec = section(3, vec(funcs.map((_, i) => uleb(i))));
  const memSec = section(5, vec([[0x01, ...uleb(pages), ...uleb(pages)]]));
  const exports = section(7, vec([
    ...funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
    [...name('mem'), 0x02, 0],
  ]));
  const code = section(10, vec(funcs.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, op.end];
    return [...uleb(body.length), ...body];
  })));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...fnSec, ...memSec, ...exports, ...code]);
}
