// The validation gate on a live system (real NATS, Redis, PS, worker, validator, inference
// processes): a healthy run is served; a stretch with flipped labels makes the gate keep the
// good version serving and reject the poisoned candidates; clean data lets versions pass again.
import t from 'tap';
import {
  JetStreamEventLog, NatsTransport, connectNats, decode, encode, eventShardOf, exactAuc, mulberry32, subjects, waitFor,
  type FlywheelEvent, type WorkerReport, ReportAggregator, binaryMetric,
} from '../../shared/index.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { freePort } from '../../cluster/local-cluster.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

interface DecisionMsg { kind: string; accepted?: boolean; candidate?: number; serving?: number }

t.test('the gate keeps the good version serving through a poisoned stretch', async (t) => {
  const { cfg, file, dir } = await integrationConfig('gate', {
    psShards: 1, workers: 1, eventShards: 2,
    settings: { labels: { kind: 'types', positive: ['buy'] }, fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4, embLrScale: 20, biasLrScale: 20 },
    ps: { learningRate: 0.03, publishIntervalMs: 50 },
    worker: { batchSize: 128, metricsIntervalMs: 200 },
    gate: { holdoutPermille: 100, intervalMs: 300, minHoldoutExamples: 800, chunkExamples: 200, tolerance: 0.01, maxQuarantineRounds: 1000 },
  });
  const nc = await connectNats(cfg.natsUrl, 'test-gate');
  const transport = new NatsTransport(nc);
  const log = new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards });
  await log.ensure();
  const group = new ProcessGroup(dir);
  t.teardown(async () => { await group.stop(); await transport.close(); await cleanupModel(cfg); });
  const decisions: { phase: string; d: DecisionMsg }[] = [];
  let phase = 'clean';
  transport.subscribe(subjects.serving(cfg.model), (m) => {
    const d = decode(m.data) as DecisionMsg;
    if (d.kind === 'decision') decisions.push({ phase, d });
  });
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, binaryMetric);
  transport.subscribe(subjects.metrics(cfg.model), (m) => agg.add(decode(m.data) as WorkerReport));
  const gatePort = await freePort();
  group.start('ps-0', 'ps', ['--config', file, '--shard', '0']);
  group.start('worker-0', 'worker', ['--config', file, '--index', '0']);
  group.start('validator', 'validator', ['--config', file, '--port', String(gatePort)]);
  group.start('inference', 'inference', ['--config', file]);
  const died = group.watch();
  died.catch(() => undefined);
  const infUrl = `http://127.0.0.1:${cfg.inference.port}`;
  await Promise.race([waitFor(async () => (await fetch(`${infUrl}/healthz`).catch(() => undefined))?.ok === true, 60_000, 'inference', 100), died]);
  await Promise.race([waitFor(async () => (await fetch(`http://127.0.0.1:${gatePort}/healthz`).catch(() => undefined))?.ok === true, 60_000, 'validator', 100), died]);

  const rand = mulberry32(21);
  let ts = Date.UTC(2024, 0, 1);
  let sent = 0;
  const publish = async (n: number, flipped: boolean) => {
    for (let i = 0; i < n; i += 200) {
      const byShard: FlywheelEvent[][] = [[], []];
      for (let j = 0; j < 200; j++) {
        const u = Math.floor(rand() * 800);
        const it = Math.floor(rand() * 800);
        const buy = (it % 3 === 0) !== flipped;
        const ev: FlywheelEvent = { userId: `u${u}`, itemId: `i${it}`, type: buy ? 'buy' : 'view', ts: ts++ };
        byShard[eventShardOf(ev.userId, 2)].push(ev);
      }
      await Promise.all(byShard.map((events, s) => log.publish(s, encode({ acceptedAtMs: Date.now(), events }))));
      sent += 200;
    }
    await Promise.race([waitFor(() => agg.total('eventsTrained') >= sent, 120_000, `${sent} events trained`, 50), died]);
  };
  const model = async () => (await fetch(`${infUrl}/v1/model`)).json() as Promise<{ serving: { checkpointId: number } | null }>;
  // The gate judges while versions move; once training stops, wait until it has judged the
  // final versions (a decision naming them), or found them equal to what it serves.
  const judgedLatest = async () => {
    const live = (await (await fetch(`${infUrl}/v1/model`)).json() as { liveVersions: number[] }).liveVersions;
    await waitFor(async () => {
      const g = await (await fetch(`http://127.0.0.1:${gatePort}/v1/gate`)).json() as { decisions: { candidateVersions: number[] }[]; servingVersions?: number[] };
      const last = g.decisions[g.decisions.length - 1];
      return last !== undefined && last.candidateVersions.every((v, k) => v >= live[k]);
    }, 30_000, `the gate to judge versions ${live}`, 50);
  };

  await publish(30_000, false);
  await judgedLatest();
  const healthy = decisions.filter((x) => x.phase === 'clean' && x.d.accepted);
  t.ok(healthy.length >= 1, `clean stretch: ${healthy.length} versions accepted`);
  const servedBefore = (await model()).serving;
  t.ok(servedBefore, 'inference serves a checkpoint');

  phase = 'poisoned';
  // How many candidates the gate judges per 1,000 events depends on the machine's speed: keep
  // the poisoned stream coming (up to 80k events) until it has rejected enough in a row to roll
  // the weights back, rather than assume a rate.
  const gateStats = async () => (await (await fetch(`http://127.0.0.1:${gatePort}/v1/gate`)).json() as { stats: { rollbacks: number } }).stats;
  await publish(20_000, true);
  for (let extra = 0; extra < 60_000 && (await gateStats()).rollbacks === 0; extra += 5_000) await publish(5_000, true);
  await judgedLatest();
  const poisoned = decisions.filter((x) => x.phase === 'poisoned');
  const rejected = poisoned.filter((x) => !x.d.accepted);
  t.ok(rejected.length >= 1, `poisoned stretch: ${rejected.length} of ${poisoned.length} candidates rejected`);
  // After a rollback of the weights a candidate can be close to the good version again and
  // pass; what must never pass is a poisoned model.
  const promoted = poisoned.filter((x) => x.d.accepted).map((x) => x.d.candidate ?? 0);
  t.ok(promoted.every((auc) => auc > 0.9), `no poisoned model promoted (holdout AUCs of those accepted: ${promoted.map((a) => a.toFixed(3)).join(', ') || 'none'})`);
  const gate = await (await fetch(`http://127.0.0.1:${gatePort}/v1/gate`)).json() as { stats: { rejected: number; quarantined: number; rollbacks: number }; lrFactor: number };
  t.ok(gate.stats.quarantined >= 1, `poisoned held-out data quarantined (${gate.stats.quarantined} chunks)`);
  t.ok(gate.lrFactor < 1, `learning rate decayed to x${gate.lrFactor}`);
  t.ok(gate.stats.rollbacks >= 1, `PS weights rolled back to the serving checkpoint ${gate.stats.rollbacks} time(s)`);
  // The same decisions as metrics, by model and decision, so rollbacks can be counted and alerted on.
  const metrics = await (await fetch(`http://127.0.0.1:${gatePort}/metrics`)).text();
  const counted = (decision: string) => Number(new RegExp(`^fw_gate_decisions_total\\{[^}]*decision="${decision}"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const after = (await (await fetch(`http://127.0.0.1:${gatePort}/v1/gate`)).json() as { stats: { rejected: number; quarantined: number; rollbacks: number } }).stats;
  t.match(metrics, new RegExp(`fw_gate_decisions_total\\{[^}]*model="${cfg.model}"`), 'the decision counter is labelled with the model');
  t.ok(counted('rollback') >= 1 && counted('rollback') <= after.rollbacks, `rollbacks counted: ${counted('rollback')} (the gate says ${after.rollbacks})`);
  t.ok(counted('reject') >= 1 && counted('quarantine') >= 1 && counted('accept') >= 1, 'rejections, quarantines and acceptances counted too');
  // What inference serves still knows the truth: its AUC on clean pairs stays high.
  const pairs = Array.from({ length: 400 }, () => ({ userId: `u${Math.floor(rand() * 800)}`, itemId: `i${Math.floor(rand() * 800)}` }));
  const res = await (await fetch(`${infUrl}/v1/predict`, { method: 'POST', body: JSON.stringify({ events: pairs }) })).json() as { scores: number[] };
  const servedAuc = exactAuc(res.scores, pairs.map((p) => (Number(p.itemId.slice(1)) % 3 === 0 ? 1 : 0)));
  t.ok(servedAuc > 0.8, `the served version's AUC on clean data after the poisoned stretch: ${servedAuc.toFixed(3)}`);
  phase = 'recovered';
  await publish(40_000, false);
  await waitFor(() => decisions.some((x) => x.phase === 'recovered' && x.d.accepted), 60_000, 'a version accepted again on clean data', 50);
  t.pass(`clean data again: ${decisions.filter((x) => x.phase === 'recovered' && x.d.accepted).length} versions accepted`);
});
