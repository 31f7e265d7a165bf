// The CTR kind's settings (models[].settings of a model of kind "ctr"), with their defaults.
import { z } from 'zod';
import { labelRuleSchema } from '../../labels.ts';
import { UPDATE_RULE_NAMES } from '../../update-rules/registry.ts';

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, 'must be a field name ([A-Za-z_][A-Za-z0-9_]{0,31})');

export const ctrConfigSchema = z.object({
  /** Feature fields: user, item, category, hour, weekday, or any event.context key. */
  fields: z.array(fieldName).min(1).default(['user', 'item', 'category', 'hour', 'weekday']),
  /** Floats per embedding row. Default 8. */
  embDim: z.number().int().min(1).max(512).default(8),
  /** Hash buckets per field table. Default 262144 (2^18). */
  buckets: z.number().int().min(2).max(2 ** 30).default(1 << 18),
  /** Hidden layer widths of the MLP. Default [64, 32]. */
  hidden: z.array(z.number().int().min(1).max(8192)).min(1).default([64, 32]),
  /** Learning-rate multiplier of the embedding tables. Default 50 (tuned on Online Retail: a
   *  per-row rate far above the dense one is what lets single-pass learning move an id). */
  embLrScale: z.number().positive().default(50),
  /** Learning-rate multiplier of the per-id bias tables (the wide part). Default 1. */
  biasLrScale: z.number().positive().default(1),
  /** Update rule of the sparse tables. Default momentum. */
  sparseOptimizer: z.enum(UPDATE_RULE_NAMES).default('momentum'),
  /** How an event becomes a 0/1 label. Default: cart, fav and buy are positives. */
  labels: labelRuleSchema.default({ kind: 'types', positive: ['cart', 'fav', 'buy'] }),
}).strict();

export type CtrModelConfig = z.infer<typeof ctrConfigSchema>;

export const CTR_MODEL_DEFAULTS: CtrModelConfig = ctrConfigSchema.parse({});
