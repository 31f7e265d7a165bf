// The load-test report's charts show every sample: a short run, or values between gaps (a
// sample whose /v1/model answer came late), used to leave the freshness chart empty because
// a lone point is a bare move in an SVG path and draws nothing.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineChart } from '../../loadtest/svg.ts';
import { writeReport } from '../../loadtest/report.ts';
import type { TimePoint } from '../../loadtest/sampler.ts';

const point = (tSec: number, p50: number | null, p99: number | null): TimePoint => ({
  tSec, acceptedClient: 100 * tSec, acceptedServer: 100 * tSec, trained: 90 * tSec, acceptedClientPerSec: 100, acceptedServerPerSec: 100, trainedPerSec: 90,
  backlogMessages: [1, 2], backlogEvents: 10, versions: [tSec], modelAgeMs: 300, freshnessP50Ms: p50, freshnessP99Ms: p99,
  inferenceCount: 0, inferenceP50Ms: null, inferenceP99Ms: null, inferenceP999Ms: null, pushRttP50Ms: null, pushRttP99Ms: null, errors: 0, loadAvg1m: 0,
});

const circles = (svg: string, color: string) => [...svg.matchAll(new RegExp(`<circle cx="([\\d.]+)" cy="([\\d.]+)" r="[\\d.]+" fill="${color}"/>`, 'g'))].map((m) => [Number(m[1]), Number(m[2])]);
const paths = (svg: string, color: string) => [...svg.matchAll(new RegExp(`<path d="([^"]*)" fill="none" stroke="${color}"`, 'g'))].map((m) => m[1]);

t.test('lone points between gaps are drawn as markers at their values', async (t) => {
  const svg = lineChart([{ label: 'p50', color: '#123456', points: [[1, null], [2, 400], [3, null], [4, 800]] }], { title: 'f', yLabel: 'ms', width: 460, height: 260 });
  const c = circles(svg, '#123456');
  t.equal(c.length, 2, 'one marker per sample');
  t.same(paths(svg, '#123456'), [], 'no path of bare moves');
  // y axis: 28 (top) .. 220 (bottom), yMax = 800 * 1.05; x axis: 60 .. 444 over [0, 4].
  const Y = (v: number) => 220 - (v / 840) * 192;
  t.ok(Math.abs(c[0][1] - Y(400)) < 0.1 && Math.abs(c[1][1] - Y(800)) < 0.1, `markers at the values' heights (${c.map((p) => p[1])})`);
  t.ok(Math.abs(c[0][0] - (60 + 2 / 4 * 384)) < 0.1 && Math.abs(c[1][0] - 444) < 0.1, 'and at their times');
});

t.test('a run of points is a line; a long one has no markers', async (t) => {
  const long = Array.from({ length: 100 }, (_, i): [number, number] => [i, 100 + i]);
  const svg = lineChart([{ label: 'a', color: '#00aa00', points: long }], { title: 'f', yLabel: 'ms' });
  const [d] = paths(svg, '#00aa00');
  t.equal(d.match(/L/g)?.length, 99, 'one line through 100 points');
  t.equal(circles(svg, '#00aa00').length, 0, 'no markers on a dense series');
});

t.test('the report\'s freshness chart from a three-sample run has its points', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-report-'));
  const { html } = writeReport(dir, { mode: 'full' }, [point(1, null, null), point(2, 310, 900), point(3, 320, null)], []);
  const page = readFileSync(html, 'utf8');
  const chart = page.split('<svg').find((s) => s.includes('Freshness: event accepted'));
  t.ok(chart, 'the report has a freshness chart');
  t.equal(circles(chart!, '#2ca02c').length, 2, 'p50: both samples marked');
  t.equal(paths(chart!, '#2ca02c').length, 1, 'p50: joined by a line');
  t.equal(circles(chart!, '#d62728').length, 1, 'p99: its one sample is marked, not lost');
});
