// The evaluation report: report.json with every figure, and report.html with one inline SVG
// chart per figure of the kind's metric (the headline first) and of its probes over stream
// time (windows), one line per way and one dashed line per baseline. No scripts, no external
// assets: the page opens from disk anywhere.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Series { name: string; color: string; values: (number | null)[]; dashed?: boolean }

export const WAY_COLORS: Record<string, string> = {
  incremental: '#1f77b4', incrementalTwin: '#7fb3e0', frozen: '#d62728', periodic: '#2ca02c',
};

/** Baselines, dashed, in these colours in order. */
export const BASELINE_COLORS = ['#555555', '#9467bd', '#8c564b', '#e377c2', '#bcbd22'];

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Rounds every number in a JSON-able value to 5 significant decimals; NaN becomes null. */
export function tidy(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1e5) / 1e5 : null;
  if (Array.isArray(v)) return v.map(tidy);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tidy(x)]));
  return v;
}

/** A line chart of series over windows 0..n-1; null values break the line. */
export function svgChart(title: string, labels: string[], series: Series[], firstEval: number): string {
  const W = 560, H = 240, L = 48, R = 130, T = 28, B = 36;
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  if (all.length === 0) return `<p>${esc(title)}: no data</p>`;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-6) { lo -= 0.01; hi += 0.01; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const n = labels.length;
  const x = (i: number) => L + ((W - L - R) * (n === 1 ? 0.5 : i / (n - 1)));
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
    `<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${x(firstEval) - 4}" y="${T}" width="${W - R - x(firstEval) + 4}" height="${H - T - B}" fill="#f4f4f4"/>`];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${L - 4}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v.toFixed(3)}</text>`);
  }
  labels.forEach((lab, i) => parts.push(`<text x="${x(i)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${esc(lab)}</text>`));
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="10" text-anchor="middle">window of stream time (equal example counts; shaded = evaluated part)</text>`);
  series.forEach((s, si) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { d += ' '; return; }
      d += `${d === '' || d.endsWith(' ') ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    const dash = s.dashed ? ' stroke-dasharray="5,3"' : '';
    parts.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    s.values.forEach((v, i) => { if (v !== null && Number.isFinite(v)) parts.push(`<circle cx="${x(i)}" cy="${y(v)}" r="2.5" fill="${s.color}"/>`); });
    parts.push(`<line x1="${W - R + 10}" x2="${W - R + 28}" y1="${T + 8 + si * 16}" y2="${T + 8 + si * 16}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${W - R + 32}" y="${T + 12 + si * 16}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

type Row = Record<string, number | null>;

/** A table of rows; the columns in `counts` (examples, positives) print as integers. */
function table(title: string, rows: Record<string, Row>, cols: string[], counts: readonly string[]): string {
  const cell = (c: string, v: number | null | undefined) => (v === null || v === undefined ? '-'
    : counts.includes(c) ? Math.round(v).toLocaleString('en-US') : Number(v).toFixed(4));
  const head = `<tr><th></th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = Object.entries(rows).map(([name, r]) => `<tr><th>${esc(name)}</th>${cols.map((c) => `<td>${cell(c, r[c])}</td>`).join('')}</tr>`).join('');
  return `<h3>${esc(title)}</h3><table>${head}${body}</table>`;
}

interface Scored { windows: Row[]; overall: Row; segments?: Record<string, Record<string, Row>> }

/** Writes report.json and report.html into dir; returns their paths. */
export function writeReport(dir: string, report: Record<string, any>): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const clean = tidy(report) as Record<string, any>;
  const json = join(dir, 'report.json');
  writeFileSync(json, `${JSON.stringify(clean, null, 2)}\n`);
  const ways = clean.ways as Record<string, Scored>;
  const baselines = (clean.baselines ?? {}) as Record<string, Scored>;
  const n = clean.protocol.windows as number;
  const labels = Array.from({ length: n }, (_, i) => `${i + 1}`);
  const first = clean.protocol.firstEvalWindow as number;
  const metric = clean.metric as { headline: string; higherIsBetter: boolean; figures: string[]; counts?: string[]; windowFigures?: string[] };
  const counts = metric.counts ?? ['examples'];
  const probeFigures = Object.keys((clean.probes?.higherIsBetter ?? {}) as Record<string, boolean>);
  const better = (m: string) => (m in (clean.probes?.higherIsBetter ?? {}) ? clean.probes.higherIsBetter[m] : m === metric.headline ? metric.higherIsBetter : undefined);
  const charts = [...metric.figures, ...(metric.windowFigures ?? []), ...probeFigures].map((m) => {
    const line = (name: string, w: Scored, color: string, dashed: boolean): Series => ({ name, color, dashed, values: w.windows.map((r) => (r[m] ?? null) as number | null) });
    const series: Series[] = [
      ...Object.entries(ways).map(([name, w]) => line(name, w, WAY_COLORS[name] ?? '#888', false)),
      ...Object.entries(baselines).map(([name, w], i) => line(name, w, BASELINE_COLORS[i % BASELINE_COLORS.length], true)),
    ].filter((x) => x.values.some((v) => v !== null));
    const b = better(m);
    return svgChart(b === undefined ? m : `${m} (${b ? 'higher' : 'lower'} is better)`, labels, series, first);
  });
  const overall: Record<string, Row> = {
    ...Object.fromEntries(Object.entries(ways).map(([k, w]) => [k, w.overall])),
    ...Object.fromEntries(Object.entries(baselines).map(([k, w]) => [`baseline: ${k}`, w.overall])),
  };
  const segs: string[] = [];
  for (const [name, w] of [...Object.entries(ways), ...Object.entries(baselines).map(([k, b]) => [`baseline ${k}`, b] as const)]) {
    for (const [seg, groups] of Object.entries(w.segments ?? {})) {
      const rows = Object.fromEntries(Object.entries(groups).map(([g, f]) => [`${seg}: ${g}`, f]));
      segs.push(table(`${name}: ${seg} (evaluated part)`, rows, [...counts, ...metric.figures], counts));
    }
  }
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Flywheel eval: ${esc(String(clean.dataset))}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}svg{margin:4px}</style></head><body>
<h1>Flywheel eval: ${esc(String(clean.dataset))}, kind ${esc(String(clean.kind))}</h1>
<p>${esc(String(clean.description ?? ''))}<br>events read: ${clean.eventsRead}; examples: ${clean.examples}; generated ${esc(String(clean.generatedAt))}</p>
<p>${(clean.notes as string[]).map(esc).join('<br>')}</p>
${table(`Overall (evaluated part: the last windows); headline ${metric.headline}, ${metric.higherIsBetter ? 'higher' : 'lower'} is better`, overall, [...counts, ...metric.figures, ...probeFigures], counts)}
<div>${charts.join('\n')}</div>
${segs.join('\n')}
</body></html>
`;
  const htmlPath = join(dir, 'report.html');
  writeFileSync(htmlPath, html);
  return { json, html: htmlPath };
}
