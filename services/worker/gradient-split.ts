// Splits one step's gradients by owning PS shard: dense tensors by name, sparse rows by
// (table, row). Only the batch's unique rows are ever here, never a whole table.
import { ownerOfDense, ownerOfRow, tableHash, type DenseGrad, type SparseGrad } from '../../shared/index.ts';

export interface ShardGradients { dense: DenseGrad[]; sparse: SparseGrad[] }

export class GradientSplitter {
  private readonly denseOwner = new Map<string, number>();
  private readonly tableHashes = new Map<string, number>();

  constructor(private readonly shards: number) {}

  split(dense: Map<string, Float32Array>, sparse: Map<string, { rows: Int32Array; grads: Float32Array }>): ShardGradients[] {
    const out: ShardGradients[] = Array.from({ length: this.shards }, () => ({ dense: [], sparse: [] }));
    for (const [name, values] of dense) {
      let k = this.denseOwner.get(name);
      if (k === undefined) this.denseOwner.set(name, (k = ownerOfDense(name, this.shards)));
      out[k].dense.push({ name, values });
    }
    for (const [table, g] of sparse) {
      let h = this.tableHashes.get(table);
      if (h === undefined) this.tableHashes.set(table, (h = tableHash(table)));
      const n = g.rows.length;
      if (n === 0) continue;
      const dim = g.grads.length / n;
      if (this.shards === 1) {
        out[0].sparse.push({ table, rows: g.rows, grads: g.grads });
        continue;
      }
      const owner = new Int32Array(n);
      const counts = new Int32Array(this.shards);
      for (let i = 0; i < n; i++) counts[(owner[i] = ownerOfRow(h, g.rows[i], this.shards))]++;
      const rows = Array.from(counts, (c) => new Int32Array(c));
      const grads = Array.from(counts, (c) => new Float32Array(c * dim));
      const fill = new Int32Array(this.shards);
      for (let i = 0; i < n; i++) {
        const k = owner[i];
        const j = fill[k]++;
        rows[k][j] = g.rows[i];
        grads[k].set(g.grads.subarray(i * dim, (i + 1) * dim), j * dim);
      }
      for (let k = 0; k < this.shards; k++) if (counts[k]) out[k].sparse.push({ table, rows: rows[k], grads: grads[k] });
    }
    return out;
  }
}
