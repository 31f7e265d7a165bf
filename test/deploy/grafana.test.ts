// deploy/grafana/flywheel-dashboard.json: it parses, every panel queries the datasource
// variable (so it imports into any Grafana), it covers what the issue asks for, and every metric
// its queries name is one the code registers. Not checked: that Grafana renders the panels or
// that Prometheus accepts the PromQL (no Grafana or Prometheus here).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, codeMetricNames, type Obj } from '../helpers/deploy.ts';

const DASHBOARD = join(ROOT, 'deploy/grafana/flywheel-dashboard.json');
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Obj;

/** PromQL words that are not metric names. */
const PROMQL = new Set(['sum', 'avg', 'min', 'max', 'count', 'rate', 'irate', 'increase', 'delta', 'histogram_quantile', 'by', 'without',
  'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'topk', 'bottomk', 'clamp_min', 'clamp_max',
  'label_values', 'last_over_time', 'max_over_time', 'avg_over_time', 'absent', 'time', 'vector', 'scalar']);

/** The metric names of a PromQL expression: what is left without strings, label matchers, grouping labels, ranges and numbers. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$[A-Za-z_]\w*/g, ' ');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL.has(w));
}

/** Metrics the dashboard service registers (another part of the same change) and Prometheus' own `up`. */
const ALLOWED = new Set(['fw_model_headline', 'fw_model_logloss', 'fw_eventlog_consumer_lag', 'fw_dashboard_process_up', 'up']);
const known = codeMetricNames();
const exists = (name: string) => ALLOWED.has(name) || known.has(name) || known.has(name.replace(/_(bucket|sum|count)$/, ''));

const panels: Obj[] = [];
(function walk(list: Obj[]) { for (const p of list) { panels.push(p); walk(p.panels ?? []); } })(dashboard.panels ?? []);
const exprs = panels.flatMap((p) => (p.targets ?? []).map((x: Obj) => ({ panel: String(p.title), expr: String(x.expr ?? '') })));
const variableQueries = (dashboard.templating?.list ?? []).filter((v: Obj) => v.type === 'query')
  .map((v: Obj) => ({ panel: `variable ${v.name}`, expr: String(typeof v.query === 'string' ? v.query : v.query?.query).replace(/^label_values\(([^,]+),.*\)$/, '$1') }));

t.test('importable: a datasource variable DS_PROMETHEUS that every panel and query uses', async (t) => {
  t.type(dashboard.title, 'string');
  t.type(dashboard.uid, 'string');
  const ds = (dashboard.templating.list as Obj[]).find((v) => v.name === 'DS_PROMETHEUS');
  t.equal(ds?.type, 'datasource');
  t.equal(ds?.query, 'prometheus');
  t.ok(panels.length >= 8, `${panels.length} panels`);
  const ids = panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels) {
    t.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${p.title}: datasource variable`);
    for (const x of p.targets ?? []) t.equal(x.datasource?.uid, '${DS_PROMETHEUS}', `${p.title} ${x.refId}: datasource variable`);
    t.ok(p.gridPos && p.gridPos.w > 0 && p.gridPos.h > 0, `${p.title}: placed`);
  }
});

t.test('covers what is to be watched', async (t) => {
  const all = exprs.map((e) => e.expr).join('\n');
  for (const [what, re] of [
    ['headline per model and scorer (baselines)', /fw_model_headline/],
    ['logloss', /fw_model_logloss/],
    ['events/s ingested', /rate\(fw_ingest_events_accepted_total/],
    ['events/s trained', /rate\(fw_worker_events_trained_total/],
    ['consumer lag per shard', /fw_eventlog_consumer_lag/],
    ['freshness p50', /histogram_quantile\(0\.5,.*fw_inference_freshness_seconds_bucket/],
    ['freshness p99', /histogram_quantile\(0\.99,.*fw_inference_freshness_seconds_bucket/],
    ['versions per PS shard', /fw_ps_version/],
    ['gate decisions', /fw_gate_decisions_total/],
    ['rollbacks', /decision="rollback"/],
    ['processes up', /\bup\{/],
    ['processes alive per heartbeat', /fw_dashboard_process_up/],
  ] as const) t.match(all, re, what);
});

t.test('every metric a query names exists in the code', async (t) => {
  t.ok(known.has('fw_ps_version') && known.has('fw_inference_freshness_seconds'), `found the code's metrics (${known.size})`);
  for (const { panel, expr } of [...exprs, ...variableQueries]) {
    const names = metricNames(expr);
    t.ok(names.length > 0, `${panel}: names a metric (${expr})`);
    for (const n of names) t.ok(exists(n), `${panel}: ${n} is registered in services/ or shared/`);
  }
});

t.test('the check catches a metric that does not exist', async (t) => {
  t.same(metricNames('sum by (model) (rate(fw_ingest_events_acepted_total{model=~"$model"}[1m]))'), ['fw_ingest_events_acepted_total']);
  t.notOk(exists('fw_ingest_events_acepted_total'), 'a misspelt counter');
  t.notOk(exists('fw_no_such_histogram_bucket'), 'a histogram suffix does not make an unknown name known');
  t.same(metricNames('histogram_quantile(0.99, sum by (le) (rate(fw_inference_freshness_seconds_bucket[5m])))'), ['fw_inference_freshness_seconds_bucket']);
  t.ok(exists('fw_inference_freshness_seconds_bucket'));
});
