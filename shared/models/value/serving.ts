// What the value kind serves: POST /v1/value { events: [...] } -> the expected value of each
// event (in the event's units: log1p undone), with the versions used.
import { validateEvent } from '../../events.ts';
import { featurizeInto } from '../../features.ts';
import { HttpError } from '../../http.ts';
import { emptyBatch } from '../batch.ts';
import { parseJsonObject, requestEvents } from '../serving-util.ts';
import { EVENT_SCHEMA, withVersions, type RouteDocs } from '../../openapi.ts';
import type { ServingContext, ServingPlugin } from '../types.ts';
import type { ValueModelConfig } from './config.ts';
import { valueDenseInto } from './examples.ts';
import { VALUE_DENSE_FEATURES } from './spec.ts';

/** How the route below is called (the inference node's /openapi.json). */
export const valueRouteDocs: RouteDocs = {
  'POST /v1/value': {
    summary: 'The expected value of each event, in the event\'s units',
    request: { type: 'object', properties: { events: { type: 'array', minItems: 1, items: EVENT_SCHEMA } }, required: ['events'] },
    response: withVersions({ properties: { values: { type: 'array', items: { type: 'number' }, description: 'One per event, in order' } }, required: ['values'] }),
  },
};

export function valueServing(ctx: ServingContext<ValueModelConfig>): ServingPlugin {
  const cfg = ctx.settings;
  const rows = cfg.fields.map(() => cfg.buckets);
  const shape = { idWidth: cfg.fields.length, denseWidth: VALUE_DENSE_FEATURES.length, targetWidth: 1 };
  return {
    docs: valueRouteDocs,
    routes: {
      'POST /v1/value': (_req, body) => {
        const events = requestEvents(parseJsonObject(body), ctx.maxBatch, 'event');
        const b = emptyBatch(shape, events.length);
        events.forEach((raw, i) => {
          let ev;
          try {
            ev = validateEvent({ type: cfg.types[0], ts: Date.now(), ...(raw && typeof raw === 'object' ? raw : {}) });
          } catch (err) {
            throw new HttpError(400, `event ${i}: ${(err as Error).message}`);
          }
          featurizeInto(ev, cfg.fields, rows, b.ids, i * shape.idWidth);
          valueDenseInto(ev, b.dense, i * shape.denseWidth);
        });
        const p = ctx.predictor.predict(b, ctx.weights());
        const values = Array.from(p, (x) => (cfg.target === 'log1p' ? Math.expm1(Math.max(0, x)) : x));
        return { values, ...ctx.versionInfo() };
      },
    },
  };
}
