// ShardMerge: events of several shards come out in event-time order whatever the interleaving,
// none before every shard has caught up, and a quiet shard stops holding the others back.
import t from 'tap';
import { ShardMerge } from '../../shared/eventlog/shard-merge.ts';
import type { FlywheelEvent } from '../../shared/events.ts';

const ev = (ts: number, itemId = 'i'): FlywheelEvent => ({ userId: 'u', itemId, type: 'buy', ts, value: 1 });

t.test('two shards interleaved by request come out in time order', (t) => {
  let now = 0;
  const m = new ShardMerge(2, 1000, () => now);
  m.push(0, [ev(1), ev(5), ev(9)]);
  t.same(m.drain().map((e) => e.ts), [], 'nothing until shard 1 has spoken');
  m.push(1, [ev(2), ev(3), ev(6)]);
  t.same(m.drain().map((e) => e.ts), [1, 2, 3, 5, 6], 'up to the watermark min(9, 6)');
  t.equal(m.held, 1);
  m.push(1, [ev(12)]);
  t.same(m.drain().map((e) => e.ts), [9]);
  now += 1500;
  t.same(m.drain().map((e) => e.ts), [12], 'shard 0 quiet for 1.5 s: shard 1 is not held back');
  t.throws(() => m.push(2, [ev(1)]), { message: /outside 0\.\.1/ }, 'an unknown shard is refused');
  t.end();
});
