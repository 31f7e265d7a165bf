// What the risk kind serves: POST /v1/score { events: [transactions], top? } -> per transaction
// the probability that it turns out bad, and the features that pushed the score most (a
// reviewer wants to know why), with the versions used. Numeric features are standardised by
// running statistics of the transactions this node has read from the event log, as a worker
// standardises them by those of its event shard.
import { validateEvent, type FlywheelEvent } from '../../events.ts';
import { HttpError } from '../../http.ts';
import { emptyBatch } from '../batch.ts';
import { parseJsonObject, requestEvents } from '../serving-util.ts';
import { EVENT_SCHEMA, withVersions, type RouteDocs } from '../../openapi.ts';
import type { ServingContext, ServingPlugin } from '../types.ts';
import type { RiskModelConfig } from './config.ts';
import { NumericStats, featureValue, featurizeTransaction, numericValue } from './examples.ts';
import type { RiskModel } from './model.ts';
import { riskFields } from './spec.ts';

const MAX_TOP = 20;

/** How the route below is called (the inference node's /openapi.json). */
export const riskRouteDocs: RouteDocs = {
  'POST /v1/score': {
    summary: 'The probability that each transaction turns out bad, with the features that pushed it most',
    request: {
      type: 'object',
      properties: {
        events: { type: 'array', minItems: 1, items: EVENT_SCHEMA, description: 'Transactions (userId, itemId, type and ts may be left out)' },
        top: { type: 'integer', minimum: 0, maximum: MAX_TOP, default: 5, description: 'Reasons per transaction' },
      },
      required: ['events'],
    },
    response: withVersions({
      properties: {
        scores: { type: 'array', items: { type: 'number' } },
        explanations: {
          type: 'array',
          items: { type: 'array', items: { type: 'object', properties: { feature: { type: 'string' }, value: { type: 'string' }, contribution: { type: 'number' } }, required: ['feature', 'value', 'contribution'] } },
        },
        baseLogit: { type: 'number' },
      },
      required: ['scores', 'explanations', 'baseLogit'],
    }),
  },
};

export function riskServing(ctx: ServingContext<RiskModelConfig>): ServingPlugin {
  const cfg = ctx.settings;
  const fields = riskFields(cfg);
  const F = fields.length, N = cfg.numeric.length;
  const shape = { idWidth: F, denseWidth: N, targetWidth: 2 };
  const stats = new NumericStats(N);
  const model = ctx.predictor as RiskModel;
  const valueOf = (ev: FlywheelEvent, k: number): string => {
    if (k < cfg.categorical.length) return featureValue(ev, cfg.categorical[k]);
    k -= cfg.categorical.length;
    if (k < cfg.crosses.length) return `${featureValue(ev, cfg.crosses[k][0])} x ${featureValue(ev, cfg.crosses[k][1])}`;
    k -= cfg.crosses.length;
    return ev.context?.[cfg.numeric[k]] ?? '';
  };
  return {
    docs: riskRouteDocs,
    routes: {
      'POST /v1/score': (_req, body) => {
        const o = parseJsonObject(body);
        const raws = requestEvents(o, ctx.maxBatch, 'transaction');
        const top = o.top === undefined ? 5 : o.top;
        if (!(Number.isInteger(top) && (top as number) >= 0 && (top as number) <= MAX_TOP)) throw new HttpError(400, `top must be an integer in 0..${MAX_TOP}`);
        const b = emptyBatch(shape, raws.length);
        const events = raws.map((raw, i) => {
          let ev: FlywheelEvent;
          try {
            ev = validateEvent({ userId: '-', itemId: `score-${i}`, type: 'transaction', ts: Date.now(), ...(raw && typeof raw === 'object' ? raw : {}) });
          } catch (err) {
            throw new HttpError(400, `event ${i}: ${(err as Error).message}`);
          }
          featurizeTransaction(cfg, stats, ev, b.ids, i * F, b.dense, i * N);
          return ev;
        });
        const c = model.contributions(b, ctx.weights());
        const W = F + N;
        const results = events.map((ev, i) => {
          const parts: { feature: string; value: string; contribution: number }[] = [];
          for (let k = 0; k < W; k++) {
            const name = k < F ? fields[k] : `${cfg.numeric[k - F]} (standardised)`;
            parts.push({ feature: name, value: k < F ? valueOf(ev, k) : ev.context?.[cfg.numeric[k - F]] ?? '', contribution: c.parts[i * W + k] });
          }
          parts.sort((x, y) => Math.abs(y.contribution) - Math.abs(x.contribution));
          return {
            score: 1 / (1 + Math.exp(-c.logit[i])),
            reasons: parts.slice(0, top as number).map((p) => ({ ...p, contribution: Math.round(p.contribution * 1e4) / 1e4 })),
          };
        });
        return { scores: results.map((r) => r.score), explanations: results.map((r) => r.reasons), baseLogit: c.bias, ...ctx.versionInfo() };
      },
    },
    onEvents(evs) {
      for (const ev of evs) {
        if (ev.type !== 'transaction') continue;
        cfg.numeric.forEach((name, j) => {
          const x = numericValue(ev, name);
          if (Number.isFinite(x)) stats.add(j, x);
        });
      }
    },
  };
}
