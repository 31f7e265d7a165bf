// The click/conversion model's parameters: per-field embeddings and per-id biases (sparse,
// hashed) feeding an MLP whose first layer is split per field (no concat on the hot path).
//   logit = out.b + sum_f bias.<f>[id_f] + MLP(emb.<f>[id_f] for every f [, stats]) [+ stat.wide . stats]
// where stats are the online statistics' features (stats.ts), when settings.stats names any.
import type { DenseSpec, ParamSpec, TableSpec } from '../../param-spec.ts';
import type { CtrModelConfig } from './config.ts';
import { STAT_FEATURES, STAT_FIRST_LAYER, STAT_WIDE_TABLE, statKeys, statTables } from './stats.ts';

export const embTable = (field: string): string => `emb.${field}`;
export const biasTable = (field: string): string => `bias.${field}`;
export const firstLayerWeight = (field: string): string => `l0.w.${field}`;

export function ctrParamSpec(model: string, seed: number, cfg: CtrModelConfig): ParamSpec {
  const tables: TableSpec[] = [];
  for (const f of cfg.fields) {
    tables.push({ name: embTable(f), dim: cfg.embDim, rows: cfg.buckets, init: { kind: 'uniform', scale: 0.05 },
      lrScale: cfg.embLrScale, optimizer: cfg.sparseOptimizer });
    tables.push({ name: biasTable(f), dim: 1, rows: cfg.buckets, init: { kind: 'zeros' },
      lrScale: cfg.biasLrScale, optimizer: cfg.biasOptimizer ?? cfg.sparseOptimizer });
  }
  const K = statKeys(cfg).length;
  if (K) {
    tables.push(...statTables(cfg));
    // A one-row table rather than a dense tensor: its own rule and rate (the value kind's global bias does the same).
    if (cfg.statsInto !== 'deep') {
      tables.push({ name: STAT_WIDE_TABLE, dim: K * STAT_FEATURES, rows: 1, init: { kind: 'zeros' },
        lrScale: cfg.statsWideLrScale, optimizer: cfg.statsWideOptimizer });
    }
  }
  const dense: DenseSpec[] = [];
  const h = cfg.hidden;
  for (const f of cfg.fields) dense.push({ name: firstLayerWeight(f), shape: [cfg.embDim, h[0]], init: { kind: 'glorot' } });
  if (K && cfg.statsInto !== 'wide') dense.push({ name: STAT_FIRST_LAYER, shape: [K * STAT_FEATURES, h[0]], init: { kind: 'glorot' } });
  dense.push({ name: 'l0.b', shape: [h[0]], init: { kind: 'zeros' } });
  for (let i = 1; i < h.length; i++) {
    dense.push({ name: `l${i}.w`, shape: [h[i - 1], h[i]], init: { kind: 'glorot' } });
    dense.push({ name: `l${i}.b`, shape: [h[i]], init: { kind: 'zeros' } });
  }
  dense.push({ name: 'out.w', shape: [h[h.length - 1], 1], init: { kind: 'glorot' } });
  dense.push({ name: 'out.b', shape: [1], init: { kind: 'zeros' } });
  return { model, seed, dense, tables };
}
