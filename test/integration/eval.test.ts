// `flywheel eval` end to end on a prefix of Online Retail: the real services (NATS, Redis,
// PS, worker, ingest, inference as processes) plus the in-process ways, a JSON last line and
// the report files.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../cluster/processes.ts';

t.test('eval --max-events 20000 on Online Retail', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fw-eval-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), 'eval',
    '--schema', join(REPO_ROOT, 'datasets/online-retail.json'), '--max-events', '20000', '--out', out], { cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGTERM'); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`);
  const last = JSON.parse(stdout.trim().split('\n').pop()!);
  t.equal(last.dataset, 'online-retail');
  t.equal(last.kind, 'ctr');
  t.equal(last.headline, 'auc');
  t.equal(last.eventsRead, 20000);
  for (const way of ['incremental', 'frozen', 'periodic']) {
    t.ok(last[way].auc > 0 && last[way].auc < 1, `${way} AUC ${last[way].auc} in (0, 1)`);
    t.ok(last[way].logLoss > 0, `${way} logloss ${last[way].logLoss}`);
  }
  t.ok(existsSync(join(out, 'report.html')), 'report.html');
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  t.same(Object.keys(report.ways).sort(), ['frozen', 'incremental', 'incrementalTwin', 'periodic']);
  t.equal(report.ways.incremental.windows.length, 10, '10 windows from the real services');
  t.equal(report.ways.incremental.run.eventsTrained, 20000, 'every event trained by the services');
  t.equal(report.ways.incremental.run.examples, report.examples, 'the worker built as many examples as the in-process stream');
  t.same(report.metric.figures.slice(0, 3), ['auc', 'prAuc', 'logLoss'], 'the CTR kind\'s metric, AUC first');
  t.same(report.metric.counts, ['examples', 'positives'], 'counts apart from the figures');
  t.ok(report.metric.windowFigures.includes('f1AtPrevBest'), 'per-window figures at the previous window\'s threshold');
  t.equal(report.probes.name, 'ranking', 'CTR\'s ranking probes (its evalExtras)');
  for (const way of ['incrementalTwin', 'frozen', 'periodic']) {
    const o = report.ways[way].overall;
    t.ok(o['hr@10'] >= 0 && o['hr@10'] <= 1 && o['ndcg@10'] <= o['hr@10'], `${way} HR@10 ${o['hr@10']}, NDCG@10 ${o['ndcg@10']}`);
    const users = report.ways[way].segments.users;
    t.equal(users.new.examples + users.returning.examples, o.examples, `${way}: new + returning users = the evaluated part`);
    t.equal(users.new.positives + users.returning.positives, o.positives, `${way}: segment positives add up to the evaluated part's`);
    t.ok(o.prAuc > 0 && o.prAuc <= 1, `${way} PR-AUC ${o.prAuc}`);
    const ws = report.ways[way].windows;
    t.equal(ws[0].f1AtPrevBest, null, `${way}: no previous window for window 1`);
    t.ok(ws.slice(1).every((w: Record<string, number | null>) => w.f1AtPrevBest === null || (w.f1AtPrevBest >= 0 && w.f1AtPrevBest <= 1)), `${way}: F1 at the previous best threshold in [0, 1]`);
  }
  t.notOk('hr@10' in report.ways.incremental.overall, 'no ranking from the worker reports');
  for (const w of report.ways.incremental.windows) t.ok(w.auc > 0 && w.auc < 1, `services window ${w.window + 1}: AUC ${w.auc}`);
  const sw = report.ways.incremental.windows;
  t.ok(sw[0].f1AtPrevBest === null && sw[sw.length - 1].f1AtPrevBest > 0, `services: F1 at the previous best threshold from window 2 on (last ${sw[sw.length - 1].f1AtPrevBest})`);
  t.match(readFileSync(join(out, 'report.html'), 'utf8'), /<svg[\s\S]*incremental[\s\S]*frozen[\s\S]*periodic/, 'one line per way');
});
