// The dashboard's state, fed by hand: a metric whose figure is a plain mean of the examples'
// errors, worker reports whose buckets carry its states, heartbeats and gate decisions at
// chosen times. Every figure on the page comes from this snapshot.
import t from 'tap';
import type { Heartbeat, MetricDef, WorkerReport } from '../../shared/index.ts';
import { DashboardState, RateOf } from '../../services/dashboard/state.ts';

/** Mean error of its examples; state { sum, n } merges by addition. */
const meanError: MetricDef = {
  headline: 'err', higherIsBetter: false,
  create: () => {
    let sum = 0;
    let n = 0;
    return {
      add: () => { throw new Error('not used: the test sends states'); },
      state: () => ({ sum, n }),
      merge: (s) => { sum += s.sum as number; n += s.n as number; },
      get count() { return n; },
      figures: () => ({ err: n ? sum / n : NaN }),
    };
  },
};

const DAY = 86_400_000;
const model = { name: 'm', kind: 'test', metric: meanError, eventShards: 2, psShards: 2, evalBucketMs: DAY };

function report(worker: string, eventsTrained: number, buckets: [number, number, number, number, number][]): WorkerReport {
  // [day, examples, model error sum, baseline error sum, ...]
  return {
    worker, backend: 'cpu', atMs: 0, eventsTrained, eventsRetried: 0, examples: eventsTrained, steps: 1, lossSum: 0,
    buckets: buckets.map(([key, n, model, base]) => ({ key, n, model: { sum: model, n }, baselines: { mean: { sum: base, n } } })),
  };
}

function hb(over: Partial<Heartbeat>): Heartbeat {
  return { service: 'ps', id: 'x', model: 'm', instance: 'ps-0', pid: 1, startedAtMs: 0, atMs: 0, intervalMs: 1000, stats: {}, ...over };
}

t.test('windows, latest figures and baselines merge every worker\'s buckets', async (t) => {
  const s = new DashboardState([model], 0);
  t.equal(s.snapshot(0).models[0].latest, null, 'no figures before any report');
  s.onReport('m', report('w0', 100, [[0, 20, 10, 16, 0], [1, 10, 2, 6, 0]]));
  s.onReport('m', report('w1', 50, [[1, 10, 3, 12, 0]]));
  const m = s.snapshot(0).models[0];
  // Windows hold about equal numbers of examples in event-time order: day 0 (20), day 1 (10 + 10).
  t.same(m.windows.model, [0.5, 5 / 20], 'day 0: 10/20; day 1: (2+3)/(10+10), over both workers');
  t.same(m.windows.baselines.mean, [0.8, 18 / 20]);
  t.same(m.windows.examples, [20, 20]);
  t.same(m.latest, { model: 5 / 20, logLoss: null, baselines: { mean: { err: 18 / 20, logLoss: null } } });
  t.same(m.overall, { model: 15 / 40, logLoss: null, baselines: { mean: 34 / 40 } });
  t.equal(m.eventsTrained, 150, 'events trained add up over workers');
  // A report is cumulative per worker: the next one from w0 replaces its count; buckets add.
  s.onReport('m', report('w0', 130, [[2, 20, 0, 4, 0]]));
  const m2 = s.snapshot(0).models[0];
  t.equal(m2.eventsTrained, 180);
  t.same(m2.windows.model, [0.5, 0.25, 0]);
});

t.test('a malformed report or gate message is counted and changes nothing', async (t) => {
  const s = new DashboardState([model], 0);
  s.onReport('m', { worker: 3 } as unknown as WorkerReport);
  s.onReport('m', report('w0', Number.NaN, []));
  s.onServing('m', { kind: 'decision', accepted: 'yes', at: 1 });
  s.onServing('m', null);
  s.onServing('m', { kind: 'pointer', pointer: {} });
  const snap = s.snapshot(0);
  t.same(snap.bad, { reports: 2, heartbeats: 0, serving: 2 }, 'a pointer move is not a bad message');
  t.equal(snap.models[0].eventsTrained, 0);
  t.equal(snap.models[0].gate, null, 'no gate shown');
  t.throws(() => s.onReport('other', report('w0', 1, [])), /unknown model other/);
});

