// The one replay-then-wait-until-trained driver (cluster/replay-until-trained.ts) with a fake
// sink and a fake trained counter: no servers.
import t from 'tap';
import type { FlywheelEvent } from '../../shared/index.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReplayDeadlineError, TrainingStalledError, replayUntilTrained } from '../../cluster/replay-until-trained.ts';

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
  }), new TrainingStalledError(4, 10, 'see the logs', 'training', 30));
});

t.test('a sink that never answers fails the run while sending, naming the sink', async (t) => {
  const err = await replayUntilTrained({
    events: events(10), to: { publish: () => new Promise<void>(() => undefined), batchEvents: 5 }, trained: () => 0, stallTimeoutMs: 30, pollMs: 5,
  }).catch((e: unknown) => e);
  t.type(err, TrainingStalledError);
  t.equal((err as TrainingStalledError).waitingFor, 'sink');
  t.match((err as Error).message, /at 0 of 0 events, waiting for the sink/);
});

t.test('a backlog that is never trained fails the run while sending, naming the backlog', async (t) => {
  let posts = 0;
  const server = createServer((req, res) => { posts++; req.resume(); req.on('end', () => res.end('{}')); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const err = await replayUntilTrained({
    events: events(100), to: { ingestUrl: `http://127.0.0.1:${port}`, batchEvents: 10, concurrency: 1, maxBacklogEvents: 15 },
    trained: () => 0, stallTimeoutMs: 50, pollMs: 5,
  }).catch((e: unknown) => e);
  t.type(err, TrainingStalledError);
  t.equal((err as TrainingStalledError).waitingFor, 'backlog');
  const sent = (err as TrainingStalledError).sent;
  t.ok(sent > 15 && sent < 100, `sending stopped past the bound of 15 untrained events, at ${sent} of 100`);
  t.equal(posts * 10, sent, 'every POST answered was counted as sent');
});

t.test('deadlineMs fails a run that keeps moving but never finishes', async (t) => {
  let trained = 0;
  const err = await replayUntilTrained({
    events: events(10), to: { publish: async () => undefined }, trained: () => (trained = Math.min(trained + 0.001, 9)), deadlineMs: 60, pollMs: 5,
  }).catch((e: unknown) => e);
  t.type(err, ReplayDeadlineError);
  t.equal((err as ReplayDeadlineError).waitingFor, 'training');
  t.match((err as Error).message, /deadline of 60 ms: 10 events sent/);
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
