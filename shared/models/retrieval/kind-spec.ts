// The retrieval kind's tensor-free part: settings, parameters and shard key (what PS shards and ingest need).
import { hashRow } from '../../features.ts';
import type { ModelKindSpec } from '../types.ts';
import { retrievalConfigSchema, type RetrievalModelConfig } from './config.ts';
import { TABLES, retrievalParamSpec } from './spec.ts';

export const retrievalKindSpec: ModelKindSpec<RetrievalModelConfig> = {
  kind: 'retrieval',
  description: 'top-K items for a user out of the whole catalogue: two towers scored by a dot product, trained on interactions with in-batch negatives',
  configSchema: retrievalConfigSchema,
  paramSpec: retrievalParamSpec,
  // A user's history is the user tower's input: a user's events stay in order on one shard.
  shardKey: 'user',
  // The user tower's own row; the history rows are items', shared by every user who took them.
  userRows: (cfg, userId) => [{ table: TABLES.user, rows: [hashRow(userId, cfg.userBuckets)] }],
};
