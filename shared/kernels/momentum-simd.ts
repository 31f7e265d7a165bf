// Dense updates of momentum, Nesterov and Adagrad through the exact WebAssembly SIMD kernels of
// momentum-kernels.ts. The arrays stay where they are (JavaScript heap): each call streams them
// through a small fixed scratch memory in chunks that fit in L2, so main memory sees the same
// traffic as the C loop (read w, slot, g; write w, slot) and the extra copies hit cache. A
// fixed-size memory (initial = maximum pages) never grows, so its views are never detached.
// Measured (bench/kernels.ts): faster than the plain loop from a few hundred floats on, slower
// below; the rules call it from SIMD_MIN_FLOATS on only.
import { KERNEL_RULES, STEP_FLOATS, kernelFuncs, type KernelLayout, type KernelRule } from './momentum-kernels.ts';
import { emitModule, type FuncDef } from './wasm-bytes.ts';

export type KernelFn = (bytes: number, lr: number, mu: number, scale: number, eps: number) => void;

/** Floats per chunk: 3 x 64 KiB of scratch stays in L2; 4-32K measured, 16K was fastest. */
export const CHUNK_FLOATS = 16384;
/**
 * Runs at or above which the rules use the kernels. bench/kernels.ts, this machine: at 64
 * floats the kernel call with its copies costs ~3x the loop; at 512 it is ~1.7x faster. A
 * dense tensor of the default CTR model (8x64, 64x32) takes the kernel, a 64-float bias or a
 * sparse row (dim 8-64) the loop.
 */
export const SIMD_MIN_FLOATS = 256;
const PAGE_BYTES = 65536;

/** One instance of a kernel module with its own memory of `floats` x 3 (w, slot, g regions). */
export class SimdKernels {
  readonly mem: WebAssembly.Memory;
  readonly heap: Float32Array;
  /** Float offsets of the w, slot and g regions in `heap`. */
  readonly wAt: number;
  readonly sAt: number;
  readonly gAt: number;
  private readonly exports: Record<string, unknown>;

  /** `floats` per region, a multiple of STEP_FLOATS; the module must be compileKernels(floats)'s. */
  constructor(module: WebAssembly.Module, readonly floats: number) {
    this.exports = new WebAssembly.Instance(module).exports as Record<string, unknown>;
    this.mem = this.exports.mem as WebAssembly.Memory;
    this.heap = new Float32Array(this.mem.buffer);
    this.wAt = 0;
    this.sAt = floats;
    this.gAt = 2 * floats;
  }

  /** The exported kernel `name` (a KernelRule, or a bench variant's name). */
  fn(name: string): KernelFn {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new Error(`no kernel named ${name}`);
    return f as KernelFn;
  }
}

export const padToStep = (n: number) => Math.ceil(n / STEP_FLOATS) * STEP_FLOATS;

/**
 * The module for three regions of `floats` (padded to whole steps, so a padded tail never runs
 * into the next region) in a fixed memory, with the exact kernels and any `extra` functions;
 * null where WebAssembly SIMD is missing.
 */
export function compileKernels(floats: number, extra: (l: KernelLayout) => FuncDef[] = () => []): WebAssembly.Module | null {
  const bytes = padToStep(floats) * 4;
  const pages = Math.max(1, Math.ceil((3 * bytes) / PAGE_BYTES));
  const layout = { w: 0, s: bytes, g: 2 * bytes };
  const wasm = emitModule([...kernelFuncs(layout), ...extra(layout)], pages);
  if (!WebAssembly.validate(wasm)) return null;
  return new WebAssembly.Module(wasm);
}

interface Scratch { k: SimdKernels; fns: KernelFn[] }
let scratch: Scratch | null | undefined;

function simdScratch(): Scratch | null {
  if (scratch === undefined) {
    const m = compileKernels(CHUNK_FLOATS);
    const k = m ? new SimdKernels(m, CHUNK_FLOATS) : null;
    scratch = k ? { k, fns: KERNEL_RULES.map((r) => k.fn(r)) } : null;
  }
  return scratch;
}

export function simdAvailable(): boolean {
  return simdScratch() !== null;
}

/** Kernel numbers for applyUpdateSimd (an index, so the hot path passes no strings). */
export const KERNEL = { momentum: 0, nesterov: 1, adagrad: 2 } as const satisfies Record<KernelRule, number>;

/**
 * One step of rule `kernel` over w[wOff..wOff+n), slot[wOff..] and g[gOff..], chunk by chunk
 * through the scratch memory: bit-identical to the rule's plain loop with the same lr, mu, eps
 * and gradient scale. Returns false (having done nothing) when WebAssembly SIMD is unavailable.
 */
export function applyUpdateSimd(
  kernel: number, lr: number, mu: number, eps: number, w: Float32Array, slot: Float32Array, wOff: number,
  g: Float32Array, gOff: number, n: number, scale: number,
): boolean {
  const sc = simdScratch();
  if (!sc) return false;
  const k = sc.k;
  const fn = sc.fns[kernel];
  const heap = k.heap;
  for (let done = 0; done < n; done += CHUNK_FLOATS) {
    const m = Math.min(CHUNK_FLOATS, n - done);
    const a = wOff + done;
    const b = gOff + done;
    heap.set(w.subarray(a, a + m), k.wAt);
    heap.set(slot.subarray(a, a + m), k.sAt);
    heap.set(g.subarray(b, b + m), k.gAt);
    fn(padToStep(m) * 4, lr, mu, scale, eps);
    w.set(heap.subarray(k.wAt, k.wAt + m), a);
    slot.set(heap.subarray(k.sAt, k.sAt + m), a);
  }
  return true;
}
