// The risk kind: the probability that a transaction (an insurance claim, a card payment) turns
// out bad, learnt from outcomes that arrive later through the label joiner (../label-joiner.ts).
import type { ModelKind } from '../types.ts';
import { OnlineLogisticRegression, RunningRate } from './baselines.ts';
import type { RiskModelConfig } from './config.ts';
import { RiskExampleSource } from './examples.ts';
import { riskKindSpec } from './kind-spec.ts';
import { riskMetric } from './metric.ts';
import { RiskModel } from './model.ts';
import { riskServing } from './serving.ts';

export const riskKind: ModelKind<RiskModelConfig> = {
  ...riskKindSpec,
  exampleSource: (settings) => new RiskExampleSource(settings),
  create: (_spec, settings) => new RiskModel(settings),
  metric: riskMetric,
  baselines: (settings) => [new RunningRate(), new OnlineLogisticRegression(settings.buckets)],
  serving: riskServing,
};
