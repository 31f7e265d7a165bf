// Writes a load test's report: report.json (settings, figures, the whole time series) and
// report.html, one self-contained page with the figures and inline SVG charts over time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TimePoint } from './sampler.ts';
import { TARGETS } from './summary.ts';
import { lineChart, type Series } from './svg.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sum = (a: number[]) => a.reduce((s, x) => s + (Number.isFinite(x) ? x : 0), 0);

function series(label: string, color: string, points: TimePoint[], y: (p: TimePoint) => number | null): Series {
  return { label, color, points: points.map((p) => [p.tSec, y(p)]) };
}

function charts(points: TimePoint[], summary: Record<string, unknown>): string[] {
  const out = [
    lineChart([
      series('accepted (client)', '#1f77b4', points, (p) => p.acceptedClientPerSec),
      series('accepted (ingest /metrics)', '#17becf', points, (p) => p.acceptedServerPerSec),
      series('trained (worker reports)', '#2ca02c', points, (p) => (summary.mode === 'ingest-only' ? null : p.trainedPerSec)),
    ], { title: 'Throughput: events accepted vs trained', yLabel: 'events/s' }),
    lineChart([
      series('JetStream backlog (messages)', '#d62728', points, (p) => sum(p.backlogMessages)),
    ], { title: 'Backlog: pending + ackPending over event shards', yLabel: 'messages' }),
  ];
  if (summary.mode !== 'ingest-only') {
    out.push(
      lineChart([series('events accepted, not yet trained', '#9467bd', points, (p) => p.backlogEvents)], { title: 'Backlog in events', yLabel: 'events' }),
      lineChart([
        series('freshness p50 (inference)', '#2ca02c', points, (p) => p.freshnessP50Ms),
        series('freshness p99 (inference)', '#d62728', points, (p) => p.freshnessP99Ms),
        series('model age (now - newest event in it)', '#7f7f7f', points, (p) => p.modelAgeMs),
      ], { title: 'Freshness: event accepted -> served model contains it', yLabel: 'ms', target: { y: TARGETS.freshnessP99Ms, label: `target p99 ${TARGETS.freshnessP99Ms} ms` } }),
      lineChart([
        series('p50', '#1f77b4', points, (p) => p.inferenceP50Ms),
        series('p99', '#ff7f0e', points, (p) => p.inferenceP99Ms),
        series('p99.9', '#d62728', points, (p) => p.inferenceP999Ms),
      ], { title: 'Inference latency per second (from intended send time)', yLabel: 'ms' }),
      lineChart([
        series('push RTT p50', '#1f77b4', points, (p) => p.pushRttP50Ms),
        series('push RTT p99', '#d62728', points, (p) => p.pushRttP99Ms),
      ], { title: 'Worker -> PS push round trip per second (histogram buckets)', yLabel: 'ms' }),
    );
  }
  return out;
}

function figuresTable(summary: Record<string, unknown>): string {
  const rows = Object.entries(summary).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))}</td></tr>`);
  return `<table>${rows.join('\n')}</table>`;
}

/** Writes both files into `dir`; returns their paths. */
export function writeReport(dir: string, summary: Record<string, unknown>, points: TimePoint[], notes: string[]): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, JSON.stringify({ summary, notes, timeSeries: points }, null, 2));
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Flywheel load test ${esc(String(summary.startedAt ?? ''))}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:900px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f6f6;font-weight:normal}
svg{display:block;margin:18px 0}li{margin:4px 0}</style></head><body>
<h1>Flywheel load test</h1>
<ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${charts(points, summary).join('\n')}
<h2>Figures</h2>
${figuresTable(summary)}
</body></html>
`;
  writeFileSync(html, page);
  return { json, html };
}
