// The retrieval kind's parameters and example layout: two towers scored by a dot product.
//   user tower  u = U[user] + mean over the user's recent items h of H[h]
//   item tower  v = V[item][0..dim), with a bias V[item][dim]
//   score(user, item) = <u, v> + bias + repeat[k] if the item is the user's k-th most recent
//                       (+ the count features' terms, count-features.ts, when countFeatures is set)
// The item table's held rows are the catalogue: every item trained on at least once, as the
// weights say (the same in a worker, the gate and inference). The repeat bonus touches at most
// `history` items per user, so the index still ranks by <[u, 1], [v, bias]> alone and a
// ranking adds it to those few afterwards.
import type { ParamSpec, TableSpec } from '../../param-spec.ts';
import type { BatchShape } from '../batch.ts';
import type { RetrievalModelConfig } from './config.ts';

export const TABLES = { user: 'rt.user', history: 'rt.hist', item: 'rt.item' } as const;
export const REPEAT = 'rt.repeat';
/** The count features' tables (count-features.ts): counters, and their weights. */
export const COUNT_TABLES = { own: 'rt.cnt.own', item: 'rt.cnt.item' } as const;
/** [w_own, w_pop]: the features' weights. */
export const COUNT_WEIGHTS = 'rt.cnt.w';
export const COUNT_FEATURE_NAMES = ['own', 'popularity'] as const;
export type CountFeatureName = (typeof COUNT_FEATURE_NAMES)[number];

/**
 * An example is one (user, item) interaction:
 *   ids     [userRow, itemRow, historyRow_1 .. historyRow_H]  (most recent first; -1 pads)
 *   dense   [log q(item)]  the streaming estimate of the item's share of the stream, before this example
 *   targets [basketScored, scored]  scored = 1 when the example counts in the prequential
 *           figures (its user had history; with newItemsOnly, the item is new to the user);
 *           basketScored = the scored examples of its basket (the normalisation of its figures)
 */
export const ID_USER = 0;
export const ID_ITEM = 1;
export const ID_HISTORY = 2;

export function retrievalShape(cfg: RetrievalModelConfig): BatchShape {
  return { idWidth: ID_HISTORY + cfg.history, denseWidth: 1, targetWidth: 2 };
}

export function retrievalParamSpec(model: string, seed: number, cfg: RetrievalModelConfig): ParamSpec {
  const t = (name: string, dim: number, rows: number) => ({
    name, dim, rows, init: { kind: 'uniform' as const, scale: 0.05 }, lrScale: cfg.lrScale, optimizer: cfg.optimizer,
  });
  return {
    model, seed,
    dense: cfg.repeatTerm ? [{ name: REPEAT, shape: [cfg.history], init: { kind: 'zeros' } }] : [],
    tables: [
      t(TABLES.user, cfg.dim, cfg.userBuckets),
      t(TABLES.history, cfg.dim, cfg.itemBuckets),
      t(TABLES.item, cfg.dim + 1, cfg.itemBuckets),
      ...countTables(cfg),
    ],
  };
}

/** The count features' PS tables: counters (zeros, the counter rule) and a one-row table of their weights. */
export function countTables(cfg: RetrievalModelConfig): TableSpec[] {
  const on = new Set(cfg.countFeatures);
  if (on.size === 0) return [];
  const zeros = { kind: 'zeros' as const };
  return [
    ...(on.has('own') ? [{ name: COUNT_TABLES.own, dim: 1, rows: cfg.countBuckets, init: zeros, optimizer: 'counter' as const }] : []),
    ...(on.has('popularity') ? [{ name: COUNT_TABLES.item, dim: 1, rows: cfg.itemBuckets, init: zeros, optimizer: 'counter' as const }] : []),
    { name: COUNT_WEIGHTS, dim: COUNT_FEATURE_NAMES.length, rows: 1, init: zeros, lrScale: cfg.lrScale, optimizer: cfg.optimizer },
  ];
}
