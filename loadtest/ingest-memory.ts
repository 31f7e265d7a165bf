// What hostile request bodies cost a real ingest process in memory: starts ingest as a child
// (over the real NATS and Redis, a stream of its own), sends N concurrent bodies of one kind
// and reports the child's RSS (from /proc: before, the highest sampled, the kernel's
// high-water mark VmHWM, after) and how each body was answered, as one JSON line.
//   node --import tsx loadtest/ingest-memory.ts [--kind nested|objects|wide|valid] [--bodies 8] [--mb 7]
//        [--budget-mib N] [--root DIR]
// --root runs the ingest of another checkout (e.g. an older commit, to compare); --budget-mib
// sets ingest.maxInflightBodyBytes (only for a checkout that has it).
// Not a test: RSS depends on the machine and on when the collector runs. The refusals are
// asserted in test/unit/ingest-body-limits.test.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { childServiceEnv, loadConfig, waitFor } from '../shared/index.ts';
import { REPO_ROOT } from '../cluster/processes.ts';
import { freePort, resetModel } from '../cluster/local-cluster.ts';

const { values: a } = parseArgs({
  options: {
    kind: { type: 'string', default: 'nested' }, bodies: { type: 'string', default: '8' }, mb: { type: 'string', default: '7' },
    'budget-mib': { type: 'string' }, root: { type: 'string', default: REPO_ROOT },
  },
});
const bytes = Math.round(Number(a.mb) * 1e6);
const N = Number(a.bodies);

/** A body of about `bytes` bytes of the given kind. */
function body(kind: string): Buffer {
  if (kind === 'nested') return Buffer.from(`${'['.repeat(bytes >> 1)}${']'.repeat(bytes >> 1)}`);
  if (kind === 'objects') return Buffer.from(`[${'{"a":'.repeat(Math.floor(bytes / 6))}1${'}'.repeat(Math.floor(bytes / 6))}]`);
  if (kind === 'wide') return Buffer.from(`[${'0,'.repeat((bytes >> 1) - 1)}0]`);
  if (kind === 'valid') {
    // Valid events as large as the limits allow (8 context values of 128 characters), as many as fit.
    const ctx = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, String(i).repeat(128)]));
    const ev = (i: number) => JSON.stringify({ userId: `u${i}`, itemId: `i${i % 1000}`, type: 'view', ts: Date.now() - 60_000, context: ctx });
    const n = Math.min(10_000, Math.floor(bytes / (ev(0).length + 1)));
    return Buffer.from(`[${Array.from({ length: n }, (_, i) => ev(i)).join(',')}]`);
  }
  throw new Error(`unknown --kind ${kind}: nested, objects, wide or valid`);
}

const rssOf = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

const model = `mem_${process.pid}`;
const port = await freePort();
const ingest: Record<string, unknown> = { port };
if (a['budget-mib']) ingest.maxInflightBodyBytes = Number(a['budget-mib']) * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'fw-ingest-memory-'));
const file = join(dir, 'flywheel.json');
writeFileSync(file, JSON.stringify({ model, ingest }));
const cfg = loadConfig({ file, env: {} });
const child = spawn(process.execPath, ['--import', 'tsx', join(a.root!, 'services/ingest/main.ts'), '--config', file], {
  cwd: a.root, env: childServiceEnv(process.env), stdio: ['ignore', 'pipe', 'pipe'],
});
// Its log is shown only when it does not get ready.
let log = '';
child.stdout!.on('data', (d) => { log = (log + d).slice(-4000); });
child.stderr!.on('data', (d) => { log = (log + d).slice(-4000); });
const pid = child.pid!;
try {
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 30_000, 'ingest ready', 100)
    .catch((err: Error) => { throw new Error(`${err.message}; its log:\n${log}`); });
  const payload = new Uint8Array(body(a.kind!));
  // Settle, then measure the idle process.
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssOf(pid, 'VmRSS');
  const hwmBefore = rssOf(pid, 'VmHWM');
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pid, 'VmRSS')); }, 20);
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: N }, async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
      const text = await res.text();
      let code = '';
      try { code = (JSON.parse(text) as { code?: string }).code ?? ''; } catch { /* not JSON */ }
      return `${res.status}${code ? ` ${code}` : ''}`;
    } catch (err) {
      return `error ${(err as Error).message}`;
    }
  }));
  const elapsedMs = Math.round(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(sampler);
  const counts: Record<string, number> = {};
  for (const x of answers) counts[x] = (counts[x] ?? 0) + 1;
  const mib = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(`${JSON.stringify({
    root: a.root, kind: a.kind, bodies: N, bodyBytes: payload.length, budgetMiB: a['budget-mib'] ? Number(a['budget-mib']) : 'default',
    rssBeforeMiB: mib(before), rssPeakSampledMiB: mib(peak), vmHwmMiB: mib(rssOf(pid, 'VmHWM')), vmHwmBeforeMiB: mib(hwmBefore),
    rssAfterMiB: mib(rssOf(pid, 'VmRSS')), answers: counts, elapsedMs,
  })}\n`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await resetModel(cfg).catch(() => undefined);
}
