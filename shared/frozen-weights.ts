// A fixed copy of the whole model at a known set of shard versions: what the validation gate
// evaluates and what inference serves when a serving pointer exists. It travels as one
// checkpoint blob (shared/checkpoint.ts).
import type { CheckpointBlob } from './checkpoint.ts';
import { BadMessageError } from './errors.ts';
import type { ParamSpec } from './param-spec.ts';
import type { Replica } from './replica.ts';
import { SparseArena } from './sparse-arena.ts';

export { decodeCheckpoint, encodeCheckpoint, type CheckpointBlob } from './checkpoint.ts';

export class FrozenWeights {
  private readonly denseMap = new Map<string, Float32Array>();
  private readonly tables = new Map<string, SparseArena>();

  constructor(readonly spec: ParamSpec, blob: CheckpointBlob) {
    this.versions = blob.versions.slice();
    for (const d of blob.dense) this.denseMap.set(d.name, d.values.slice());
    for (const t of spec.tables) this.tables.set(t.name, new SparseArena(t, spec.seed, false));
    for (const x of blob.tables) {
      const a = this.tables.get(x.table);
      if (!a) throw new BadMessageError(`checkpoint names unknown table ${x.table}`);
      a.setRows(x.rows, x.values);
    }
    for (const d of spec.dense) if (!this.denseMap.has(d.name)) throw new BadMessageError(`checkpoint lacks tensor ${d.name}`);
  }

  readonly versions: number[];

  dense(name: string): Float32Array {
    return this.denseMap.get(name)!;
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    const a = this.tables.get(table)!;
    for (let i = 0; i < rowIds.length; i++) a.readRow(rowIds[i], out, i * a.dim);
  }

  static fromReplica(r: Replica): FrozenWeights {
    return new FrozenWeights(r.spec, r.checkpoint());
  }

  toBlob(): CheckpointBlob {
    return {
      versions: this.versions,
      dense: [...this.denseMap].map(([name, values]) => ({ name, values })),
      tables: [...this.tables].map(([table, a]) => { const x = a.exportRows(); return { table, rows: x.rows, values: x.weights }; }),
      createdAtMs: Date.now(),
    };
  }
}
