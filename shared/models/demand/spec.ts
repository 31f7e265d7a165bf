// The demand kind's parameters and the layout of its examples. Every parameter is a table so
// that each gets Adagrad's per-coordinate steps (the value kind's lesson: at the dense rate a
// bias needs many pushes to reach the level, and momentum diverged under stale pushes).
//   log(mean units of the h-th next trading day) = wc[h] . common + wp[h] . perHorizon[h]
//                                                 + item[id][h] + category[id][h]
import type { ParamSpec } from '../../param-spec.ts';
import type { DemandModelConfig } from './config.ts';

/** Features of the item at the forecast origin (the close of a trading day), in log space. */
export const COMMON_FEATURES = [
  'lag1', 'lag2', 'lag6', 'lag12', 'lag24', 'ma6', 'ma24', 'returns24', 'price', 'zeroShare24',
  'age', 'storeTrend', 'weekOfYearSin', 'weekOfYearCos', 'daysToClosure', 'one',
] as const;
/** Features of the target day h: its weekday and the yardsticks for it. */
export const HORIZON_FEATURES = [
  'seasonal', 'weekdayRatio', 'ma24xWeekday', 'sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat',
] as const;

export const C = COMMON_FEATURES.length;
export const P = HORIZON_FEATURES.length;

/**
 * Where things sit in an example's dense row: the model's features, then raw figures the
 * baselines and the metric read: units of the origin day, MA6, MA24, per h the seasonal naive
 * and MA24 x weekday forecasts, the item's naive-error scale, its price, the origin's day
 * number, the line-rate forecast and per h the line rate x weekday (the model's offset).
 */
export function demandLayout(H: number) {
  const perH = C;
  const aux = C + H * P;
  return {
    common: 0, perH, aux,
    lag1: aux, ma6: aux + 1, ma24: aux + 2,
    seasonal: aux + 3, ma24xWeekday: aux + 3 + H,
    scale: aux + 3 + 2 * H, price: aux + 4 + 2 * H, originDay: aux + 5 + 2 * H,
    lineRate: aux + 6 + 2 * H, lineWeekday: aux + 7 + 2 * H,
    // The item's own 32-bit key in two 16-bit halves (exact in float32): the metric scores items
    // by it, since table rows are hashed into buckets and a few items share one.
    itemKeyHi: aux + 7 + 3 * H, itemKeyLo: aux + 8 + 3 * H,
    width: aux + 9 + 3 * H,
  };
}
export type DemandLayout = ReturnType<typeof demandLayout>;

/** Id columns of an example: the item's row and its category's row. */
export const ITEM_ID = 0;
export const CATEGORY_ID = 1;

export const TABLES = { common: 'dm.wc', perHorizon: 'dm.wp', item: 'dm.item', category: 'dm.cat' } as const;

export function demandParamSpec(model: string, seed: number, cfg: DemandModelConfig): ParamSpec {
  const H = cfg.horizon;
  const t = (name: string, dim: number, rows: number) => ({ name, dim, rows, init: { kind: 'zeros' as const }, lrScale: cfg.lrScale, optimizer: cfg.optimizer });
  return {
    model, seed, dense: [],
    tables: [t(TABLES.common, H * C, 1), t(TABLES.perHorizon, H * P, 1), t(TABLES.item, H, cfg.buckets), t(TABLES.category, H, cfg.buckets)],
  };
}
