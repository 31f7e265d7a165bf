// The CTR kind's tensor-free part: settings and parameters (what PS shards and ingest need).
import { fieldValue, hashRow } from '../../features.ts';
import type { ModelKindSpec, UserRows } from '../types.ts';
import { ctrConfigSchema, type CtrModelConfig } from './config.ts';
import { biasTable, ctrParamSpec, embTable } from './spec.ts';
import { crossRow, statKeys, statTable } from './stats.ts';

export const ctrKindSpec: ModelKindSpec<CtrModelConfig> = {
  kind: 'ctr',
  description: 'click / conversion probability: hashed-id embeddings and biases into an MLP (wide & deep)',
  configSchema: ctrConfigSchema,
  paramSpec: ctrParamSpec,
  shardKey: 'user',
  async userRows(cfg, userId, events, held) {
    if (!cfg.fields.includes('user')) return [];
    const row = hashRow(userId, cfg.buckets);
    const out: UserRows[] = [{ table: embTable('user'), rows: [row] }, { table: biasTable('user'), rows: [row] }];
    const keys = statKeys(cfg);
    if (keys.includes('user')) out.push({ table: statTable('user'), rows: [row] });
    if (keys.includes('user_category')) {
      // Every category the model knows (its counter rows), not only those of the events still
      // in the stream: a cross row of an event that has expired holds the user's counts too.
      const cats = new Set<number>(keys.includes('category') ? await held(statTable('category')) : []);
      for (const ev of events) cats.add(hashRow(fieldValue(ev, 'category'), cfg.buckets));
      out.push({ table: statTable('user_category'), rows: [...cats].map((c) => crossRow(row, c, cfg.buckets)) });
    }
    return out;
  },
};
