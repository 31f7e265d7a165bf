// Where a PS shard decodes a push's arrays (parsePush's PushSink): each gradient straight into
// the gradient region of its tensor or table in wasm memory (Updater.gradRegion), where it is
// checked for NaN/Inf and then updated from without another copy. msgpackr used to copy every
// typed array into a new buffer, and the Updater copied the gradients again into wasm memory;
// the allocations and the JavaScript finiteness loop were ~60% of handling a push of 8,000 rows
// x 16 (see docs/BENCHMARKS.md). What has no region (a table's gradient of more than CHUNK_ROWS
// rows, a tensor or table on the heap, a name pushed twice, an unknown one) goes to a scratch
// memory checked in wasm as well; row ids to a reused Int32Array. Everything handed out is valid
// until the next push: the shard validates and applies a push before it decodes the next.
import { allFinite, type PushSink, type Updater } from '../../shared/index.ts';
import { FloatScratch } from '../../shared/kernels/finite.ts';

export class PushPlacement implements PushSink {
  private readonly scratch = FloatScratch.create();
  private ids = new Int32Array(4096);
  private idsUsed = 0;
  /**
   * This push's arrays that lie in wasm memory, in the order given, and where each is (a region
   * of `names[i]`, or the scratch). validatePush asks in the same order, so `next` finds each
   * at once (a Map keyed by the arrays cost more than the rest of the bookkeeping).
   */
  private readonly views: Float32Array[] = [];
  private readonly kinds: ('dense' | 'sparse' | 'scratch')[] = [];
  private readonly names: string[] = [];
  private next = 0;
  /** Names given their region in this push (a second array of the same name goes elsewhere). */
  private readonly placedDense = new Set<string>();
  private readonly placedTables = new Set<string>();

  constructor(private readonly updater: Updater) {}

  begin(messageBytes: number): void {
    this.views.length = 0;
    this.kinds.length = 0;
    this.names.length = 0;
    this.next = 0;
    this.placedDense.clear();
    this.placedTables.clear();
    // The elements of a push's arrays take at most its bytes.
    const elements = Math.ceil(messageBytes / 4);
    this.scratch?.reset(elements);
    if (this.ids.length < elements) this.ids = new Int32Array(elements);
    this.idsUsed = 0;
  }

  floats(kind: 'dense' | 'sparse', name: string, n: number): Float32Array {
    const placed = kind === 'dense' ? this.placedDense : this.placedTables;
    if (!placed.has(name)) {
      const view = this.updater.gradRegion(kind, name, n);
      if (view) {
        placed.add(name);
        return this.remember(view, kind, name);
      }
    }
    const s = this.scratch?.take(n);
    return s ? this.remember(s, 'scratch', '') : new Float32Array(n);
  }

  private remember(view: Float32Array, kind: 'dense' | 'sparse' | 'scratch', name: string): Float32Array {
    this.views.push(view);
    this.kinds.push(kind);
    this.names.push(name);
    return view;
  }

  ints(n: number): Int32Array {
    const at = this.idsUsed;
    if (at + n > this.ids.length) return new Int32Array(n);
    this.idsUsed = at + n;
    return this.ids.subarray(at, at + n);
  }

  /** Whether every value of `a`, an array of the current push, is finite. */
  readonly finite = (a: Float32Array): boolean => {
    const views = this.views;
    const i = this.next < views.length && views[this.next] === a ? this.next : views.indexOf(a);
    if (i < 0) return allFinite(a);
    this.next = i + 1;
    const kind = this.kinds[i];
    return kind === 'scratch' ? this.scratch!.finite(a) : this.updater.gradFinite(kind, this.names[i], a);
  };
}
