// Figure 5: the wire codec (shared/codec.ts, msgpackr with moreTypes) on a gradient push carrying
// 1 MB of typed arrays (16,000 rows x 16 floats over 26 tables, plus their Int32 row ids),
// encode and decode, against a raw copy of the same number of bytes (new Uint8Array(bytes): what
// any serialization must at least do once). Medians: encode allocates its output, so its
// cost includes the allocator and GC, as in the services; the copy allocates too.
import { decode, encode, type GradientPush } from '../shared/index.ts';
import { figure, progress, randomF32, sampled, timeSync, type Timing } from './lib/figures.ts';

const ROWS = 16_000;
const DIM = 16;
const FIELDS = 26;

function push(): GradientPush {
  const per = Math.ceil(ROWS / FIELDS);
  const sparse = [];
  for (let f = 0, left = ROWS; f < FIELDS && left > 0; f++) {
    const n = Math.min(per, left);
    left -= n;
    sparse.push({ table: `emb.f${f}`, rows: Int32Array.from({ length: n }, (_, i) => i * 31 + f), grads: randomF32(n * DIM, f + 1) });
  }
  return { worker: 'bench', seq: 1, baseVersion: 0, dense: [], sparse, examples: 1024, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0 };
}

export async function benchCodec(): Promise<void> {
  const p = push();
  const bytes = encode(p);
  const payload = p.sparse.reduce((s, g) => s + g.rows.byteLength + g.grads.byteLength, 0);
  progress(`codec: push of ${(payload / 1e6).toFixed(2)} MB of typed arrays, ${(bytes.length / 1e6).toFixed(2)} MB encoded`);
  let sink = 0;
  const enc = timeSync(() => { sink += encode(p).length; }, 60, 10);
  const dec = timeSync(() => { sink += (decode(bytes) as GradientPush).sparse.length; }, 60, 10);
  // new Uint8Array(buffer) copies; Buffer#slice would only make a view.
  const copy = timeSync(() => { sink += new Uint8Array(bytes).length; }, 60, 10);
  if (sink === 0) progress('unreachable');
  const gbps = (name: string, t: Timing) => sampled(name, 'GB/s', t.samplesMs.map((ms) => bytes.length / 1e6 / ms)); // bytes per ns = GB/s
  const ref = gbps('codec.raw-copy.same-bytes', copy);
  figure(gbps('codec.encode.push-1MB', enc), ref, {
    note: `encode ${(enc.medianMs * 1000).toFixed(0)} us (min ${(enc.minMs * 1000).toFixed(0)}) vs copy ${(copy.medianMs * 1000).toFixed(0)} us (min ${(copy.minMs * 1000).toFixed(0)}); medians of 60`,
  });
  figure(gbps('codec.decode.push-1MB', dec), ref, {
    note: `decode ${(dec.medianMs * 1000).toFixed(0)} us (min ${(dec.minMs * 1000).toFixed(0)}); typed arrays come back as copies (aligned), so one copy is the floor`,
  });
}
