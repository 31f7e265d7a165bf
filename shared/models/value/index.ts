// The value kind: a deliberately small regression of an event's value (units per purchase on
// Online Retail), the worked example of docs/MODELS.md. Everything it needs is in this folder.
import type { ModelKind } from '../types.ts';
import { RunningMean, RunningMeanById } from './baselines.ts';
import type { ValueModelConfig } from './config.ts';
import { ValueExampleSource } from './examples.ts';
import { regressionMetric } from './metric.ts';
import { ValueModel } from './model.ts';
import { valueServing } from './serving.ts';
import { valueKindSpec } from './kind-spec.ts';

export const valueKind: ModelKind<ValueModelConfig> = {
  ...valueKindSpec,
  exampleSource: (settings) => new ValueExampleSource(settings),
  create: (_spec, settings) => new ValueModel(settings),
  metric: regressionMetric,
  baselines: (settings) => {
    const item = settings.fields.indexOf('item');
    return item >= 0 ? [new RunningMean(), new RunningMeanById(item, 'item')] : [new RunningMean()];
  },
  serving: valueServing,
};
