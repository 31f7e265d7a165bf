// The CTR kind's settings (models[].settings of a model of kind "ctr"), with their defaults.
import { z } from 'zod';
import { labelRuleSchema } from '../../labels.ts';
import { UPDATE_RULE_NAMES } from '../../update-rules/registry.ts';
import { STAT_KEYS, STAT_KEY_FIELDS } from './stats.ts';

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
  /** Learning-rate multiplier of the embedding tables. Default 20: a per-row rate far above the
   *  dense one is what lets single-pass learning move an id; 20 against the earlier 50, on the
   *  first 30% of each stream, with the statistics: Taobao +0.001, MovieLens +0.003, Online
   *  Retail -0.0004 AUC (docs/MODELS.md). */
  embLrScale: z.number().positive().default(20),
  /** Learning-rate multiplier of the per-id bias tables (the wide part). Default 10 (with Adagrad; see biasOptimizer). */
  biasLrScale: z.number().positive().default(10),
  /** Update rule of the sparse tables. Default momentum. */
  sparseOptimizer: z.enum(UPDATE_RULE_NAMES).default('momentum'),
  /** Update rule of the per-id bias tables. Default adagrad: per-row steps that shrink with a row's
   *  evidence (measured with the statistics below in docs/MODELS.md). */
  biasOptimizer: z.enum(UPDATE_RULE_NAMES).default('adagrad'),
  /** How an event becomes a 0/1 label. Default: cart, fav and buy are positives. */
  labels: labelRuleSchema.default({ kind: 'types', positive: ['cart', 'fav', 'buy'] }),
  /** Online statistics as model inputs: per key, counter tables of impressions and positives
   *  (stats.ts). A list's keys need their fields among `fields`; [] turns them off. Default
   *  'auto': every key of user, item, category, user_category, user_item whose fields are there. */
  stats: z.union([z.literal('auto'), z.array(z.enum(STAT_KEYS))]).default('auto'),
  /** Half-life of the statistics in event time (ms); 0 counts for ever. Default 0. */
  statsHalfLifeMs: z.number().min(0).default(0),
  /** Where the statistics go: a linear (wide) term of the logit, the MLP's first layer, or both. Default wide. */
  statsInto: z.enum(['wide', 'deep', 'both']).default('wide'),
  /** Update rule of the statistics' wide weights. Default adagrad. */
  statsWideOptimizer: z.enum(UPDATE_RULE_NAMES).default('adagrad'),
  /** Learning-rate multiplier of the statistics' wide weights. Default 10. */
  statsWideLrScale: z.number().positive().default(10),
}).strict().superRefine((c, ctx) => {
  if (c.stats === 'auto') return;
  c.stats.forEach((k, i) => {
    for (const f of STAT_KEY_FIELDS[k]) {
      if (!c.fields.includes(f)) ctx.addIssue({ code: 'custom', path: ['stats', i], message: `statistic "${k}" needs field "${f}" in fields` });
    }
  });
  if (new Set(c.stats).size !== c.stats.length) ctx.addIssue({ code: 'custom', path: ['stats'], message: 'names a statistic twice' });
});

export type CtrModelConfig = z.infer<typeof ctrConfigSchema>;

export const CTR_MODEL_DEFAULTS: CtrModelConfig = ctrConfigSchema.parse({});
