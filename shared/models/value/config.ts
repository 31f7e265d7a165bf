// The value kind's settings (models[].settings of a model of kind "value").
import { z } from 'zod';
import { EVENT_TYPES } from '../../events.ts';

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, 'must be a field name ([A-Za-z_][A-Za-z0-9_]{0,31})');

export const valueConfigSchema = z.object({
  /** Hashed id fields, each with a per-id bias table. Default ['user', 'item']. */
  fields: z.array(fieldName).min(1).default(['user', 'item']),
  /** Hash buckets per field table. Default 65536. */
  buckets: z.number().int().min(2).max(2 ** 30).default(1 << 16),
  /** Events of these types carry the value to learn (others are ignored). Default ['buy']. */
  types: z.array(z.enum(EVENT_TYPES)).min(1).default(['buy']),
  /** Learn log(1 + value) (counts, amounts: heavy tails) or the value itself. Default log1p. */
  target: z.enum(['log1p', 'raw']).default('log1p'),
  /** Learning-rate multiplier of the bias tables. Default 3 (on Online Retail, 60k purchases:
   *  prequential RMSE of log1p(units) 0.974 at 1, 0.968 at 3, 1.034 at 10, 1.321 at 30; the
   *  running mean 1.026, the per-item running mean 0.947). */
  biasLrScale: z.number().positive().default(3),
}).strict();

export type ValueModelConfig = z.infer<typeof valueConfigSchema>;
