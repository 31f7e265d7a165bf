import t from 'tap';
import { PopularityNegativeSampler, type ItemRef } from '../../shared/index.ts';

t.test('negatives follow popularity among earlier positives, within the window', async (t) => {
  const s = new PopularityNegativeSampler(1_000_000, 7);
  const out: ItemRef[] = [];
  t.equal(s.sample(4, 'x', out), 0, 'no history: no negatives');
  // 'a' bought 3 times as often as 'b'.
  for (let i = 0; i < 3000; i++) s.observe({ itemId: 'a' });
  for (let i = 0; i < 1000; i++) s.observe({ itemId: 'b', categoryId: 'cb' });
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 2000; i++) { s.sample(4, 'z', out); for (const it of out) counts[it.itemId as 'a' | 'b']++; }
  const share = counts.a / (counts.a + counts.b);
  // 8,000 draws with p = 0.75: standard deviation ~0.005.
  t.ok(Math.abs(share - 0.75) < 0.025, `share of the 3x more popular item: ${share.toFixed(3)}`);
  s.sample(4, 'a', out);
  t.ok(out.every((it) => it.itemId === 'b' && it.categoryId === 'cb'), 'the positive itself is never its own negative');
});

t.test('a short window counts only the most recent positives', async (t) => {
  const s = new PopularityNegativeSampler(100, 3);
  for (let i = 0; i < 1000; i++) s.observe({ itemId: 'old' });
  for (let i = 0; i < 100; i++) s.observe({ itemId: 'new' });
  const out: ItemRef[] = [];
  s.sample(50, 'x', out);
  t.ok(out.length === 50 && out.every((it) => it.itemId === 'new'), 'old positives left the window');
  t.equal(s.size, 100);
});
