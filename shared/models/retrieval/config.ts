// The retrieval kind's settings (models[].settings of a model of kind "retrieval").
import { z } from 'zod';
import { EVENT_TYPES } from '../../events.ts';
import { UPDATE_RULE_NAMES } from '../../update-rules/registry.ts';

const INTERACTIONS = EVENT_TYPES.filter((t) => t !== 'return' && t !== 'transaction' && t !== 'outcome');

export const retrievalConfigSchema = z.object({
  /** Event types that count as a user's interaction with an item (a positive). Default every interaction type. */
  interactions: z.array(z.enum(EVENT_TYPES)).min(1).default([...INTERACTIONS]),
  /** Events whose value is below this are not interactions (e.g. ratings below 4); unset = every value. */
  minValue: z.number().optional(),
  /** Width of the user and item vectors. Default 32. */
  dim: z.number().int().min(2).max(256).default(32),
  /** The user's most recent distinct items pooled into the user tower (and what a new-items ranking skips). Default 20. */
  history: z.number().int().min(1).max(200).default(20),
  /** Hash buckets of the user table and of the item tables. Default 2^18 each. */
  userBuckets: z.number().int().min(2).max(2 ** 24).default(1 << 18),
  itemBuckets: z.number().int().min(2).max(2 ** 24).default(1 << 18),
  /** Softmax temperature of the in-batch loss: logits are scores / temperature. Default 0.2. */
  temperature: z.number().positive().max(10).default(0.2),
  /**
   * The softmax's negatives: 'catalogue' — every item the catalogue holds (exact, and the cost
   * of scoring the catalogue once per basket, which the prequential ranking pays anyway);
   * 'batch' — the batch's own items, each logit corrected by log q (for catalogues too large to
   * score per step). Default batch: 'catalogue' pushes a gradient for every item row each
   * step, which a PS pays per push (MovieLens HR@10 0.035 vs 0.032, 3x the time; docs/MODELS.md).
   */
  negatives: z.enum(['catalogue', 'batch']).default('batch'),
  /** Subtract log q(item) from every in-batch logit (Yi et al. 2019), q from the streaming estimator. Default true. */
  logQ: z.boolean().default(true),
  /** The estimator's step size alpha (Yi et al. 2019, Algorithm 2). Default 0.05. */
  frequencyAlpha: z.number().gt(0).max(1).default(0.05),
  /** A learned bonus for items among the user's recent ones (repeat interactions): one value per history position. Default true. */
  repeatTerm: z.boolean().default(true),
  /** Learning-rate multiplier of the tables (ps.learningRate x this). Default 10 (MovieLens HR@10: 0.019 at 1, 0.029 at 3, 0.032 at 10, 0.027 at 20, 0.006 at 50). */
  lrScale: z.number().positive().default(10),
  /** Update rule of the tables. Default adagrad. */
  optimizer: z.enum(UPDATE_RULE_NAMES).default('adagrad'),
  /**
   * What one prequential test is: 'timestamp' — the distinct items a user took at one event time
   * (an invoice's lines, ratings given in the same second) are one basket, ranked together by
   * the state before it; 'event' — every event is its own. Default timestamp.
   */
  basketBy: z.enum(['timestamp', 'event']).default('timestamp'),
  /**
   * Score only items new to the user, and leave the user's recent history (the last `history`
   * distinct items) out of the ranking ("what will they discover"). Training is unchanged. Default false.
   */
  newItemsOnly: z.boolean().default(false),
  /**
   * Counts as features of the item score, each times a learned weight (count-features.ts):
   * 'own' — log1p(times the user took the item), for the user's recent items; 'popularity' —
   * log1p(times the item was taken). Kept in PS counter tables. Default none.
   */
  countFeatures: z.array(z.enum(['own', 'popularity'])).default([]),
  /** Hash buckets of the (user, item) counter table of the 'own' feature. Default 2^20. */
  countBuckets: z.number().int().min(2).max(2 ** 26).default(1 << 20),
  /** Users whose history is kept, per event shard; the least recently active is forgotten past it (counted). Default 1000000. */
  maxUsers: z.number().int().min(1).max(50_000_000).default(1_000_000),
}).strict();

export type RetrievalModelConfig = z.infer<typeof retrievalConfigSchema>;
