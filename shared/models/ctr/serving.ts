// What the CTR kind serves: POST /v1/predict (a probability per event) and POST /v1/recommend
// (re-ranks the caller's candidates for a user), each naming the versions it used.
import { validateEvent } from '../../events.ts';
import { featurizeInto } from '../../features.ts';
import { HttpError } from '../../http.ts';
import type { ServingContext, ServingPlugin } from '../types.ts';
import type { CtrModelConfig } from './config.ts';
import { emptyBatch } from '../batch.ts';
import { parseJsonObject } from '../serving-util.ts';
import { EVENT_SCHEMA, withVersions, type RouteDocs } from '../../openapi.ts';

const CANDIDATE = { oneOf: [{ type: ['string', 'integer'] }, { type: 'object', properties: { itemId: { type: ['string', 'integer'] }, categoryId: { type: ['string', 'integer'] } }, required: ['itemId'] }] };

/** How the routes below are called (the inference node's /openapi.json). */
export const ctrRouteDocs: RouteDocs = {
  'POST /v1/predict': {
    summary: 'The probability of a positive (click, purchase) for each event',
    request: { type: 'object', properties: { events: { type: 'array', minItems: 1, items: EVENT_SCHEMA, description: 'type and ts may be left out' } }, required: ['events'] },
    response: withVersions({ properties: { scores: { type: 'array', items: { type: 'number' }, description: 'One per event, in order' } }, required: ['scores'] }),
  },
  'POST /v1/recommend': {
    summary: 'Re-ranks the caller\'s candidate items for a user, best first',
    request: {
      type: 'object',
      properties: {
        userId: { type: ['string', 'integer'] },
        candidates: { type: 'array', minItems: 1, items: CANDIDATE, description: 'Item ids or { itemId, categoryId }; a repeated item is ranked once' },
        k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
        context: { type: 'object', additionalProperties: { type: 'string' } },
        ts: { type: 'number' },
      },
      required: ['userId', 'candidates'],
    },
    response: withVersions({ properties: { items: { type: 'array', items: { type: 'object', properties: { itemId: { type: 'string' }, score: { type: 'number' } }, required: ['itemId', 'score'] } } }, required: ['items'] }),
  },
};

export function ctrServing(ctx: ServingContext<CtrModelConfig>): ServingPlugin {
  const { fields, buckets } = ctx.settings;
  const F = fields.length;
  const rows = fields.map(() => buckets);

  function score(rawEvents: unknown[]): Float32Array {
    if (rawEvents.length === 0) throw new HttpError(400, 'no events to score');
    if (rawEvents.length > ctx.maxBatch) throw new HttpError(400, `more than ${ctx.maxBatch} events in one request`);
    const b = emptyBatch({ idWidth: F, denseWidth: 0, targetWidth: 1 }, rawEvents.length);
    rawEvents.forEach((raw, i) => {
      const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      let ev;
      try {
        ev = validateEvent({ type: 'view', ts: Date.now(), ...r });
      } catch (err) {
        throw new HttpError(400, `event ${i}: ${(err as Error).message}`);
      }
      featurizeInto(ev, fields, rows, b.ids, i * F);
    });
    return ctx.predictor.predict(b, ctx.weights());
  }

  return {
    docs: ctrRouteDocs,
    routes: {
      'POST /v1/predict': (_req, body) => {
        const o = parseJsonObject(body);
        if (!Array.isArray(o.events)) throw new HttpError(400, 'body must be { "events": [ ... ] }');
        const scores = score(o.events);
        return { scores: Array.from(scores), ...ctx.versionInfo() };
      },
      'POST /v1/recommend': (_req, body) => {
        const o = parseJsonObject(body);
        // A JSON number, not "5" or true: a client sending those has a bug worth hearing about.
        const k = o.k === undefined ? 10 : o.k;
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 1000) throw new HttpError(400, 'k must be an integer (a JSON number) in 1..1000');
        if (typeof o.userId !== 'string' && typeof o.userId !== 'number') throw new HttpError(400, 'userId is required');
        if (!Array.isArray(o.candidates) || o.candidates.length === 0) throw new HttpError(400, 'candidates must be a non-empty array of item ids or { itemId, categoryId }');
        // An item listed twice is ranked once (its first listing), so it cannot take two of the k places.
        const seen = new Set<string>();
        const evs: Record<string, unknown>[] = [];
        for (const c of o.candidates) {
          const cand = (typeof c === 'object' && c !== null ? c : { itemId: c }) as Record<string, unknown>;
          const id = String(cand.itemId);
          if (seen.has(id)) continue;
          seen.add(id);
          evs.push({ userId: o.userId, itemId: cand.itemId, categoryId: cand.categoryId, context: o.context, ts: o.ts ?? Date.now() });
        }
        const scores = score(evs);
        const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, k);
        return { items: order.map((i) => ({ itemId: String(evs[i].itemId), score: scores[i] })), ...ctx.versionInfo() };
      },
    },
  };
}
