// ParamSpec: what parameters a model has, how they start, and which PS shard owns each.
// Every process derives the same ownership and the same initial values from the spec alone,
// so a row that was never updated needs no round trip to the server.
import { combine32, fnv1a32, mix32, unitFromHash } from './hash.ts';
import type { RuleChoice, UpdateRuleName } from './update-rules/registry.ts';

export type Initializer =
  | { kind: 'zeros' }
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; scale: number }
  | { kind: 'glorot' };

export interface DenseSpec {
  name: string;
  /** Row-major shape, e.g. [in, out] for a weight matrix. */
  shape: number[];
  init: Initializer;
}

/** A table's update rule by name (shared/update-rules/registry.ts). */
export type SparseOptimizer = UpdateRuleName;

export interface TableSpec {
  name: string;
  /** Floats per row. */
  dim: number;
  /** Hash buckets: valid row ids are 0 .. rows-1. */
  rows: number;
  init: Initializer;
  /** This table's learning rate = the PS learning rate x lrScale (default 1). */
  lrScale?: number;
  /**
   * Update rule for this table, applied lazily per touched row: a name ('momentum', 'nesterov',
   * 'adagrad', 'adam', 'ftrl', 'counter') or a name with hyperparameters, e.g.
   * { rule: 'ftrl', alpha: 0.05, beta: 1, l1: 1, l2: 0 } or { rule: 'counter', halfLifeMs: 3600000 }.
   * Default momentum.
   */
  optimizer?: RuleChoice;
}

export interface ParamSpec {
  model: string;
  seed: number;
  dense: DenseSpec[];
  tables: TableSpec[];
}

export function denseSize(d: DenseSpec): number {
  return d.shape.reduce((a, b) => a * b, 1);
}

/** Deterministic initial values for a dense tensor, seeded by (spec seed, tensor name). */
export function initDense(d: DenseSpec, seed: number): Float32Array {
  const out = new Float32Array(denseSize(d));
  const base = combine32(seed >>> 0, fnv1a32(d.name));
  fillInit(d.init, out, 0, out.length, base, d.shape);
  return out;
}

/** Writes the initial value of row `rowId` of `table` into out[offset .. offset+dim). */
export function initRow(table: TableSpec, rowId: number, seed: number, out: Float32Array, offset: number): void {
  const base = combine32(combine32(seed >>> 0, fnv1a32(table.name)), rowId >>> 0);
  fillInit(table.init, out, offset, table.dim, base, [table.rows, table.dim]);
}

function fillInit(init: Initializer, out: Float32Array, offset: number, n: number, base: number, shape: number[]): void {
  switch (init.kind) {
    case 'zeros':
      out.fill(0, offset, offset + n);
      return;
    case 'constant':
      out.fill(init.value, offset, offset + n);
      return;
    case 'uniform':
    case 'glorot': {
      const scale = init.kind === 'uniform'
        ? init.scale
        : Math.sqrt(6 / ((shape[0] ?? 1) + (shape[shape.length - 1] ?? 1)));
      for (let j = 0; j < n; j++) {
        out[offset + j] = (unitFromHash(combine32(base, j)) * 2 - 1) * scale;
      }
    }
  }
}

/** The PS shard that owns a dense tensor. */
export function ownerOfDense(name: string, shards: number): number {
  return mix32(fnv1a32(name)) % shards;
}

/** Hash of a table name, computed once per table and passed to ownerOfRow on hot paths. */
export function tableHash(name: string): number {
  return fnv1a32(name);
}

/** The PS shard that owns row `rowId` of the table whose hash is `tHash`. */
export function ownerOfRow(tHash: number, rowId: number, shards: number): number {
  return combine32(tHash, rowId >>> 0) % shards;
}

export function findTable(spec: ParamSpec, name: string): TableSpec | undefined {
  return spec.tables.find((t) => t.name === name);
}

export function findDense(spec: ParamSpec, name: string): DenseSpec | undefined {
  return spec.dense.find((d) => d.name === name);
}

/** Number of floats in the model: dense tensors plus every row of every table. */
export function parameterCount(spec: ParamSpec): number {
  let n = 0;
  for (const d of spec.dense) n += denseSize(d);
  for (const t of spec.tables) n += t.rows * t.dim;
  return n;
}
