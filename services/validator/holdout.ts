// The validation gate's holdout: the most recent held-out examples, in a ring of flat typed
// arrays (ids example-major, labels), admitted chunk by chunk.

export interface ExampleChunk { size: number; ids: Int32Array; labels: Float32Array }

export class HoldoutWindow {
  private readonly ids: Int32Array;
  private readonly labels: Float32Array;
  private next = 0;
  size = 0;

  constructor(private readonly capacity: number, private readonly fields: number) {
    this.ids = new Int32Array(capacity * fields);
    this.labels = new Float32Array(capacity);
  }

  add(c: ExampleChunk): void {
    const F = this.fields;
    for (let i = 0; i < c.size; i++) {
      this.ids.set(c.ids.subarray(i * F, (i + 1) * F), this.next * F);
      this.labels[this.next] = c.labels[i];
      this.next = (this.next + 1) % this.capacity;
      this.size = Math.min(this.size + 1, this.capacity);
    }
  }

  /** The examples held (order does not matter to the metrics). */
  view(): ExampleChunk {
    return { size: this.size, ids: this.ids.subarray(0, this.size * this.fields), labels: this.labels.subarray(0, this.size) };
  }
}

/** Accumulates new examples until a chunk is big enough to judge. */
export class ChunkBuffer {
  private ids: number[] = [];
  private labels: number[] = [];

  constructor(private readonly fields: number) {}

  get size(): number {
    return this.labels.length;
  }

  add(c: ExampleChunk): void {
    for (let i = 0; i < c.size * this.fields; i++) this.ids.push(c.ids[i]);
    for (let i = 0; i < c.size; i++) this.labels.push(c.labels[i]);
  }

  take(): ExampleChunk {
    const out = { size: this.labels.length, ids: Int32Array.from(this.ids), labels: Float32Array.from(this.labels) };
    this.ids = [];
    this.labels = [];
    return out;
  }
}
