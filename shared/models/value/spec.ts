// The value kind's parameters: a global bias, a weight per dense feature, and a per-id bias
// table per hashed field.
//   prediction = global[0] + w . dense + sum_f bias.<f>[id_f]
// The global bias is a one-row table rather than a dense tensor so that it gets a table's own
// learning rate: at the dense rate it needs ~50 pushes to reach the mean and the first window
// is wasted.
import type { ParamSpec } from '../../param-spec.ts';
import type { ValueModelConfig } from './config.ts';

/** Dense features of every example: hour of day and day of week, scaled to [0, 1]. */
export const VALUE_DENSE_FEATURES = ['hour', 'weekday'] as const;

export const valueBiasTable = (field: string): string => `vbias.${field}`;
export const VALUE_GLOBAL_TABLE = 'vglobal';

export function valueParamSpec(model: string, seed: number, cfg: ValueModelConfig): ParamSpec {
  return {
    model, seed,
    dense: [
      { name: 'v.w', shape: [VALUE_DENSE_FEATURES.length], init: { kind: 'zeros' } },
    ],
    tables: [
      { name: VALUE_GLOBAL_TABLE, dim: 1, rows: 1, init: { kind: 'zeros' }, lrScale: cfg.biasLrScale, optimizer: cfg.optimizer },
      ...cfg.fields.map((f) => ({ name: valueBiasTable(f), dim: 1, rows: cfg.buckets, init: { kind: 'zeros' as const }, lrScale: cfg.biasLrScale, optimizer: cfg.optimizer })),
    ],
  };
}
