// The demand kind's tensor-free part: settings, parameters and shard key (what PS shards and ingest need).
import type { ModelKindSpec } from '../types.ts';
import { demandConfigSchema, type DemandModelConfig } from './config.ts';
import { demandParamSpec } from './spec.ts';

export const demandKindSpec: ModelKindSpec<DemandModelConfig> = {
  kind: 'demand',
  description: 'units per item and trading day, forecast 1..H trading days ahead at each day\'s close (Poisson, log-linear)',
  configSchema: demandConfigSchema,
  paramSpec: demandParamSpec,
  // An item's sales aggregate on one worker: its days close there and its history stays whole.
  shardKey: 'item',
  // A held-out purchase would be missing from its item's day: the gate holds out whole items.
  holdout: 'item',
};
