// A very short `flywheel loadtest` as a child process, as a user runs it: 8 s at 1,000
// events/s with 20 predicts/s on the real NATS and Redis. It checks that the JSON line is sane,
// not that the targets are met (the machine is shared): events accepted and trained, latency
// percentiles ordered, the report files written.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../../cluster/processes.ts';

function runLoadtest(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), 'loadtest', ...args], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    // SIGINT first: the loadtest then stops its cluster itself; the test fails on the timeout.
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`loadtest still running after ${timeoutMs} ms:\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

t.test('a short loadtest writes its report and a sane summary line', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fw-loadtest-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = await runLoadtest(['--duration', '8', '--rate', '1000', '--predict-rate', '20', '--drain', '2', '--progress-every', '4', '--out', out], 90_000);
  t.equal(r.code, 0, `exit code 0${r.code ? `; stderr ends: ${r.stderr.slice(-1500)}` : ''}`);
  const lines = r.stdout.trim().split('\n');
  const s = JSON.parse(lines[lines.length - 1]) as Record<string, any>;
  t.ok(s.eventsAccepted > 0 && s.eventsAcceptedPerSec > 0, `events accepted: ${s.eventsAccepted}`);
  // 8 s at 1,000/s: at most 8,000, plus one batch (500) sent at the deadline.
  // 8 s at 1,000/s, give or take the batch in flight when the clock ran out.
  t.ok(s.eventsAccepted <= 9000, `the rate bound held (${s.eventsAccepted} events in 8 s at 1,000/s)`);
  t.equal(s.eventsAcceptedByIngest, s.eventsAccepted, 'ingest /metrics agrees with the client count');
  t.ok(s.eventsTrained > 0 && s.eventsTrainedPerSec > 0, `events trained: ${s.eventsTrained}`);
  t.ok(s.inferenceOk > 0, `predictions answered: ${s.inferenceOk}`);
  t.ok(s.inferenceP50Ms <= s.inferenceP99Ms && s.inferenceP99Ms <= s.inferenceP999Ms, 'inference p50 <= p99 <= p999');
  t.ok(s.pushRttP50Ms === null || s.pushRttP50Ms <= s.pushRttP99Ms, 'push RTT p50 <= p99');
  t.ok(s.freshnessP50Ms === null || s.freshnessP50Ms <= s.freshnessP99Ms, 'freshness p50 <= p99');
  t.ok(s.backlogMax >= 0 && typeof s.errors.total === 'number', 'backlog and errors reported');
  t.ok(s.psVersionsPerSec > 0, `PS versions advanced: ${s.psVersionsPerSec}/s`);
  t.equal(s.ratePerSec, 1000, 'settings echoed');
  for (const f of ['report.json', 'report.html']) t.ok(existsSync(join(out, f)), `${f} written`);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  t.ok(report.timeSeries.length >= 2, `a time series of samples (${report.timeSeries.length})`);
  t.match(readFileSync(join(out, 'report.html'), 'utf8'), /<svg[\s\S]*Freshness/, 'charts inline');
});
