// The click/conversion model's parameters: per-field embeddings and per-id biases (sparse,
// hashed) feeding an MLP whose first layer is split per field (no concat on the hot path).
//   logit = out.b + sum_f bias.<f>[id_f] + MLP(emb.<f>[id_f] for every f)
import type { DenseSpec, ParamSpec, SparseOptimizer, TableSpec } from '../param-spec.ts';

export interface CtrModelConfig {
  /** Feature fields, e.g. ['user', 'item', 'category', 'hour', 'weekday']. */
  fields: string[];
  /** Floats per embedding row. Default 8. */
  embDim: number;
  /** Hash buckets per field table. Default 262144 (2^18). */
  buckets: number;
  /** Hidden layer widths of the MLP. Default [64, 32]. */
  hidden: number[];
  /** Learning-rate multiplier of the embedding tables. Default 50 (tuned on Online Retail: a
   *  per-row rate far above the dense one is what lets single-pass learning move an id). */
  embLrScale: number;
  /** Learning-rate multiplier of the per-id bias tables (the wide part). Default 1. */
  biasLrScale: number;
  /** Update rule of the sparse tables. Default momentum. */
  sparseOptimizer: SparseOptimizer;
}

export const CTR_MODEL_DEFAULTS: CtrModelConfig = {
  fields: ['user', 'item', 'category', 'hour', 'weekday'],
  embDim: 8,
  buckets: 1 << 18,
  hidden: [64, 32],
  embLrScale: 50,
  biasLrScale: 1,
  sparseOptimizer: 'momentum',
};

export const embTable = (field: string): string => `emb.${field}`;
export const biasTable = (field: string): string => `bias.${field}`;
export const firstLayerWeight = (field: string): string => `l0.w.${field}`;

export function ctrParamSpec(model: string, seed: number, cfg: CtrModelConfig): ParamSpec {
  const tables: TableSpec[] = [];
  for (const f of cfg.fields) {
    tables.push({ name: embTable(f), dim: cfg.embDim, rows: cfg.buckets, init: { kind: 'uniform', scale: 0.05 },
      lrScale: cfg.embLrScale, optimizer: cfg.sparseOptimizer });
    tables.push({ name: biasTable(f), dim: 1, rows: cfg.buckets, init: { kind: 'zeros' },
      lrScale: cfg.biasLrScale, optimizer: cfg.sparseOptimizer });
  }
  const dense: DenseSpec[] = [];
  const h = cfg.hidden;
  for (const f of cfg.fields) dense.push({ name: firstLayerWeight(f), shape: [cfg.embDim, h[0]], init: { kind: 'glorot' } });
  dense.push({ name: 'l0.b', shape: [h[0]], init: { kind: 'zeros' } });
  for (let i = 1; i < h.length; i++) {
    dense.push({ name: `l${i}.w`, shape: [h[i - 1], h[i]], init: { kind: 'glorot' } });
    dense.push({ name: `l${i}.b`, shape: [h[i]], init: { kind: 'zeros' } });
  }
  dense.push({ name: 'out.w', shape: [h[h.length - 1], 1], init: { kind: 'glorot' } });
  dense.push({ name: 'out.b', shape: [1], init: { kind: 'zeros' } });
  return { model, seed, dense, tables };
}
