// ShardStore in process memory, for the embedded mode and unit tests. Copies on write and
// on read, as Redis would, so a caller can never alias the stored arrays.
import type { StoreDurability, DenseState, RowsState, ShardMeta, ShardSnapshot, ShardStore, ShardWrite, WriteResult } from './types.ts';

interface StoredShard {
  meta: ShardMeta;
  dense: Map<string, DenseState>;
  rows: Map<string, Map<number, { w: Float32Array; s?: Float32Array }>>;
}

export class MemoryShardStore implements ShardStore {
  private shards = new Map<string, StoredShard>();
  private epochs = new Map<string, number>();
  /** Simulates a store restart that lost everything (fault tests). */
  wipe(): void {
    this.shards.clear();
    this.epochs.clear();
  }

  async write(model: string, shard: number, w: ShardWrite): Promise<WriteResult> {
    const key = `${model}:${shard}`;
    let st = this.shards.get(key);
    const storeWasEmpty = !st;
    if (!st || w.full) {
      st = { meta: w.meta, dense: new Map(), rows: new Map() };
      this.shards.set(key, st);
    }
    for (const d of w.dense) st.dense.set(d.name, { name: d.name, weights: d.weights.slice(), slot: d.slot?.slice() });
    for (const s of w.sparse) {
      const dim = s.rows.length ? s.weights.length / s.rows.length : 0;
      const sw = s.rows.length && s.slot ? s.slot.length / s.rows.length : 0; // slot floats per row
      let m = st.rows.get(s.table);
      if (!m) st.rows.set(s.table, (m = new Map()));
      if (s.removed) for (const id of s.removed) m.delete(id);
      for (let i = 0; i < s.rows.length; i++) {
        m.set(s.rows[i], { w: s.weights.slice(i * dim, (i + 1) * dim), s: s.slot?.slice(i * sw, (i + 1) * sw) });
      }
    }
    st.meta = { ...w.meta, dedupe: w.meta.dedupe?.slice() };
    return { storeWasEmpty };
  }

  async read(model: string, shard: number, tables: string[], withSlots: boolean): Promise<ShardSnapshot | null> {
    const st = this.shards.get(`${model}:${shard}`);
    if (!st) return null;
    const dense = [...st.dense.values()].map((d) => ({ name: d.name, weights: d.weights.slice(), slot: withSlots ? d.slot?.slice() : undefined }));
    const sparse: RowsState[] = tables.map((table) => {
      const m = st.rows.get(table) ?? new Map();
      const entries = [...m.entries()];
      const dim = entries.length ? entries[0][1].w.length : 0;
      const rows = new Int32Array(entries.length);
      const weights = new Float32Array(entries.length * dim);
      const sw = entries.length && entries[0][1].s ? entries[0][1].s.length : dim; // slot floats per row
      const slot = withSlots ? new Float32Array(entries.length * sw) : undefined;
      entries.forEach(([id, v], i) => {
        rows[i] = id;
        weights.set(v.w, i * dim);
        if (slot && v.s && v.s.length === sw) slot.set(v.s, i * sw);
      });
      return { table, rows, weights, slot };
    });
    return { meta: { ...st.meta, dedupe: st.meta.dedupe?.slice() }, dense, sparse };
  }

  async nextEpoch(model: string, shard: number, atLeast = 1): Promise<number> {
    const key = `${model}:${shard}`;
    const e = Math.max(atLeast, (this.epochs.get(key) ?? 0) + 1);
    this.epochs.set(key, e);
    return e;
  }

  async hasSnapshot(model: string, shard: number): Promise<boolean> {
    return this.shards.has(`${model}:${shard}`);
  }

  /** In-process: gone with the process, which is the embedded mode's deal. */
  async durability(): Promise<{ level: StoreDurability; detail: string }> {
    return { level: 'volatile', detail: 'in-process memory' };
  }

  async deleteModel(model: string): Promise<void> {
    for (const k of [...this.shards.keys()]) if (k.startsWith(`${model}:`)) this.shards.delete(k);
    for (const k of [...this.epochs.keys()]) if (k.startsWith(`${model}:`)) this.epochs.delete(k);
  }

  async close(): Promise<void> {}
}
