/**
 * Small, dependency-free SVG charts for the run report: a line chart and a stacked bar chart
 * over rounds. Output is a standalone <svg> element (no scripts, no external fonts or styles),
 * so the report opens anywhere, offline, and every value is also in the hover <title>.
 */

export interface Series {
  name: string;
  /** [round, value]; rounds without a value are left out (a gap, not a zero). */
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  yLabel?: string;
  /** Formats tick labels and hover values. */
  format?: (value: number) => string;
  /** Start the y axis at zero (counts, durations); otherwise fit the data (accuracy, loss). */
  zeroBased?: boolean;
}

const WIDTH = 560;
const HEIGHT = 280;
const MARGIN = { top: 44, right: 16, bottom: 36, left: 60 };
/** Colour-blind-safe palette (Okabe-Ito), cycled for series beyond its length. */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const plain = (v: number) => (Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toLocaleString("en-US", { maximumFractionDigits: 1 }) : v.toPrecision(3));

/** About `count` round-numbered ticks from at or below `min` to at or above `max` (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  const last = Math.ceil(max / step - 1e-9) * step;
  for (let t = Math.floor(min / step + 1e-9) * step; t <= last + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

interface Frame { x: (round: number) => number; y: (value: number) => number; ticks: number[]; rounds: number[] }

function frame(rounds: number[], values: number[], options: ChartOptions): Frame {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (options.zeroBased) lo = Math.min(0, lo);
  if (hi === lo) [lo, hi] = [lo - (Math.abs(lo) || 1) * 0.05, hi + (Math.abs(hi) || 1) * 0.05];
  const ticks = niceTicks(lo, hi);
  lo = Math.min(lo, ticks[0]);
  hi = Math.max(hi, ticks[ticks.length - 1]);
  const first = Math.min(...rounds);
  const last = Math.max(...rounds);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  // Bars need half a slot of room at both ends; lines use the same frame so charts line up.
  const pad = plotW / (last - first + 1) / 2;
  const usable = plotW - 2 * pad;
  return {
    x: (r) => MARGIN.left + pad + (last === first ? usable / 2 : ((r - first) / (last - first)) * usable),
    y: (v) => MARGIN.top + plotH - ((v - lo) / (hi - lo)) * plotH,
    ticks: ticks.filter((t) => t >= lo && t <= hi),
    rounds: roundTicks(first, last),
  };
}

function roundTicks(first: number, last: number): number[] {
  const step = Math.max(1, Math.ceil((last - first + 1) / 12));
  const out: number[] = [];
  for (let r = first; r <= last; r += step) out.push(r);
  return out;
}

/** Tick labels with as many decimals as the tick step needs (0.6, 0.7; 5, 10), all alike. */
function tickFormat(ticks: number[]): (v: number) => string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]) || 1;
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return (v) => v.toFixed(decimals);
}

function axes(f: Frame, options: ChartOptions): string {
  const fmt = tickFormat(f.ticks);
  const parts: string[] = [];
  for (const t of f.ticks) {
    const y = f.y(t).toFixed(1);
    parts.push(`<line class="gridline" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(fmt(t))}</text>`);
  }
  for (const r of f.rounds) parts.push(`<text class="tick" x="${f.x(r).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${r}</text>`);
  parts.push(`<text class="axis" x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 4}" text-anchor="middle">round</text>`);
  if (options.yLabel) parts.push(`<text class="axis" transform="translate(14 ${(MARGIN.top + HEIGHT - MARGIN.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  return parts.join("");
}

function legend(names: string[]): string {
  let x = MARGIN.left;
  return names.map((name, i) => {
    const item = `<rect x="${x}" y="26" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text class="legend" x="${x + 14}" y="35">${escapeXml(name)}</text>`;
    x += 24 + Math.min(name.length, 24) * 6.5;
    return item;
  }).join("");
}

function svg(options: ChartOptions, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(options.title)}">`
    + `<text class="title" x="${MARGIN.left}" y="16">${escapeXml(options.title)}</text>${body}</svg>`;
}

/** One line per series over rounds; an empty chart says so instead of drawing axes over nothing. */
export function lineChart(series: Series[], options: ChartOptions): string {
  const drawn = series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) return svg(options, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text>`);
  const f = frame(drawn.flatMap((s) => s.points.map((p) => p[0])), drawn.flatMap((s) => s.points.map((p) => p[1])), options);
  const fmt = options.format ?? plain;
  const lines = drawn.map((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const d = s.points.map(([r, v], j) => `${j === 0 ? "M" : "L"}${f.x(r).toFixed(1)} ${f.y(v).toFixed(1)}`).join(" ");
    const dots = s.points.map(([r, v]) => `<circle cx="${f.x(r).toFixed(1)}" cy="${f.y(v).toFixed(1)}" r="3" fill="${colour}"><title>${escapeXml(`${s.name}, round ${r}: ${fmt(v)}`)}</title></circle>`).join("");
    return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>${dots}`;
  }).join("");
  return svg(options, axes(f, options) + lines + legend(drawn.map((s) => s.name)));
}

/** Bars per round, the series stacked on each other (phase durations, bytes in and out). */
export function stackedBarChart(rounds: number[], series: { name: string; values: number[] }[], options: ChartOptions): string {
  if (rounds.length === 0) return svg(options, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text>`);
  const totals = rounds.map((_, i) => series.reduce((sum, s) => sum + Math.max(0, s.values[i] ?? 0), 0));
  const f = frame(rounds, [0, ...totals], { ...options, zeroBased: true });
  const fmt = options.format ?? plain;
  const slot = rounds.length > 1 ? Math.abs(f.x(rounds[1]) - f.x(rounds[0])) : (WIDTH - MARGIN.left - MARGIN.right) / 2;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const bars = rounds.map((r, i) => {
    let base = 0;
    return series.map((s, k) => {
      const v = Math.max(0, s.values[i] ?? 0);
      const top = f.y(base + v);
      const rect = `<rect x="${(f.x(r) - barW / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${(f.y(base) - top).toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeXml(`round ${r}, ${s.name}: ${fmt(v)}`)}</title></rect>`;
      base += v;
      return rect;
    }).join("");
  }).join("");
  return svg(options, axes(f, options) + bars + legend(series.map((s) => s.name)));
}
