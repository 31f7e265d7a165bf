// The CTR / conversion kind: P(positive | user, item, context) from hashed ids.
import { binaryMetric } from '../../metrics/binary.ts';
import type { ModelKind } from '../types.ts';
import { ctrBaselines } from './baselines.ts';
import type { CtrModelConfig } from './config.ts';
import { CtrExampleSource } from './examples.ts';
import { ctrEvalExtras } from './eval-extras.ts';
import { ctrKindSpec } from './kind-spec.ts';
import { CtrModel } from './model.ts';
import { ctrServing } from './serving.ts';

export const ctrKind: ModelKind<CtrModelConfig> = {
  ...ctrKindSpec,
  exampleSource: (settings, seed) => new CtrExampleSource(settings, seed),
  create: (spec, settings) => new CtrModel(spec, settings),
  metric: binaryMetric,
  baselines: ctrBaselines,
  evalExtras: ctrEvalExtras,
  serving: ctrServing,
};

export { CtrModel } from './model.ts';
export { CtrExampleSource } from './examples.ts';
export { ctrParamSpec, embTable, biasTable, firstLayerWeight } from './spec.ts';
export { CTR_MODEL_DEFAULTS, ctrConfigSchema, type CtrModelConfig } from './config.ts';
