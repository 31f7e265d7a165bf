// The reused set behind the PS's "each row once per push" check.
import t from 'tap';
import { DistinctRows } from '../../shared/distinct-rows.ts';

t.test('a repeated id is refused within a set, accepted again in the next one', async (t) => {
  const d = new DistinctRows();
  d.reset(3);
  t.ok(d.add(7));
  t.ok(d.add(0));
  t.notOk(d.add(7), 'the second 7');
  d.reset(3);
  t.ok(d.add(7), 'a new set forgets the old ids without clearing');
  t.notOk(d.add(7));
});

t.test('agrees with a JS Set on pushes with colliding and repeated ids, through growth', async (t) => {
  const d = new DistinctRows();
  let x = 1;
  for (const n of [5, 100, 5000, 40, 20000]) {
    d.reset(n);
    const ref = new Set<number>();
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // Ids that share low bits (multiples of 1024) and repeat (a range of n/2).
      const id = ((x % Math.max(1, n >> 1)) << 10) >>> 0 & 0x7fffffff;
      const fresh = !ref.has(id);
      ref.add(id);
      if (d.add(id) !== fresh) mismatches++;
    }
    t.equal(mismatches, 0, `${n} ids`);
  }
});
