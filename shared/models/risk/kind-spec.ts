// The risk kind's tensor-free part: settings, parameters and shard key (what PS shards and ingest need).
import { hashRow } from '../../features.ts';
import type { ModelKindSpec } from '../types.ts';
import { riskConfigSchema, type RiskModelConfig } from './config.ts';
import { featureValue } from './examples.ts';
import { TABLES, riskParamSpec } from './spec.ts';

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
  // Only when the user is a feature: its value's rows, and its crosses' rows of the user's
  // events still in the stream (a cross row hashes both values, so older ones cannot be found).
  userRows(cfg, userId, events) {
    const rows = new Set<number>();
    if (cfg.categorical.includes('user')) rows.add(hashRow(`user=${userId}`, cfg.buckets));
    for (const [a, b] of cfg.crosses) {
      if (a !== 'user' && b !== 'user') continue;
      for (const ev of events) rows.add(hashRow(`${a}x${b}=${featureValue(ev, a)}\u0001${featureValue(ev, b)}`, cfg.buckets));
    }
    if (!rows.size) return [];
    const ids = [...rows];
    return [{ table: TABLES.linear, rows: ids }, ...(cfg.factors > 0 ? [{ table: TABLES.factors, rows: ids }] : [])];
  },
};
