// What the demand kind serves: POST /v1/forecast { itemIds: [...] | "store", horizonDays? }
// -> units forecast for each of the next horizonDays trading days (dated), per item or for
// the store total, from the newest closed day, with the versions used. The inference node
// keeps its own copy of the items' recent days (a DemandExampleSource over every event shard),
// so a forecast is ready as soon as the day closes here; weights come from the serving
// version like every kind's.
import type { FlywheelEvent } from '../../events.ts';
import { HttpError } from '../../http.ts';
import { emptyBatch, copyExample } from '../batch.ts';
import { parseJsonObject } from '../serving-util.ts';
import { withVersions, type RouteDocs } from '../../openapi.ts';
import type { ServingContext, ServingPlugin } from '../types.ts';
import type { DemandModelConfig } from './config.ts';
import { DemandExampleSource } from './examples.ts';

const isoDay = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);

const UNITS = { type: 'array', items: { type: 'number' }, description: 'Units per trading day, one per entry of days' };

/** How the route below is called (the inference node's /openapi.json). */
export const demandRouteDocs: RouteDocs = {
  'POST /v1/forecast': {
    summary: 'Units forecast for the next trading days, per item or for the store, from the newest closed day',
    request: {
      type: 'object',
      properties: {
        itemIds: { oneOf: [{ const: 'store' }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 128 } }] },
        horizonDays: { type: 'integer', minimum: 1, description: 'Default and maximum: the model\'s horizon' },
      },
      required: ['itemIds'],
    },
    response: withVersions({
      properties: {
        origin: { type: 'string', format: 'date', description: 'The newest closed day' },
        days: { type: 'array', items: { type: 'string', format: 'date' } },
        forecasts: { type: 'object', additionalProperties: UNITS, description: 'By item (item ids asked for)' },
        inactive: { type: 'array', items: { type: 'string' }, description: 'Items asked for without a recent sale: not forecast' },
        store: UNITS,
        items: { type: 'integer', description: 'Items in the store total' },
      },
      required: ['origin', 'days'],
    }),
    errors: { 503: 'no trading day has closed on this node yet' },
  },
};

export function demandServing(ctx: ServingContext<DemandModelConfig>): ServingPlugin {
  const cfg = ctx.settings;
  const H = cfg.horizon;
  const source = new DemandExampleSource(cfg);
  /** Position of each item in the newest origin's batch. */
  let index = new Map<string, number>();
  let indexedDay = NaN;
  const latest = () => {
    const f = source.latestForecasts();
    if (!f) throw new HttpError(503, 'no trading day has closed here yet: forecasts start at the first day\'s close');
    if (f.day !== indexedDay) {
      index = new Map(f.items.map((h, i) => [h.itemId, i]));
      indexedDay = f.day;
    }
    return f;
  };
  return {
    docs: demandRouteDocs,
    onEvents: (events: readonly FlywheelEvent[]) => { source.push(events); },
    routes: {
      'POST /v1/forecast': (_req, body) => {
        const o = parseJsonObject(body);
        const horizon = o.horizonDays === undefined ? H : o.horizonDays;
        if (typeof horizon !== 'number' || !Number.isInteger(horizon) || horizon < 1 || horizon > H) {
          throw new HttpError(400, `horizonDays must be an integer in 1..${H}`);
        }
        const store = o.itemIds === 'store';
        if (!store && (!Array.isArray(o.itemIds) || o.itemIds.length === 0 || !o.itemIds.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 128))) {
          throw new HttpError(400, 'itemIds must be "store" or a list of item ids (non-empty strings)');
        }
        const ids = store ? [] : [...new Set(o.itemIds as string[])];
        if (ids.length > ctx.maxBatch) throw new HttpError(400, `more than ${ctx.maxBatch} items in one request`);
        const f = latest();
        const rows = store ? [...Array(f.batch.size).keys()] : ids.map((id) => index.get(id)).filter((i): i is number => i !== undefined);
        // The store total is the sum over every active item; it is predicted in pieces of maxBatch.
        const p = new Float32Array(rows.length * H);
        for (let a = 0; a < rows.length; a += ctx.maxBatch) {
          const e = Math.min(rows.length, a + ctx.maxBatch);
          const part = emptyBatch(f.batch, e - a);
          for (let j = a; j < e; j++) copyExample(f.batch, rows[j], part, j - a);
          p.set(ctx.predictor.predict(part, ctx.weights()), a * H);
        }
        const days = new Float64Array(H);
        source.calendar.nextTradingDays(f.day, H, days);
        const round = (x: number) => Math.round(x * 1000) / 1000;
        const common = { origin: isoDay(f.day), days: [...days.subarray(0, horizon)].map(isoDay), ...ctx.versionInfo() };
        if (store) {
          const total = new Array(horizon).fill(0);
          for (let i = 0; i < rows.length; i++) for (let h = 0; h < horizon; h++) total[h] += p[i * H + h];
          return { ...common, store: total.map(round), items: rows.length };
        }
        const forecasts: Record<string, number[]> = {};
        let j = 0;
        for (const id of ids) {
          if (!index.has(id)) continue;
          forecasts[id] = [...p.subarray(j * H, j * H + horizon)].map(round);
          j++;
        }
        // An item without a sale in activeDays is not forecast: say which, rather than guess 0.
        const inactive = ids.filter((id) => !index.has(id));
        return { ...common, forecasts, ...(inactive.length ? { inactive } : {}) };
      },
    },
  };
}
