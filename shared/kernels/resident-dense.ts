// Dense tensors that live in WebAssembly memory, so the update kernel reads and writes them in
// place: only the gradient is copied in (bench/dense.ts: within 2x of C at 1M and 10M floats,
// where streaming heap arrays through a scratch memory was 2-6x). One memory per set of
// tensors (an Updater's), fixed in size (initial = maximum pages): it never grows, so the
// Float32Array views handed out stay valid for the life of the set. Each tensor has its own
// kernel function with its regions' addresses in the memarg offsets (momentum-kernels.ts).
import { STEP_FLOATS, kernelFunc, type KernelRule } from './momentum-kernels.ts';
import { simdAvailable, type KernelFn } from './momentum-simd.ts';
import { emitModule } from './wasm-bytes.ts';
import { finiteFunc, type FiniteFn } from './finite.ts';
import type { KernelArgs } from './resident-rows.ts';

const PAGE_BYTES = 65536;
/** No set larger than this (the wasm32 limit is 4 GiB; beyond this the heap arrays are used). */
export const MAX_RESIDENT_BYTES = 2 ** 31;

export interface ResidentTensor {
  readonly weights: Float32Array;
  /** The rule's one slot plane (momentum or Adagrad's accumulator). */
  readonly slot: Float32Array;
  /** Where a gradient goes before `apply` (a PS shard decodes a push's straight into it). */
  readonly grad: Float32Array;
  /** Whether every float in `grad` is finite (checked in wasm). */
  gradFinite(): boolean;
  /** One step over the whole tensor with the gradient in `grad`; same bits as the rule's loop. */
  apply(a: KernelArgs): void;
}

const pad = (n: number) => Math.ceil(n / STEP_FLOATS) * STEP_FLOATS;

/**
 * Tensors of the given sizes under `rule` (one slot each), zero-filled; null where WebAssembly
 * SIMD is missing or the set would exceed MAX_RESIDENT_BYTES.
 */
export function residentTensors(rule: KernelRule, sizes: readonly number[]): ResidentTensor[] | null {
  if (!sizes.length || !simdAvailable()) return null;
  // Each tensor: w, slot, g regions of its padded size, so a padded tail never runs into the next.
  const bases: number[] = [];
  let floats = 0;
  for (const n of sizes) { bases.push(floats); floats += 3 * pad(n); }
  const bytes = floats * 4;
  if (bytes > MAX_RESIDENT_BYTES) return null;
  const funcs = sizes.map((n, i) => {
    const at = bases[i] * 4, region = pad(n) * 4;
    return kernelFunc(`t${i}`, rule, { w: at, s: at + region, g: at + 2 * region });
  });
  const wasm = emitModule([...funcs, finiteFunc('finite')], Math.max(1, Math.ceil(bytes / PAGE_BYTES)));
  if (!WebAssembly.validate(wasm)) return null;
  const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports as Record<string, unknown>;
  const heap = new Float32Array((exports.mem as WebAssembly.Memory).buffer);
  const finite = exports.finite as FiniteFn;
  return sizes.map((n, i) => {
    const b = bases[i], region = pad(n);
    const fn = exports[`t${i}`] as KernelFn;
    const byteLength = region * 4;
    return {
      weights: heap.subarray(b, b + n),
      slot: heap.subarray(b + region, b + region + n),
      grad: heap.subarray(b + 2 * region, b + 2 * region + n),
      gradFinite: () => finite((b + 2 * region) * 4, n * 4) === 1,
      apply: (a) => fn(byteLength, a.lr, a.mu, a.scale, a.eps),
    };
  });
}