t.test('gate decisions and their running counts', async (t) => {
  const s = new DashboardState([model], 0);
  for (let i = 0; i < 60; i++) {
    s.onServing('m', { kind: 'decision', at: i, accepted: i % 3 !== 0, reason: 'r', metric: 'err', candidate: 0.1, serving: 0.2, candidateVersions: [i, i], stats: { accepted: i, rejected: 1, rollbacks: 2 } });
  }
  const g = s.snapshot(0).models[0].gate!;
  t.equal(g.decisions.length, 20, 'the page gets the last 20');
  t.equal(g.decisions[19].at, 59);
  t.same([g.accepted, g.rejected, g.rollbacks], [59, 1, 2], 'the validator\'s own counts, as of its last decision');
});

t.test('liveness from heartbeats: alive, not ready, gone, forgotten', async (t) => {
  const s = new DashboardState([model], 0);
  s.onHeartbeat(hb({ id: 'p0', stats: { shard: 0, version: 7, persistedVersion: 6, epoch: 2, lrFactor: 1 } }), 1000);
  s.onHeartbeat(hb({ id: 'i', service: 'inference', instance: 'inference', notReady: 'no weights yet from PS shard 1', stats: { freshnessP50Ms: 120, freshnessP99Ms: 480, 'servedVersion.0': 7, 'servedVersion.1': 0 } }), 1000);
  let snap = s.snapshot(1500);
  const ps = snap.processes.find((p) => p.id === 'p0')!;
  t.ok(ps.alive && ps.ready);
  const inf = snap.processes.find((p) => p.id === 'i')!;
  t.ok(inf.alive && !inf.ready, 'alive but not ready');
  t.equal(inf.notReady, 'no weights yet from PS shard 1');
  t.same(snap.models[0].psShards.map((p) => [p.alive, p.version]), [[true, 7], [false, null]], 'shard 1 has no live process');
  t.same(snap.models[0].servedVersions, [7, 0]);
  t.same(snap.models[0].freshness, { p50Ms: 120, p99Ms: 480 });
  snap = s.snapshot(1000 + 3500);
  t.ok(snap.processes.find((p) => p.id === 'p0')!.alive, 'three beats may be missed');
  snap = s.snapshot(1000 + 3501);
  t.notOk(snap.processes.find((p) => p.id === 'p0')!.alive, 'then it is gone');
  t.equal(snap.models[0].freshness.p50Ms, null, 'a gone inference node shows no freshness');
  // A going process says so in its last beat (interval 0): gone at once.
  s.onHeartbeat(hb({ id: 'p0', intervalMs: 0, notReady: 'stopping' }), 5000);
  t.notOk(s.snapshot(5001).processes.find((p) => p.id === 'p0')!.alive);
  s.tick(5000 + 60_001);
  t.equal(s.snapshot(5000 + 60_001).processes.length, 0, 'forgotten a minute after its last beat');
});

t.test('rates over a few seconds of samples, a restarted counter starting over', async (t) => {
  const r = new RateOf();
  t.equal(r.add(0, 0), 0);
  t.equal(r.add(1000, 0), 0, 'heartbeat not in yet');
  t.equal(r.add(2000, 2000), 1000, '2000 events over 2 s');
  for (let k = 3; k <= 10; k++) r.add(k * 1000, 1000 * k);
  t.equal(r.add(11_000, 11_000), 1000, 'steady 1000/s over the span');
  t.equal(r.add(12_000, 50), 0, 'a counter that went back starts over');
  t.equal(r.add(13_000, 1050), 1000);
  t.equal(r.add(14_000, null), 0, 'unknown reads as 0');
});

