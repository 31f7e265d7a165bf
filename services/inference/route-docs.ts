// How the inference node's own route is called; the kinds describe theirs beside them.
import { VERSION_INFO_PROPERTIES, type RouteDocs } from '../../shared/index.ts';

const NUMS = { type: 'array', items: { type: 'integer' } };
const MS = { type: ['number', 'null'] };

export const INFERENCE_ROUTE_DOCS: RouteDocs = {
  'GET /v1/model': {
    summary: 'What this node serves: model, kind, routes, versions (served, live, persisted), freshness',
    response: {
      type: 'object',
      properties: {
        model: { type: 'string' },
        kind: { type: 'string' },
        routes: { type: 'array', items: { type: 'string' }, description: 'The kind\'s routes ("POST /v1/predict"...)' },
        backend: { type: 'string' },
        ...VERSION_INFO_PROPERTIES,
        liveVersions: NUMS,
        serving: { type: ['object', 'null'], description: 'The serving pointer followed (with a validation gate), else null' },
        persistedVersions: NUMS,
        shardQuietMs: { type: 'array', items: MS, description: 'Per PS shard, how long since its last delta arrived' },
        newestEventAcceptedAtMs: MS,
        freshnessMs: MS,
        freshnessP50Ms: MS,
        freshnessP99Ms: MS,
        freshnessSamples: { type: 'integer' },
        freshnessRecent: {
          type: 'object',
          properties: { windowMs: { type: 'integer' }, samples: { type: 'integer' }, p50Ms: MS, p99Ms: MS },
          required: ['windowMs', 'samples', 'p50Ms', 'p99Ms'],
        },
        replica: { type: 'object', properties: { applied: { type: 'integer' }, old: { type: 'integer' }, gaps: { type: 'integer' }, resyncs: { type: 'integer' }, bad: { type: 'integer' } } },
      },
      required: ['model', 'kind', 'routes', 'versions', 'liveVersions'],
    },
  },
};
