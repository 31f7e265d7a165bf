// The one replay-then-wait-until-trained driver (cluster/replay-until-trained.ts) with a fake
// sink and a fake trained counter: no servers.
import t from 'tap';
import type { FlywheelEvent } from '../../shared/index.ts';
import { TrainingStalledError, replayUntilTrained } from '../../cluster/replay-until-trained.ts';

const events = (n: number): FlywheelEvent[] =>
  Array.from({ length: n }, (_, i) => ({ userId: `u${i}`, itemId: `i${i}`, type: 'view', ts: 1_700_000_000_000 + i }));

t.test('publishes in batches, then waits until trained reaches the count sent', async (t) => {
  const batches: number[] = [];
  let trained = 0;
  const sentSeen: number[] = [];
  const r = await replayUntilTrained({
    events: events(1050),
    // The "workers" train each batch a little after it is published.
    to: { publish: async (b) => { batches.push(b.length); setTimeout(() => { trained += b.length; }, 5); }, batchEvents: 500 },
    trained: () => trained, onSent: (n) => sentSeen.push(n), pollMs: 5,
  });
  t.same(batches, [500, 500, 50], '1050 events = 500 + 500 + 50');
  t.same(sentSeen, [500, 1000, 1050]);
  t.equal(r.sent, 1050);
  t.equal(r.trained, 1050);
  t.equal(r.caughtUp, true);
});

t.test('expected overrides the count sent; onReplayed runs once before the wait', async (t) => {
  let trained = 0;
  const calls: string[] = [];
  const r = await replayUntilTrained({
    events: events(10), to: { publish: async () => { calls.push('publish'); } },
    trained: () => trained, expected: 3, pollMs: 5,
    onReplayed: (x) => { calls.push(`replayed ${x.sent}`); setTimeout(() => { trained = 3; }, 10); },
  });
  t.same(calls, ['publish', 'replayed 10']);
  t.equal(r.trained, 3);
});

t.test('fails with TrainingStalledError when training stops moving', async (t) => {
  await t.rejects(replayUntilTrained({
    events: events(10), to: { publish: async () => undefined }, trained: () => 4, stallTimeoutMs: 30, pollMs: 5, stallHint: 'see the logs',
  }), new TrainingStalledError(4, 10, 'see the logs'));
});

t.test('drainTimeoutMs resolves with caughtUp false', async (t) => {
  const r = await replayUntilTrained({
    events: events(10), to: { publish: async () => undefined }, trained: () => 0, drainTimeoutMs: 30, stallTimeoutMs: Infinity, pollMs: 5,
  });
  t.equal(r.caughtUp, false);
  t.equal(r.sent, 10);
});

t.test('a service dying (failed) rejects the run', async (t) => {
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  const run = replayUntilTrained({ events: events(10), to: { publish: async () => undefined }, trained: () => 0, failed, pollMs: 5 });
  setTimeout(() => fail(new Error('ps-0 exited with code 1')), 20);
  await t.rejects(run, /ps-0 exited/);
});

t.test('an aborted signal stops the run', async (t) => {
  const ac = new AbortController();
  ac.abort(new Error('stop now'));
  await t.rejects(replayUntilTrained({ events: events(10), to: { publish: async () => undefined }, trained: () => 0, signal: ac.signal }), /stop now/);
});
