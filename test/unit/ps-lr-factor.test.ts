// fw_ps_lr_factor says the learning-rate factor a shard trains at, from its start: the gauge
// must not read 0 (its unset value) while the shard trains at x1, nor keep the gate's factor
// after a restart that put the shard back to x1.
import t from 'tap';
import { MemoryBus, MemoryShardStore, MemoryTransport, Registry, encode, subjects, waitFor } from '../../shared/index.ts';
import { PsShard } from '../../services/ps/ps-shard.ts';
import { psMetrics } from '../../services/ps/metrics.ts';
import { MODEL, psConfig, smallSpec } from '../helpers/ps-harness.ts';

async function gauge(r: Registry): Promise<number | undefined> {
  return (await r.getSingleMetric('fw_ps_lr_factor')!.get()).values[0]?.value;
}

t.test('the lr-factor gauge reads the factor in use at start, after a gate change and after a restore from the store', async (t) => {
  const bus = new MemoryBus();
  const store = new MemoryShardStore();
  const spec = smallSpec();
  const start = async (registry: Registry) => {
    const s = new PsShard({
      model: MODEL, spec, cfg: psConfig(), shard: 0, shards: 1, transport: new MemoryTransport(bus), store,
      metrics: psMetrics(registry), log: () => undefined,
    });
    await s.start();
    await s.actor.idle();
    return s;
  };
  const r1 = new Registry();
  const s1 = await start(r1);
  t.equal(await gauge(r1), 1, 'x1 from the start, before any gate message');

  const gate = new MemoryTransport(bus);
  gate.publish(subjects.psControl(MODEL), encode({ lrFactor: 0.25 }));
  await waitFor(() => s1.lrFactor === 0.25, 2000, 'the shard to take the gate\'s factor', 5);
  t.equal(await gauge(r1), 0.25, 'the gate\'s factor once set');
  await s1.stop();

  // A new incarnation restores weights from the store but not the factor: it trains at x1 until the gate repeats it.
  const r2 = new Registry();
  const s2 = await start(r2);
  t.ok(s2.version >= 0 && s2.lrFactor === 1, 'the restored shard trains at x1');
  t.equal(await gauge(r2), 1, 'and its gauge says x1, not 0');
  await s2.stop();
});
