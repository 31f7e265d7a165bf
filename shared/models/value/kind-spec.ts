// The value kind's tensor-free part: settings, parameters and shard key (what PS shards and ingest need).
import { hashRow } from '../../features.ts';
import type { ModelKindSpec } from '../types.ts';
import { valueConfigSchema, type ValueModelConfig } from './config.ts';
import { valueBiasTable, valueParamSpec } from './spec.ts';

export const valueKindSpec: ModelKindSpec<ValueModelConfig> = {
  kind: 'value',
  description: "regression of an event's value (e.g. units per purchase) on per-id biases and time features",
  configSchema: valueConfigSchema,
  paramSpec: valueParamSpec,
  // An item's values stay in order on one event shard (a per-item model, like demand).
  shardKey: 'item',
  userRows: (cfg, userId) => (cfg.fields.includes('user') ? [{ table: valueBiasTable('user'), rows: [hashRow(userId, cfg.buckets)] }] : []),
};
