// The demand kind's settings (models[].settings of a model of kind "demand").
import { z } from 'zod';
import { UPDATE_RULE_NAMES } from '../../update-rules/registry.ts';

const isoDate = z.string().regex(/^\d{4}-\d\d-\d\d$/, 'must be a date YYYY-MM-DD');

export const demandConfigSchema = z.object({
  /** Trading days forecast at each day's close: h = 1 .. horizon. Default 6 (a trading week here). */
  horizon: z.number().int().min(1).max(14).default(6),
  /** An item is forecast while it sold within this many trading days. Default 24. */
  activeDays: z.number().int().min(1).max(28).default(24),
  /** Hash buckets of the item and category tables. Default 65536. */
  buckets: z.number().int().min(2).max(2 ** 24).default(1 << 16),
  /** Context key of the unit price (a number as a string); events without it keep the item's last price. Default "price". */
  priceField: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/).default('price'),
  /**
   * Days the shop is known to be closed, as [first, last] dates (UTC), e.g. a Christmas break:
   * the forecast skips them when it dates the next trading days, and "days to the next
   * closure" is a feature. Weekdays that never trade are learned from the stream. Default none.
   */
  closures: z.array(z.tuple([isoDate, isoDate])).max(1000).default([]),
  /**
   * The loss: 'poisson' (log link; the forecast is a mean, which is what RMSSE and WAPE of
   * totals reward) or 'log1p' (squared error of log(1 + units); a median-like forecast).
   * Default poisson — see docs/MODELS.md for the measurement.
   */
  loss: z.enum(['poisson', 'log1p']).default('poisson'),
  /**
   * Learning-rate multiplier of every table (weights and per-item biases are all tables, Adagrad).
   * Default 0.3: the learned corrections to the line-weekday offset are mostly noise here; on the
   * Online Retail replay 0.3 vs 1 scored WRMSSE1 1.398 vs 1.399, WAPE1 1.051 vs 1.060, store
   * WAPE1 0.231 vs 0.242 (origins from 2011-10-02) and 1.482 vs 1.481, 1.077 vs 1.095, 0.269
   * vs 0.275 (from 2011-07-03); 0.1 biased the forecast low (-3% / -11% units).
   */
  lrScale: z.number().positive().default(0.3),
  /** Update rule of the tables. Default adagrad: per-coordinate steps, bounded under stale pushes. */
  optimizer: z.enum(UPDATE_RULE_NAMES).default('adagrad'),
}).strict();

export type DemandModelConfig = z.infer<typeof demandConfigSchema>;
