// A sparse table's weights and slot planes kept in WebAssembly memory, so a push's rows are
// updated by the f32x4 row kernel (momentum-kernels.ts rowKernelFunc): with the rows at random
// in a 1M-row arena the JavaScript loop over Float32Arrays managed ~2-3M rows/s here, the same
// kernel in wasm ~20M (bench/sparse.ts). The memory has a fixed size (initial = maximum): a
// larger capacity is a new instance, the rows copied over, as a growing Float32Array is, and
// the arena takes the new views. The table's row index lives there too (row-lookup.ts), sized
// with the capacity, so a push's row ids are resolved to slots in wasm as well: a chunk of up
// to CHUNK_ROWS ids is copied in, `resolve` turns it into slots in place, `applyResolved`
// updates those rows with the chunk's gradients. A PS shard decodes a push's gradient of up to
// CHUNK_ROWS rows straight into the gradient region (`gradView`), checks it there
// (`gradFinite`) and applies it from there, without copying it again.
import { rowKernelFunc, type KernelRule } from './momentum-kernels.ts';
import { EMPTY, PairIndex, bucketsFor, lookupFunc } from './row-lookup.ts';
import { simdAvailable, type KernelFn } from './momentum-simd.ts';
import { emitModule } from './wasm-bytes.ts';
import { finiteFunc, type FiniteFn } from './finite.ts';

/** Rows per kernel call: the index and gradient regions' size. */
export const CHUNK_ROWS = 4096;
const PAGE_BYTES = 65536;
/** Largest memory (wasm32 allows 4 GiB); a table beyond it keeps its rows in heap arrays. */
export const MAX_ROWS_BYTES = 2 ** 32 - PAGE_BYTES;

/** The kernel's scalars, as the rule maps its hyperparameters and scales onto them. */
export interface KernelArgs { lr: number; mu: number; scale: number; eps: number }

export class ResidentRows {
  readonly weights: Float32Array;
  readonly slot: Float32Array;
  /** Row id -> slot, in this memory. */
  readonly index: PairIndex;
  /** After resolve(): the chunk's slots (-1 for an absent row). */
  readonly slots: Int32Array;
  private readonly grad: Float32Array;
  private readonly fn: KernelFn;
  private readonly lookupFn: (bytes: number) => number;
  private readonly finiteFn: FiniteFn;

  private constructor(readonly rule: KernelRule, readonly dim: number, readonly capacity: number, exports: Record<string, unknown>, at: Layout) {
    const buf = (exports.mem as WebAssembly.Memory).buffer;
    this.slots = new Int32Array(buf, at.idx, CHUNK_ROWS);
    this.grad = new Float32Array(buf, at.g, CHUNK_ROWS * dim);
    this.weights = new Float32Array(buf, at.w, capacity * dim);
    this.slot = new Float32Array(buf, at.s, capacity * dim);
    const table = new Int32Array(buf, at.tab, 2 * at.buckets);
    for (let i = 0; i < table.length; i += 2) table[i] = EMPTY;
    this.index = new PairIndex(table);
    this.fn = exports.rows as KernelFn;
    this.lookupFn = exports.lookup as (bytes: number) => number;
    this.finiteFn = exports.finite as FiniteFn;
  }

  /**
   * Rows of `dim` floats with one slot plane under `rule`, for `capacity` rows, zero-filled;
   * null where the kernel does not apply (no SIMD, dim not a multiple of 4, beyond 4 GiB).
   */
  static create(rule: KernelRule, dim: number, capacity: number): ResidentRows | null {
    if (!simdAvailable() || dim % 4 !== 0 || dim <= 0) return null;
    const at = layout(dim, capacity);
    if (at.bytes > MAX_ROWS_BYTES) return null;
    const wasm = emitModule([rowKernelFunc('rows', rule, dim, at), lookupFunc('lookup', at, at.buckets), finiteFunc('finite')], Math.ceil(at.bytes / PAGE_BYTES));
    if (!WebAssembly.validate(wasm)) return null;
    const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports as Record<string, unknown>;
    return new ResidentRows(rule, dim, capacity, exports, at);
  }

  /**
   * A store of `capacity` rows holding this one's first `rows` rows (slot s is row id
   * rowIds[s], indexed again); null past 4 GiB.
   */
  grown(capacity: number, rows: number, rowIds: Int32Array): ResidentRows | null {
    const next = ResidentRows.create(this.rule, this.dim, capacity);
    if (!next) return null;
    next.weights.set(this.weights.subarray(0, rows * this.dim));
    next.slot.set(this.slot.subarray(0, rows * this.dim));
    for (let s = 0; s < rows; s++) next.index.insert(rowIds[s], s);
    return next;
  }

  /** Looks up ids[from .. from+m) (m <= CHUNK_ROWS): their slots, or -1, land in `slots`; returns how many are absent. */
  resolve(ids: Int32Array, from: number, m: number): number {
    this.slots.set(ids.subarray(from, from + m));
    return this.lookupFn(m * 4);
  }

  /**
   * One step of the m rows in `slots` (all present, distinct), row i's gradient at
   * g[(from+i)*dim ..]: the same bits as the rule's loop on each row.
   */
  applyResolved(m: number, g: Float32Array, from: number, a: KernelArgs): void {
    const d = this.dim;
    // Decoded into the region already (gradView): nothing to copy.
    if (from !== 0 || g.buffer !== this.grad.buffer || g.byteOffset !== this.grad.byteOffset) this.grad.set(g.subarray(from * d, (from + m) * d));
    this.fn(m * 4, a.lr, a.mu, a.scale, a.eps);
  }

  /**
   * The gradient region's first `floats` floats, for a push's gradient of this table to be
   * decoded into (then applied without a copy); null when they do not fit (more than CHUNK_ROWS
   * rows). Valid until the next gradView or apply of this store.
   */
  gradView(floats: number): Float32Array | null {
    return floats <= this.grad.length ? this.grad.subarray(0, floats) : null;
  }

  /** Whether every float of `g`, a view gradView gave, is finite (checked in wasm). */
  gradFinite(g: Float32Array): boolean {
    return this.finiteFn(g.byteOffset, g.byteLength) === 1;
  }
}

interface Layout { idx: number; g: number; w: number; s: number; tab: number; buckets: number; bytes: number }

function layout(dim: number, capacity: number): Layout {
  const idx = 0;
  const g = CHUNK_ROWS * 4;
  const w = g + CHUNK_ROWS * dim * 4;
  const s = w + capacity * dim * 4;
  const tab = s + capacity * dim * 4;
  const buckets = bucketsFor(capacity);
  return { idx, g, w, s, tab, buckets, bytes: tab + buckets * 8 };
}
