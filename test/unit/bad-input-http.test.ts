// The HTTP bad-input corpus (test/corpus/http-events.json) against a real ingest server with
// in-process infrastructure: each case gets its status, code and reason; nothing reaches the
// event log; the rejection counter goes up by one under the case's code; the server still serves.
import t from 'tap';
import { EmbeddedInfra, loadConfig } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { httpBody, loadCorpus } from '../corpus/values.ts';
import { rejectedByReason, send } from '../corpus/http-client.ts';
import type { HttpCase } from '../corpus/generate-http.ts';

const corpus = loadCorpus<HttpCase>('http-events.json');

t.test(`HTTP bad-input corpus: ${corpus.cases.length} cases`, async (t) => {
  const cfg = loadConfig({ overrides: { model: 'badinput', eventShards: 3, ...corpus.config }, env: {} });
  const embedded = new EmbeddedInfra(cfg);
  const ingest = await startIngest(cfg, embedded.forService(), 0);
  t.teardown(() => ingest.stop());
  const backlog = async () => {
    let n = 0;
    for (let s = 0; s < cfg.eventShards; s++) { const b = await embedded.eventLog.backlog(s); n += b.pending + b.ackPending; }
    return n;
  };
  const names = new Set<string>();
  for (const c of corpus.cases) {
    if (names.has(c.name)) t.fail(`duplicate case name: ${c.name}`);
    names.add(c.name);
    const before = await rejectedByReason(ingest.port);
    const r = await send(ingest.port, c.input, httpBody(c.input));
    let body: { error?: string; code?: string; details?: { index: number; reason: string }[] } = {};
    try { body = JSON.parse(r.body); } catch { /* asserted below */ }
    // One assertion per case, listing every way it went wrong.
    const problems: string[] = [];
    if (r.status !== c.expect.status) problems.push(`status ${r.status}, expected ${c.expect.status}`);
    if (body.code !== c.expect.code) problems.push(`code ${body.code}, expected ${c.expect.code}`);
    if (!body.error?.includes(c.expect.reason)) problems.push(`reason lacks "${c.expect.reason}"`);
    if (c.expect.eventReason && !body.details?.[0]?.reason.includes(c.expect.eventReason)) problems.push(`event reason lacks "${c.expect.eventReason}"`);
    if (r.body.length > 20_000) problems.push(`a reply of ${r.body.length} bytes`);
    const published = await backlog();
    if (published !== 0) problems.push(`${published} messages published`);
    const after = await rejectedByReason(ingest.port);
    const counted = (after.get(c.expect.code) ?? 0) - (before.get(c.expect.code) ?? 0);
    if (counted !== 1) problems.push(`rejection counter +${counted} under ${c.expect.code}`);
    const health = await send(ingest.port, { method: 'GET', path: '/healthz' }, Buffer.alloc(0));
    if (health.status !== 200) problems.push(`healthz ${health.status} afterwards`);
    t.same(problems, [], `${c.name} -> ${r.status} ${r.body.slice(0, 160)}`);
  }
  // And a good request still goes through after all of that.
  const ok = await send(ingest.port, { contentType: 'application/json' }, Buffer.from(JSON.stringify([{ userId: 'u1', itemId: 'i1', type: 'view', ts: Date.now() }])));
  t.equal(ok.status, 200, `a valid request is accepted: ${ok.body}`);
  t.equal(await backlog(), 1, 'and published');
});
