// `flywheel label-delays --schema FILE [--delays 0,7,28] [--modes wait,fake-negative]`: how a
// kind's prequential figures degrade when the outcomes arrive late. For every delay, the
// dataset is read with its outcome events that many days after their rows, and for every mode
// of the kind's label joiner, an in-process twin of a worker (as `flywheel eval` runs it) and
// the kind's baselines score each example before its outcome is known. The figures are cut
// into windows of the rows' own time (equal numbers of rows), so a window holds the same
// transactions whatever the delay. Writes reports/label-delays-<dataset>-<time>/report.{json,html}.
import { join } from 'node:path';
import { givenAsStrings, loadConfig, serverEnv, type CommandSpec, type FlywheelEvent, type MetricAccumulator, type ParsedOptions } from '../../shared/index.ts';
import { loadSchema, schemaConfig, schemaEvents } from '../../shared/datasets/schema.ts';
import { DelayedScores } from '../../shared/models/delayed-scores.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';
import { runBaselines } from './baselines.ts';
import { figuresOf, forRuns } from './metrics.ts';
import { runIncrementalTwin } from './offline.ts';
import { EVAL_DEFAULTS, TWIN_OPTIONS, evalOptions } from './protocol.ts';
import { BASELINE_COLORS, svgChart, tidy, type Series } from './report.ts';
import { buildEvalStream } from './stream.ts';
import { mkdirSync, writeFileSync } from 'node:fs';

export const spec: CommandSpec = {
  name: 'label-delays',
  summary: 'how the prequential figures degrade when outcomes arrive late (schemas with an outcome)',
  options: {
    schema: { type: 'string', value: 'FILE', required: true, help: 'dataset schema with fields.outcome (datasets/risk-claims.json)' },
    delays: { type: 'string', value: 'DAYS,...', help: 'outcome delays to compare, in days', default: '0,7,28' },
    modes: { type: 'string', value: 'MODE,...', help: "label-joiner modes to compare (the kind's settings.labels.mode)", default: 'wait,fake-negative' },
    windows: { type: 'integer', help: 'windows of equal row count in the rows\' time order', default: EVAL_DEFAULTS.windows },
    ...TWIN_OPTIONS,
    out: { type: 'string', value: 'DIR', help: 'report directory', defaultText: 'reports/label-delays-<dataset>-<time>' },
  },
};

