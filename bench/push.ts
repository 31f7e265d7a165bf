// Figure 3: a gradient push through the real request/reply path (the worker's GradientPusher:
// encodePush into its reused buffers -> NatsTransport.request -> PsShard actor: decode into the
// tables' wasm memory, validate, de-duplicate, apply -> reply -> parseReply), one
// push in flight, against a raw nats.js request of the same bytes to a responder that only
// acks. Two sizes: 8,000 rows x 16 dims spread over 26 embedding tables (~550 KB, under
// max_payload, so unchunked), and 500 x 16 (~35 KB), near a demo worker's push: fw_ps_push_rows
// in a 150k-event demo gave a mean of 316 rows per push and shard for CTR (most 300-1000, of
// dims 8 and below) and 123 for demand. The shard
// holds the rows already (steady state); store in memory, publishing off, so the figure is the
// push path alone.
import type { NatsConnection } from 'nats';
import {
  DEFAULT_CONFIG, MemoryShardStore, NatsTransport, Registry, connectNats, encodePush,
  type GradientPush, type SparseGrad,
} from '../shared/index.ts';
import { CTR_MODEL_DEFAULTS } from '../shared/models/ctr/config.ts';
import { ctrParamSpec } from '../shared/models/ctr/spec.ts';
import { PsShard } from '../services/ps/ps-shard.ts';
import { GradientPusher } from '../services/worker/pusher.ts';
import { psMetrics } from '../services/ps/metrics.ts';
import { figure, median, progress, randomF32, runId, sampled } from './lib/figures.ts';

const SIZES = [8000, 500];
const DIM = 16;
const FIELDS = 26;
const ROUNDS = 10;
/** Each round runs at least this long and this many requests: rounds of 25 at 500 x 16 took
 *  ~15 ms, and one stall of the scheduler moved such a round by 2x. */
const ROUND_MS = 150;
const MIN_PER_ROUND = 25;

function sparseGrads(rows: number): SparseGrad[] {
  const out: SparseGrad[] = [];
  const per = Math.ceil(rows / FIELDS);
  for (let f = 0, left = rows; f < FIELDS && left > 0; f++) {
    const n = Math.min(per, left);
    left -= n;
    // Distinct ids spread over the table's 2^18 buckets.
    const rows = Int32Array.from({ length: n }, (_, i) => (i * 7919 + f * 104729) % (1 << 18));
    out.push({ table: `emb.f${f}`, rows, grads: randomF32(n * DIM, f + 1).map((x) => x * 1e-3) });
  }
  return out;
}

export async function benchPush(): Promise<void> {
  const model = runId('push');
  const cfg = structuredClone(DEFAULT_CONFIG);
  const spec = ctrParamSpec(model, 7, {
    ...CTR_MODEL_DEFAULTS, fields: Array.from({ length: FIELDS }, (_, i) => `f${i}`), embDim: DIM, hidden: [256, 128],
  });
  const serverNc = await connectNats(cfg.natsUrl, 'bench-push-server');
  const clientNc = await connectNats(cfg.natsUrl, 'bench-push-client');
  const shard = new PsShard({
    model, spec, cfg: { ...cfg.ps, publishIntervalMs: 3_600_000, clipNorm: 0 }, shard: 0, shards: 1,
    transport: new NatsTransport(serverNc), store: new MemoryShardStore(), metrics: psMetrics(new Registry()), log: () => undefined,
  });
  const client = new NatsTransport(clientNc);
  const pusher = new GradientPusher(client, model, 10_000, () => false);
  const rawSubject = `${model}.raw`;
  const ack = new Uint8Array(24);
  const rawSub = serverNc.subscribe(rawSubject, { callback: (_err, m) => m.respond(ack) });
  try {
    await shard.start();
    await shard.actor.idle();
    for (const rowsPerPush of SIZES) {
      const sparse = sparseGrads(rowsPerPush);
      let seq = 0;
      let version = shard.version;
      const pushOnce = async () => {
        const p: GradientPush = {
          worker: 'bench', seq: ++seq, baseVersion: version, dense: [], sparse, examples: 1024,
          newestAcceptedAtMs: Date.now(), meanAcceptedAtMs: Date.now(),
        };
        const out = await pusher.push(0, p);
        if (!out.ok) throw new Error(`push refused: ${out.error.code} ${out.error.message}`);
        version = out.version;
      };
      const sample = encodePush({ worker: 'bench', seq: 0, baseVersion: 0, dense: [], sparse, examples: 1024, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0 });
      const bytes = sample.slice();
      const rawOnce = async (nc: NatsConnection) => { await nc.request(rawSubject, bytes, { timeout: 10_000 }); };
      progress(`push: ${rowsPerPush} rows x ${DIM} dims = ${(bytes.length / 1024).toFixed(0)} KiB per push`);
      for (let i = 0; i < 10; i++) { await pushOnce(); await rawOnce(clientNc); }
      // Alternate rounds of each so load from other work on the machine hits both alike.
      const pushRates: number[] = [];
      const rawRates: number[] = [];
      const round = async (once: () => Promise<void>): Promise<number> => {
        const t0 = performance.now();
        let n = 0;
        while (n < MIN_PER_ROUND || performance.now() - t0 < ROUND_MS) { await once(); n++; }
        return (n * 1000) / (performance.now() - t0);
      };
      for (let r = 0; r < ROUNDS; r++) {
        pushRates.push(await round(pushOnce));
        rawRates.push(await round(() => rawOnce(clientNc)));
      }
      const push = median(pushRates);
      const raw = median(rawRates);
      // Each push round against the raw round right after it (the same moment's load).
      const paired = pushRates.map((x, i) => x / rawRates[i]).sort((a, b) => a - b);
      figure(
        sampled(`push.nats.psShard.${rowsPerPush}x${DIM}`, 'pushes/s', pushRates),
        sampled(`push.nats.raw-request.same-bytes.${rowsPerPush}x${DIM}`, 'requests/s', rawRates),
        {
          target: '>= 70% of raw (ratio >= 0.7)', check: (x) => x >= 0.7,
          note: `${(bytes.length / 1024).toFixed(0)} KiB per push, 1 in flight; push side includes encodePush, decode, validation, the sparse apply and parseReply; `
            + `${((push * bytes.length) / 1e6).toFixed(0)} vs ${((raw * bytes.length) / 1e6).toFixed(0)} MB/s; medians of ${ROUNDS} rounds of >= ${ROUND_MS} ms each; `
            + `round by round the ratio was ${median(paired).toFixed(2)} [${paired[0].toFixed(2)}..${paired[paired.length - 1].toFixed(2)}]`,
        },
      );
    }
  } finally {
    rawSub.unsubscribe();
    await shard.stop();
    await client.close();
    await serverNc.close();
  }
}
