// The in-process event log's readers for rebuilding state: tail gives every retained message
// and then each new one, and replayDelivered what the consumer has delivered — neither acks.
import t from 'tap';
import { MemoryEventLog } from '../../shared/eventlog/memory.ts';

t.test('tail: the retained messages, then new ones; replayDelivered: only what was delivered', async (t) => {
  const log = new MemoryEventLog(2, 1000);
  await log.publish(0, Uint8Array.of(1));
  await log.publish(0, Uint8Array.of(2));
  await log.publish(1, Uint8Array.of(9));
  const seen: number[] = [];
  let sawThree!: () => void;
  const three = new Promise<void>((r) => { sawThree = r; });
  const tail = await log.tail(0, (d) => { seen.push(d[0]); if (seen.length === 3) sawThree(); });
  await log.publish(0, Uint8Array.of(3));
  await three;
  t.same(seen, [1, 2, 3], 'shard 0 only, in order, old then new');
  await tail.stop();
  t.same(await log.replayDelivered(0, () => t.fail('nothing delivered yet')), 0);
  const got: number[] = [];
  let deliveredAll!: () => void;
  const delivered = new Promise<void>((r) => { deliveredAll = r; });
  const c = await log.consume(0, (m) => { got.push(m.data[0]); if (m.data[0] === 1) m.ack(); if (got.length === 3) deliveredAll(); }, 10);
  await delivered;
  const replayed: number[] = [];
  const last = await log.replayDelivered(0, (d) => replayed.push(d[0]));
  t.same(replayed, [1, 2, 3], 'acked and unacked deliveries alike');
  t.equal(last, 4, 'up to the last delivered sequence (shard 1 took seq 3)');
  t.equal((await log.backlog(0)).ackPending, 2, 'reading back acked nothing');
  await c.stop();
});
