// How the validator's route is called.
import type { RouteDocs } from '../../shared/index.ts';

const VERSIONS = { type: 'array', items: { type: 'integer' } };

export const VALIDATOR_ROUTE_DOCS: RouteDocs = {
  'GET /v1/gate': {
    summary: 'The validation gate: counts, the learning-rate factor, the holdout size and the last 50 decisions',
    response: {
      type: 'object',
      properties: {
        stats: {
          type: 'object',
          properties: {
            rounds: { type: 'integer' }, accepted: { type: 'integer' }, rejected: { type: 'integer' },
            quarantined: { type: 'integer' }, rollbacks: { type: 'integer' }, servingCheckpoint: { type: ['integer', 'null'] },
          },
          required: ['rounds', 'accepted', 'rejected', 'quarantined', 'rollbacks', 'servingCheckpoint'],
        },
        lrFactor: { type: 'number', description: 'The factor the PS shards\' learning rates are scaled by' },
        holdout: { type: 'integer', description: 'Held-out examples the candidates are scored on' },
        decisions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              accepted: { type: 'boolean' }, reason: { type: 'string' }, metric: { type: 'string', description: 'The kind\'s headline metric, e.g. auc' },
              candidate: { type: 'number' }, serving: { type: 'number' }, holdoutExamples: { type: 'integer' },
              at: { type: 'number' }, candidateVersions: VERSIONS, servingVersions: { type: ['array', 'null'], items: { type: 'integer' } },
            },
            required: ['accepted', 'reason', 'metric', 'candidate', 'serving', 'at', 'candidateVersions', 'servingVersions'],
          },
        },
      },
      required: ['stats', 'lrFactor', 'holdout', 'decisions'],
    },
  },
};
