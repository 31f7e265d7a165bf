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
    // A cross key's rows are the user's row crossed with every row of the other field the model
    // knows (its counter rows), not only those of the events still in the stream: a cross row of
    // an event that has expired holds the user's counts too.
    for (const [key, field] of [['user_category', 'category'], ['user_item', 'item']] as const) {
      if (!keys.includes(key)) continue;
      const others = new Set<number>(keys.includes(field) ? await held(statTable(field)) : []);
      for (const ev of events) others.add(hashRow(fieldValue(ev, field), cfg.buckets));
      out.push({ table: statTable(key), rows: [...others].map((c) => crossRow(row, c, cfg.buckets)) });
    }
    return out;
  },
};