interface Row { window: number; fromMs: number; toMs: number; [figure: string]: number }

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const schema = loadSchema(args.schema);
  if (!schema.fields.outcome) throw new Error(`${args.schema}: no fields.outcome (the outcome column and its delay)`);
  const delays = (args.delays ?? '0,7,28').split(',').map((s) => Number(s.trim()));
  if (delays.some((d) => !(d >= 0 && d <= 3650))) throw new Error('--delays must list days in 0..3650, e.g. 0,7,28');
  const modes = (args.modes ?? 'wait,fake-negative').split(',').map((s) => s.trim());
  const W = Number(args.windows ?? EVAL_DEFAULTS.windows);
  const o = evalOptions({ windows: String(W) });
  const overrides = schemaConfig(schema);
  const base = loadConfig({ file: args.config, overrides, env: serverEnv() });
  o.batchSize = args['batch-size'] !== undefined ? Number(args['batch-size']) : base.worker.batchSize;
  const metric = resolveModel(base).kind.metric;

  const runs: { delay: number; mode: string; name: string; overall: Record<string, number>; windows: Row[] }[] = [];
  let bounds: number[] | undefined;
  for (const delay of delays) {
    const events: FlywheelEvent[] = [];
    for await (const b of schemaEvents(schema, { outcomeDelayDays: delay })) events.push(...b);
    // Windows of the rows' own time, equal row counts, from the first delay's rows.
    if (!bounds) {
      const ts = events.filter((e) => e.type !== 'outcome').map((e) => e.ts);
      bounds = Array.from({ length: W - 1 }, (_, w) => ts[Math.floor(((w + 1) * ts.length) / W)]);
    }
    const windowOf = (ts: number) => { let w = 0; while (w < bounds!.length && ts >= bounds![w]) w++; return w; };
    for (const mode of modes) {
      const cfg = loadConfig({ file: args.config, overrides: { ...overrides, settings: { ...(overrides.settings as object), labels: { ...((overrides.settings as { labels?: object }).labels ?? {}), mode } } }, env: serverEnv() });
      const m = resolveModel(cfg);
      const stream = buildEvalStream(events, cfg, o);
      const twin = runIncrementalTwin(stream, cfg, o);
      const width = twin.scores.length / stream.size;
      // Baselines once per delay, on the first mode's rows (the LR baseline learns the rows' trained labels).
      const baselines = mode === modes[0] ? runBaselines(stream, m.kind.baselines?.(m.settings) ?? [], o.batchSize, width) : [];
      const scored = [{ name: 'model', scores: twin.scores }, ...baselines];
      const windowOfExample = Uint16Array.from(stream.examples.eventTs, windowOf);
      for (const s of scored) {
        // Each example counts with the score it got when first seen, before its outcome.
        const paired = stream.examples.refs ? new DelayedScores(width).pair(stream.examples, s.scores).predictions : s.scores;
        const accs: MetricAccumulator[] = Array.from({ length: W }, () => metric.create());
        const all = metric.create();
        const span = Array.from({ length: W }, () => [Infinity, -Infinity]);
        forRuns(stream.size, (i) => windowOfExample[i], (w, i, j) => {
          accs[w].add(paired, stream.examples, i, j);
          span[w][0] = Math.min(span[w][0], stream.examples.eventTs[i]);
          span[w][1] = Math.max(span[w][1], stream.examples.eventTs[j - 1]);
        });
        for (let w = 1; w < W; w++) all.merge(accs[w].state());
        const name = s.name === 'model' ? `${delay} d, ${mode}` : `${delay} d, ${s.name}`;
        runs.push({
          delay, mode: s.name === 'model' ? mode : s.name, name, overall: figuresOf(metric, all),
          windows: accs.map((a, w) => ({ window: w, fromMs: span[w][0], toMs: span[w][1], ...figuresOf(metric, a) })),
        });
        if (s.name === 'model') say(`delay ${delay} d, ${mode}: ${metric.headline} ${all.figures()[metric.headline].toFixed(4)} over windows 2-${W} (${all.count} examples)`);
      }
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = args.out ?? join(REPO_ROOT, 'reports', `label-delays-${schema.name}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const report = tidy({
    dataset: schema.name, schema: args.schema, generatedAt: new Date().toISOString(), delays, modes, windows: W, batchSize: o.batchSize,
    notes: [
      `Each example counts with the score it got when its row arrived, before its outcome; windows cut the rows' own time into ${W} equal counts, the overall figures cover windows 2-${W}.`,
      'The model is an in-process twin of a worker (the kind\'s example source, score then train per batch, the PS update rules); the baselines learn from the same rows in the same order.',
    ],
    runs,
  }) as { runs: typeof runs };
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const figures = Object.keys(metric.create().figures());
  const labels = Array.from({ length: W }, (_, w) => `${w + 1}`);
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#17becf'];
  const charts = figures.map((f) => svgChart(f, labels, report.runs.map((r, i): Series => ({
    name: r.name, color: r.mode === 'wait' || r.mode === 'fake-negative' ? colors[(delays.indexOf(r.delay) * modes.length + modes.indexOf(r.mode)) % colors.length] : BASELINE_COLORS[i % BASELINE_COLORS.length],
    dashed: !(r.mode === 'wait' || r.mode === 'fake-negative'), values: r.windows.map((x) => x[f] ?? null),
  })), 1));
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(4));
  const table = `<table border="1" cellpadding="4"><tr><th>run</th>${figures.map((f) => `<th>${f}</th>`).join('')}</tr>${report.runs.map((r) => `<tr><td>${r.name}</td>${figures.map((f) => `<td>${cell(r.overall[f])}</td>`).join('')}</tr>`).join('')}</table>`;
  writeFileSync(join(dir, 'report.html'), `<!doctype html><meta charset="utf-8"><title>label delays: ${schema.name}</title><body style="font-family:sans-serif"><h1>Late outcomes: ${schema.name}</h1><p>${(report as unknown as { notes: string[] }).notes.join('</p><p>')}</p>${table}${charts.join('\n')}</body>`);
  say(`report: ${join(dir, 'report.json')}\n        ${join(dir, 'report.html')}`);
  return 0;
}
