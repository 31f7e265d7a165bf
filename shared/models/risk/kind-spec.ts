// The risk kind's tensor-free part: settings, parameters and shard key (what PS shards and ingest need).
import type { ModelKindSpec } from '../types.ts';
import { riskConfigSchema, type RiskModelConfig } from './config.ts';
import { riskParamSpec } from './spec.ts';

export const riskKindSpec: ModelKindSpec<RiskModelConfig> = {
  kind: 'risk',
  description: 'probability that a transaction (a claim, a payment) turns out bad, learnt from outcomes that arrive later',
  configSchema: riskConfigSchema,
  paramSpec: riskParamSpec,
  // A transaction and its outcome carry its reference as itemId: both land on one event shard,
  // where its example waits for the outcome.
  shardKey: 'item',
  // The gate holds out a transaction with its outcome, or neither.
  holdout: 'item',
};
