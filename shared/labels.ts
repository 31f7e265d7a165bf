// How an event becomes a 0/1 target: the label rule a dataset schema or a config names. Used
// by every kind that learns a binary outcome (CTR today).
import { z } from 'zod';
import { EVENT_TYPES } from './events.ts';

export const labelRuleSchema = z.discriminatedUnion('kind', [
  /** Events of these types are positives, every other type a negative (e.g. Taobao: view = 0). */
  z.object({ kind: z.literal('types'), positive: z.array(z.enum(EVENT_TYPES)).min(1, 'must list event types') }).strict(),
  /** Every event is a positive; the worker samples `negatives` per positive by item popularity. */
  z.object({
    kind: z.literal('implicit'),
    negatives: z.number().int().min(1).max(100),
    /** Past positives whose popularity the negatives follow. Default 1000000. */
    window: z.number().int().min(1).max(1e8).optional(),
  }).strict(),
  /** value >= min is a positive (e.g. a rating of 4 or more). */
  z.object({ kind: z.literal('threshold'), min: z.number().finite() }).strict(),
  /**
   * An impression (an event of any other type) is a positive when the same user acts on the
   * same item with one of `positive` within `windowMinutes` after it (a view followed by a cart
   * or a buy), else a negative when the window closes. The actions are not examples of their
   * own. The label arrives late: the example is scored at the impression and waits in the
   * label joiner (shared/models/label-joiner.ts).
   */
  z.object({
    kind: z.literal('window'),
    positive: z.array(z.enum(EVENT_TYPES)).min(1, 'must list event types'),
    windowMinutes: z.number().positive().max(366 * 24 * 60),
    /** Impressions waiting per event shard at most; beyond it the oldest is dropped (counted). Default 1000000. */
    maxPending: z.number().int().min(1).max(50_000_000).optional(),
    /**
     * When a labelled impression is trained (and counted): at the window's end whatever came
     * (default: every label equally late, see label-joiner.ts), or as soon as the action comes.
     */
    release: z.enum(['window', 'outcome']).optional(),
  }).strict(),
]);

export type LabelRule = z.infer<typeof labelRuleSchema>;

export function labelOf(rule: LabelRule, ev: { type: string; value?: number }): number {
  switch (rule.kind) {
    case 'implicit': return 1;
    case 'types': return (rule.positive as readonly string[]).includes(ev.type) ? 1 : 0;
    case 'threshold': return (ev.value ?? -Infinity) >= rule.min ? 1 : 0;
    // Read from the event alone, without the window (what /v1/predict-style uses need): an action is positive.
    case 'window': return (rule.positive as readonly string[]).includes(ev.type) ? 1 : 0;
  }
}
