import t from 'tap';
import { Actor, MailboxFullError, Deferred, Shutdown } from '../../shared/index.ts';

t.test('one message at a time, in order; a full mailbox refuses', async (t) => {
  const seen: number[] = [];
  let active = 0;
  let maxActive = 0;
  const gate = new Deferred();
  const a = new Actor<number>(() => ({
    handle: async (m) => {
      active++; maxActive = Math.max(maxActive, active);
      if (m === 0) await gate.promise;
      seen.push(m);
      active--;
    },
  }), { name: 'a', mailboxCapacity: 3 });
  await a.start();
  a.tell(0); // taken at once, blocks on the gate
  a.tell(1); a.tell(2); a.tell(3);
  t.throws(() => a.tell(4), MailboxFullError);
  t.equal(a.refused, 1);
  gate.resolve();
  await a.idle();
  t.same(seen, [0, 1, 2, 3]);
  t.equal(maxActive, 1);
});

t.test('a crash restarts the behavior; too many crashes fail the actor', async (t) => {
  let starts = 0;
  const a = new Actor<string>(() => ({
    start: async () => { starts++; },
    handle: (m) => { if (m === 'boom') throw new Error('boom'); },
  }), { name: 'b', maxRestarts: 2 });
  await a.start();
  a.tell('boom');
  await a.idle();
  t.equal(starts, 2, 'restarted with a fresh behavior');
  t.equal(a.state, 'running');
  a.tell('ok');
  a.tell('boom'); a.tell('boom');
  await a.idle();
  t.equal(a.state, 'failed');
  t.equal(a.crashed, 3);
});

t.test('stop drains the mailbox and is idempotent', async (t) => {
  const seen: number[] = [];
  let stops = 0;
  const a = new Actor<number>(() => ({ handle: async (m) => { seen.push(m); }, stop: async () => { stops++; } }), { name: 'c' });
  await a.start();
  a.tell(1); a.tell(2);
  const p1 = a.stop();
  const p2 = a.stop();
  t.equal(p1, p2, 'same promise');
  await p1;
  t.same(seen, [1, 2]);
  t.equal(stops, 1);
  t.throws(() => a.tell(3), MailboxFullError);
});

t.test('Shutdown runs every step once, even after a failing one', async (t) => {
  const ran: string[] = [];
  const s = new Shutdown({ forceAfterMs: 60_000 })
    .add('first', () => { ran.push('first'); })
    .add('failing', () => { throw new Error('x'); })
    .add('last', async () => { ran.push('last'); });
  await Promise.all([s.run(), s.run()]);
  t.same(ran, ['last', 'first']);
});
