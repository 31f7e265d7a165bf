// Line charts as inline SVG strings, so report.html is one self-contained file that opens
// anywhere (no scripts, no network). Gaps (null) break a line rather than drawing it to zero.

export interface Series {
  label: string;
  color: string;
  points: [number, number | null][];
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  xLabel?: string;
  width?: number;
  height?: number;
  /** Horizontal reference line, e.g. a target. */
  target?: { y: number; label: string };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step giving about `n` ticks over [0, max]. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(v < 10 ? 2 : 0)}`);

/** A series of at most this many points gets a marker on each (denser ones would blur). */
const MARK_EVERY_POINT_UP_TO = 40;

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 260;
  const m = { l: 60, r: 16, t: 28, b: 40 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]).filter((y): y is number => y !== null && Number.isFinite(y)));
  if (o.target) ys.push(o.target.y);
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1e-9, ...ys) * 1.05;
  const X = (x: number) => m.l + (x / xMax) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - (y / yMax) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${m.l}" y="16" font-size="13" font-weight="bold">${esc(o.title)}</text>`,
  ];
  const yStep = niceStep(yMax, 5);
  for (let y = 0; y <= yMax; y += yStep) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(y)}" y2="${Y(y)}" stroke="#e4e4e4"/>`,
      `<text x="${m.l - 6}" y="${Y(y) + 4}" text-anchor="end">${fmt(y)}</text>`);
  }
  const xStep = niceStep(xMax, 8);
  for (let x = 0; x <= xMax; x += xStep) {
    out.push(`<text x="${X(x)}" y="${H - m.b + 14}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#888"/>`,
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#888"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle">${esc(o.xLabel ?? 'seconds')}</text>`,
    `<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (o.target) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(o.target.y)}" y2="${Y(o.target.y)}" stroke="#c00" stroke-dasharray="5 4"/>`,
      `<text x="${W - m.r - 4}" y="${Y(o.target.y) - 4}" text-anchor="end" fill="#c00">${esc(o.target.label)}</text>`);
  }
  series.forEach((s, i) => {
    // One path per run of non-null points. A run of one point is a bare move, which draws
    // nothing: with few samples, or values between gaps, the chart would look empty. Those
    // points get a marker, and a short series gets one on every point so each sample shows.
    let d = '';
    const runs: [number, number][][] = [[]];
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) { if (runs[runs.length - 1].length) runs.push([]); continue; }
      runs[runs.length - 1].push([X(x), Y(y)]);
    }
    const shown = runs.filter((r) => r.length > 0);
    for (const r of shown) if (r.length > 1) d += r.map(([px, py], j) => `${j ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
    if (d) out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    const markAll = shown.reduce((n, r) => n + r.length, 0) <= MARK_EVERY_POINT_UP_TO;
    for (const r of shown) {
      if (r.length > 1 && !markAll) continue;
      for (const [px, py] of r) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    }
    const lx = m.l + 10 + i * 170;
    out.push(`<rect x="${lx}" y="${m.t - 2}" width="10" height="3" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${m.t + 2}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
