// The CTR kind's tensor-free part: settings and parameters (what PS shards and ingest need).
import type { ModelKindSpec } from '../types.ts';
import { ctrConfigSchema, type CtrModelConfig } from './config.ts';
import { ctrParamSpec } from './spec.ts';

export const ctrKindSpec: ModelKindSpec<CtrModelConfig> = {
  kind: 'ctr',
  description: 'click / conversion probability: hashed-id embeddings and biases into an MLP (wide & deep)',
  configSchema: ctrConfigSchema,
  paramSpec: ctrParamSpec,
  shardKey: 'user',
};
