// The benchmark's figures: a timed quantity is the median of its repetitions with min and max,
// and says so when the repetitions spread more than 20% or are fewer than five.
import t from 'tap';
import { MAX_SPREAD, MIN_REPS, sampled, spreadOf, warningsOf } from '../../bench/lib/figures.ts';
import { BUSY_LOAD_PER_CORE, busyWarning, describeMachine } from '../../bench/lib/machine.ts';

t.test('a sampled quantity is the median of its samples, with n, min and max', async (t) => {
  const q = sampled('x', 'ns', [5, 1, 4, 2, 3]);
  t.same(q, { name: 'x', unit: 'ns', value: 3, reps: { n: 5, min: 1, max: 5 } });
  t.equal(sampled('y', 'ns', [4, 1, 2, 3]).value, 2.5, 'an even count takes the mean of the middle two');
  t.throws(() => sampled('z', 'ns', []), /no samples/);
});

t.test('repetitions within 20% pass without a warning; wider ones are named with their range', async (t) => {
  const steady = sampled('steady', 'ns', [100, 101, 99, 110, 95]);
  t.ok(spreadOf(steady) <= MAX_SPREAD);
  t.same(warningsOf(steady), []);
  const noisy = sampled('noisy', 'ns', [100, 101, 99, 130, 95]);
  t.ok(Math.abs(spreadOf(noisy) - 0.35) < 1e-12, 'spread = (max - min) / median');
  const w = warningsOf(noisy);
  t.equal(w.length, 1);
  t.match(w[0], /noisy varied 35% between its 5 repetitions \(min 95, max 130\)/);
});

t.test('fewer than five repetitions are said to be few; a quantity without repetitions is not judged', async (t) => {
  t.ok(MIN_REPS >= 5);
  t.match(warningsOf(sampled('few', 'ms', [10, 10, 10])).join(), /median of only 3 repetition/);
  t.same(warningsOf({ name: 'bytes', value: 8, unit: 'bytes/param' }), []);
});

t.test('the machine is described, and a load per core at the threshold is called busy', async (t) => {
  const m = describeMachine();
  t.ok(m.cores >= 1);
  t.type(m.cpu, 'string');
  t.equal(m.loadAverage.length, 3);
  t.equal(busyWarning({ ...m, cores: 4, loadAverage: [4 * BUSY_LOAD_PER_CORE * 0.99, 0, 0] }), null);
  t.match(busyWarning({ ...m, cores: 4, loadAverage: [4 * BUSY_LOAD_PER_CORE, 0, 0] }), /busy \(load average 1 over 4 cores\)/);
});
