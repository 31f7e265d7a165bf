// The risk kind's settings (models[].settings of a model of kind "risk").
import { z } from 'zod';
import { UPDATE_RULE_NAMES } from '../../update-rules/registry.ts';

const featureName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, 'must be a context key or user / category');

export const riskConfigSchema = z.object({
  /**
   * Categorical features, each a field of its own: context keys of the transaction, or `user`
   * / `category` for the event's ids. Context keys not listed here or in `numeric` are not read.
   */
  categorical: z.array(featureName).max(64).default([]),
  /** Context keys read as numbers: standardised online (running mean and variance of this
   *  event shard), a linear term each, and a field of their bucket (so they interact too). */
  numeric: z.array(featureName).max(64).default([]),
  /** Pairs of features crossed into one more field each (a value pair hashed together). */
  crosses: z.array(z.tuple([featureName, featureName])).max(64).default([]),
  /**
   * Latent factors per field pair (a field-aware factorisation machine, Juan et al. 2016); 0 =
   * a logistic regression on the hashed features. Default 4 — see docs/MODELS.md (claims,
   * tuned on the first 30%: LR 0.817 AUC, FM 0.824, FFM k=4 0.825, k=2 0.829; on all of it
   * 0.833 / 0.844 / 0.866 / 0.866).
   */
  factors: z.number().int().min(0).max(16).default(4),
  /** Hash buckets of the feature tables (one row per feature value and field). Default 65536. */
  buckets: z.number().int().min(2).max(2 ** 22).default(1 << 16),
  /** Learning-rate multiplier of every table (ps.learningRate x this; Adagrad). Default 3, the best AUC on the claims' first 30% (128 per step; AUC / AP 0.8209 / 0.256 at 1, 0.8232 / 0.258 at 1.5, 0.8235 / 0.258 at 2, 0.8241 / 0.252 at 3, 0.8216 / 0.244 at 4, 0.8199 / 0.247 at 5). */
  lrScale: z.number().positive().default(3),
  /** Update rule of the tables. Default adagrad. */
  optimizer: z.enum(UPDATE_RULE_NAMES).default('adagrad'),
  /** Loss weight of a positive (class imbalance); 1 = plain logloss. Default 1 — see docs/MODELS.md. */
  positiveWeight: z.number().positive().max(1000).default(1),
  /** Focal loss (Lin et al. 2017): each row's logloss scaled by (1 - p_t)^gamma, so well-classified rows count less; 0 = plain logloss. Default 0 — see docs/MODELS.md. */
  focalGamma: z.number().min(0).max(5).default(0),
  /** Late labels: how a scored transaction waits for its outcome (shared/models/label-joiner.ts). */
  labels: z.object({
    /** wait: train when the outcome (or the window's end) comes; fake-negative: train at once
     *  as a negative, again as a positive when one comes (Ktena et al. 2019, FN weighting). Default wait. */
    mode: z.enum(['wait', 'fake-negative']).default('wait'),
    /** Event-time days after which a transaction without an outcome is a negative. Default 90. */
    windowDays: z.number().positive().max(3650).default(90),
    /** Transactions held per event shard at most; beyond it the oldest is dropped unlabelled (counted). Default 1000000. */
    maxPending: z.number().int().min(1).max(50_000_000).default(1_000_000),
  }).strict().prefault({}),
}).strict();

export type RiskModelConfig = z.infer<typeof riskConfigSchema>;