t.test('ticks build the time series: events in and trained, lag, freshness', async (t) => {
  const s = new DashboardState([model], 0);
  s.onBacklog('m', 0, 5);
  s.tick(1000);
  s.onBacklog('m', 1, 7);
  s.onHeartbeat(hb({ id: 'g', service: 'ingest', instance: 'ingest', stats: { eventsAccepted: 0 } }), 1500);
  s.tick(2000);
  s.onHeartbeat(hb({ id: 'g', service: 'ingest', instance: 'ingest', stats: { eventsAccepted: 3000 } }), 2500);
  s.onReport('m', report('w0', 1000, []));
  s.tick(3000);
  const snap = s.snapshot(3000);
  t.same(snap.timeline.t, [1, 2, 3]);
  t.same(snap.timeline.ingestPerSec, [0, 0, 3000]);
  t.same(snap.models[0].series.trainedPerSec, [0, 0, 500], '1000 trained over the 2 s since the first tick');
  t.same(snap.models[0].series.lag, [5, 12, 12], 'summed over shards; a shard not polled yet counts 0');
  t.same(snap.models[0].lagByShard, [5, 7]);
  const none = new DashboardState([model], 0);
  none.tick(1000);
  t.same(none.snapshot(1000).models[0].series.lag, [null], 'no shard known: no lag, not zero');
});

t.test('the windows are merged again at most every figuresEveryMs, and only after new buckets', async (t) => {
  const s = new DashboardState([model], 0, 2000);
  s.onReport('m', report('w0', 10, [[0, 10, 5, 8, 0]]));
  t.same(s.snapshot(0).models[0].windows.model, [0.5], 'the first figures at once');
  s.onReport('m', report('w0', 20, [[1, 10, 0, 8, 0]]));
  const early = s.snapshot(1999).models[0];
  t.same(early.windows.model, [0.5], 'not merged again within 2 s');
  t.equal(early.eventsTrained, 20, 'the counters are always current');
  t.same(s.snapshot(2000).models[0].windows.model, [0.5, 0], 'merged again after 2 s');
  s.onReport('m', report('w0', 30, []));
  t.same(s.snapshot(9000).models[0].windows.model, [0.5, 0], 'a counters-only report changes no figure');
});

t.test('windows of event time: past 40, each takes twice the buckets, figures exact', async (t) => {
  const s = new DashboardState([model], 0);
  // Day d: 1 example with error d (the model) and 2d (the baseline), one report per day.
  for (let d = 0; d < 40; d++) s.onReport('m', report('w0', d + 1, [[d, 1, d, 2 * d, 0]]));
  let m = s.snapshot(0).models[0];
  t.equal(m.windows.model.length, 40, 'a window per day up to 40');
  t.same(m.windows.model.slice(0, 3), [0, 1, 2]);
  s.onReport('m', report('w0', 41, [[40, 1, 40, 80, 0]]));
  m = s.snapshot(0).models[0];
  t.equal(m.windows.model.length, 21, 'the 41st day: two days per window');
  t.same(m.windows.model.slice(0, 3), [0.5, 2.5, 4.5], 'days 0-1, 2-3, 4-5');
  t.equal(m.windows.model[20], 40, 'day 40 alone in its window so far');
  t.same(m.windows.baselines.mean.slice(0, 2), [1, 5]);
  t.same(m.windows.examples.slice(0, 2), [2, 2]);
  t.equal(m.windows.toMs[0], 2 * DAY, 'the first window ends after day 1');
  // A late bucket for an early day changes its window only.
  s.onReport('m', report('w1', 1, [[1, 1, 11, 0, 0]]));
  m = s.snapshot(0).models[0];
  t.same(m.windows.model.slice(0, 2), [(0 + 1 + 11) / 3, 2.5], 'a late report lands in its own window');
  t.equal(m.overall!.model, (820 + 11) / 42, 'overall: every example once');
});
