// The risk kind's parameters and example layout.
//   logit = bias + sum_f w[id_f] + sum_j u_j x_j + sum_{f<g} <V[id_f](g), V[id_g](f)>
// w: a weight per feature value (the logistic regression), u: a weight per standardised
// numeric feature, V[id](g): the value's k factors for its interaction with field g (FFM).
// Every parameter is a table, so each gets Adagrad's per-coordinate steps.
import type { ParamSpec } from '../../param-spec.ts';
import type { RiskModelConfig } from './config.ts';

export const TABLES = { linear: 'rk.w', factors: 'rk.v', numeric: 'rk.num' } as const;

/** The fields of an example, in id-column order: categorical, crosses, numeric buckets. */
export function riskFields(cfg: RiskModelConfig): string[] {
  return [...cfg.categorical, ...cfg.crosses.map(([a, b]) => `${a}x${b}`), ...cfg.numeric.map((n) => `${n}#`)];
}

export function riskParamSpec(model: string, seed: number, cfg: RiskModelConfig): ParamSpec {
  const F = riskFields(cfg).length;
  const t = (name: string, dim: number, rows: number, init: ParamSpec['tables'][number]['init']) => ({ name, dim, rows, init, lrScale: cfg.lrScale, optimizer: cfg.optimizer });
  return {
    model, seed, dense: [],
    tables: [
      t(TABLES.linear, 1, cfg.buckets, { kind: 'zeros' }),
      // numeric weights, then the bias
      t(TABLES.numeric, cfg.numeric.length + 1, 1, { kind: 'zeros' }),
      ...(cfg.factors > 0 && F > 1 ? [t(TABLES.factors, F * cfg.factors, cfg.buckets, { kind: 'uniform', scale: 0.01 })] : []),
    ],
  };
}
