// The retrieval kind: which items a user takes next, ranked over the whole catalogue.
import type { ModelKind } from '../types.ts';
import { retrievalBaselines } from './baselines.ts';
import type { RetrievalModelConfig } from './config.ts';
import { RetrievalExampleSource } from './examples.ts';
import { retrievalKindSpec } from './kind-spec.ts';
import { retrievalMetric } from './metric.ts';
import { RetrievalModel } from './model.ts';
import { retrievalServing } from './serving.ts';

export const retrievalKind: ModelKind<RetrievalModelConfig> = {
  ...retrievalKindSpec,
  exampleSource: (settings) => new RetrievalExampleSource(settings),
  create: (_spec, settings) => new RetrievalModel(settings),
  metric: retrievalMetric,
  baselines: retrievalBaselines,
  serving: retrievalServing,
};
