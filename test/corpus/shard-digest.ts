// A fingerprint of everything a PS shard holds in memory: version, dense weights and slots,
// and every row's weights and slot. The store snapshot alone would miss a rejected push that
// touched memory without bumping the version (publish writes nothing then), so the bad-input
// and fuzz tests compare this before and after. It reads ShardState's private fields: a test
// looking inside on purpose.
import { createHash } from 'node:crypto';
import type { SparseArena } from '../../shared/index.ts';
import type { PsShard } from '../../services/ps/ps-shard.ts';

interface StateInside {
  version: number;
  dense: Map<string, { weights: Float32Array; slot: Float32Array }>;
  tables: Map<string, { arena: SparseArena }>;
}

const bytesOf = (a: Float32Array | Int32Array, n = a.length) => new Uint8Array(a.buffer, a.byteOffset, n * 4);

export function shardDigest(shard: PsShard): string {
  const s = (shard as unknown as { state: StateInside }).state;
  const h = createHash('sha1');
  h.update(`v${s.version};`);
  for (const [name, p] of s.dense) h.update(name).update(bytesOf(p.weights)).update(bytesOf(p.slot));
  for (const [name, t] of s.tables) {
    const a = t.arena;
    h.update(`${name}:${a.count};`).update(bytesOf(a.rowIds, a.count)).update(bytesOf(a.weights, a.count * a.dim)).update(bytesOf(a.slot, a.count * a.dim));
  }
  return h.digest('hex');
}
