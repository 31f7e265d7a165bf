// Dense optimizer updates through the WebAssembly SIMD kernels of momentum-kernels.ts.
// The arrays stay where they are (JavaScript heap): each call streams them through a small
// fixed scratch memory in chunks that fit in L2, so main memory sees the same traffic as the
// C loop (read w, slot, g; write w, slot) and the extra copies hit cache. A fixed-size memory
// (initial = maximum pages) never grows, so its views are never detached.
import { KERNEL_RULES, STEP_FLOATS, kernelFuncs, type KernelRule } from './momentum-kernels.ts';
import { emitModule } from './wasm-bytes.ts';

type KernelFn = (bytes: number, lr: number, mu: number, scale: number, eps: number) => void;

/** Floats per chunk: 3 x 64 KiB of scratch stays in L2; 4-32K measured, 16K was fastest. */
export const CHUNK_FLOATS = 16384;
const PAGE_BYTES = 65536;

export interface KernelParams { rule: KernelRule; lr: number; mu: number; eps: number }

/** One instance of the kernels with its own memory of `floats` x 3 (w, slot, g regions). */
export class SimdKernels {
  readonly mem: WebAssembly.Memory;
  readonly heap: Float32Array;
  /** Float offsets of the w, slot and g regions in `heap`. */
  readonly wAt: number;
  readonly sAt: number;
  readonly gAt: number;
  private readonly exact: Record<KernelRule, KernelFn>;
  private readonly f32: Record<KernelRule, KernelFn>;

  /** `floats` per region, a multiple of STEP_FLOATS; the module must be compile(floats)'s. */
  constructor(module: WebAssembly.Module, readonly floats: number) {
    const inst = new WebAssembly.Instance(module);
    const ex = inst.exports as Record<string, unknown>;
    this.mem = ex.mem as WebAssembly.Memory;
    this.heap = new Float32Array(this.mem.buffer);
    this.wAt = 0;
    this.sAt = floats;
    this.gAt = 2 * floats;
    this.exact = Object.fromEntries(KERNEL_RULES.map((r) => [r, ex[r] as KernelFn])) as Record<KernelRule, KernelFn>;
    this.f32 = Object.fromEntries(KERNEL_RULES.map((r) => [r, ex[`${r}_f32`] as KernelFn])) as Record<KernelRule, KernelFn>;
  }

  /** Runs the kernel over the first `n` floats of each region (padded up to a whole step). */
  run(p: KernelParams, n: number, scale: number, exact = true): void {
    const bytes = Math.ceil(n / STEP_FLOATS) * STEP_FLOATS * 4;
    const fn = (exact ? this.exact : this.f32)[p.rule];
    fn(bytes, p.lr, p.mu, scale, p.eps);
  }
}

const padToStep = (n: number) => Math.ceil(n / STEP_FLOATS) * STEP_FLOATS;

/**
 * The module for three regions of `floats` (padded to whole steps, so a padded tail never runs
 * into the next region) in a fixed memory, or null where WebAssembly SIMD is missing.
 */
function compile(floats: number): WebAssembly.Module | null {
  const bytes = padToStep(floats) * 4;
  const pages = Math.max(1, Math.ceil((3 * bytes) / PAGE_BYTES));
  const wasm = emitModule(kernelFuncs({ w: 0, s: bytes, g: 2 * bytes }), pages);
  if (!WebAssembly.validate(wasm)) return null;
  return new WebAssembly.Module(wasm);
}

let scratch: SimdKernels | null | undefined;

/** The shared chunk scratch, built on first use; null where WebAssembly SIMD is unavailable. */
export function simdScratch(): SimdKernels | null {
  if (scratch === undefined) {
    const m = compile(CHUNK_FLOATS);
    scratch = m ? new SimdKernels(m, CHUNK_FLOATS) : null;
  }
  return scratch;
}

export function simdAvailable(): boolean {
  return simdScratch() !== null;
}

/**
 * applyUpdate's contract (shared/optimizer.ts) on the SIMD kernels, chunk by chunk through the
 * scratch memory. `exact` (default) gives bit-identical results to the scalar loop. Returns
 * false (having done nothing) when WebAssembly SIMD is unavailable.
 */
export function applyUpdateSimd(
  p: KernelParams, w: Float32Array, slot: Float32Array, wOff: number,
  g: Float32Array, gOff: number, n: number, scale: number, exact = true,
): boolean {
  const k = simdScratch();
  if (!k) return false;
  const heap = k.heap;
  for (let done = 0; done < n; done += CHUNK_FLOATS) {
    const m = Math.min(CHUNK_FLOATS, n - done);
    const a = wOff + done;
    const b = gOff + done;
    heap.set(w.subarray(a, a + m), k.wAt);
    heap.set(slot.subarray(a, a + m), k.sAt);
    heap.set(g.subarray(b, b + m), k.gAt);
    k.run(p, m, scale, exact);
    w.set(heap.subarray(k.wAt, k.wAt + m), a);
    slot.set(heap.subarray(k.sAt, k.sAt + m), a);
  }
  return true;
}

/**
 * Weights, slot and a gradient buffer resident in one wasm memory of their own: no copies
 * but the gradient's. The alternative to chunking, measured in bench/; the PS would have to
 * allocate its dense tensors here for it (see the bench report).
 */
export class ResidentDense {
  readonly kernels: SimdKernels;
  readonly weights: Float32Array;
  readonly slot: Float32Array;
  readonly grad: Float32Array;

  constructor(readonly n: number) {
    const m = compile(n);
    if (!m) throw new Error('WebAssembly SIMD is not available');
    this.kernels = new SimdKernels(m, padToStep(n));
    const h = this.kernels.heap;
    this.weights = h.subarray(this.kernels.wAt, this.kernels.wAt + n);
    this.slot = h.subarray(this.kernels.sAt, this.kernels.sAt + n);
    this.grad = h.subarray(this.kernels.gAt, this.kernels.gAt + n);
  }

  /** Copies g into the resident gradient buffer and applies it. */
  apply(p: KernelParams, g: Float32Array, scale: number, exact = true): void {
    this.grad.set(g);
    this.kernels.run(p, this.n, scale, exact);
  }
}
