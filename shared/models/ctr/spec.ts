// The click/conversion model's parameters: per-field embeddings and per-id biases (sparse,
// hashed) feeding an MLP whose first layer is split per field (no concat on the hot path).
//   logit = out.b + sum_f bias.<f>[id_f] + MLP(emb.<f>[id_f] for every f)
import type { DenseSpec, ParamSpec, TableSpec } from '../../param-spec.ts';
import type { CtrModelConfig } from './config.ts';

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
