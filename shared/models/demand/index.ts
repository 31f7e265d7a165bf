// The demand kind: item-day sales forecasts from the purchase stream itself (docs/MODELS.md).
import type { ModelKind } from '../types.ts';
import { demandBaselines } from './baselines.ts';
import type { DemandModelConfig } from './config.ts';
import { DemandExampleSource } from './examples.ts';
import { demandKindSpec } from './kind-spec.ts';
import { demandMetric } from './metric.ts';
import { DemandModel } from './model.ts';
import { demandServing } from './serving.ts';

export const demandKind: ModelKind<DemandModelConfig> = {
  ...demandKindSpec,
  exampleSource: (settings) => new DemandExampleSource(settings),
  create: (_spec, settings) => new DemandModel(settings),
  metric: demandMetric,
  baselines: () => demandBaselines(),
  serving: demandServing,
};
