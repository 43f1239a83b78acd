// The scaling result as an SVG chart (log-log): wall time and Redis CPU against sessions per user.
import { APPROACHES, type Approach, type ScalingResult } from './scaling.js';

const COLORS: Record<Approach, string> = {
  rotate: '#1b7f3b',
  'rotate-off': '#17a2b8',
  scan: '#c0392b',
  set: '#2c6fbb',
  zset: '#8e44ad',
};

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function format(value: number, unit: string): string {
  if (value >= 100) return `${Math.round(value).toLocaleString('en')} ${unit}`;
  if (value >= 10) return `${value.toFixed(1)} ${unit}`;
  return `${value.toFixed(2)} ${unit}`;
}

interface Panel {
  title: string;
  unit: string;
  value: (approach: Approach, size: number) => number | undefined;
}

function panel(result: ScalingResult, spec: Panel, x0: number, width: number, height: number): string[] {
  const { sizes } = result.plan;
  const approaches = Object.keys(APPROACHES) as Approach[];
  const values = approaches
    .flatMap((a) => sizes.map((s) => spec.value(a, s)))
    .filter((v): v is number => !!v && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const left = x0 + 64;
  const right = x0 + width - 20;
  const top = 70;
  const bottom = height - 60;
  const xs = (i: number) => left + ((right - left - 80) * i) / Math.max(sizes.length - 1, 1);
  const ys = (v: number) => bottom - ((bottom - top) * Math.log10(v / lo)) / Math.log10(hi / lo);
  const out = [
    `<text x="${(left + right) / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold">${esc(spec.title)}</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>`,
  ];
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    const y = ys(decade);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${esc(`${decade < 1 ? Number(decade.toPrecision(1)) : decade.toLocaleString('en')} ${spec.unit}`)}</text>`,
    );
  }
  sizes.forEach((size, i) => {
    out.push(
      `<text x="${xs(i)}" y="${bottom + 18}" text-anchor="middle" font-size="11">${size.toLocaleString('en')}</text>`,
    );
  });
  out.push(
    `<text x="${(left + right - 80) / 2}" y="${bottom + 40}" text-anchor="middle" font-size="12">sessions of the user (log scale)</text>`,
  );
  const labels: { x: number; y: number; color: string; text: string }[] = [];
  for (const approach of approaches) {
    const pts = sizes
      .map((size, i) => ({ i, v: spec.value(approach, size) }))
      .filter((p): p is { i: number; v: number } => p.v !== undefined && p.v > 0);
    if (pts.length === 0) continue;
    const color = COLORS[approach];
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.map((p) => `${xs(p.i)},${ys(p.v)}`).join(' ')}"/>`,
      ...pts.map((p) => `<circle cx="${xs(p.i)}" cy="${ys(p.v)}" r="3.5" fill="${color}"/>`),
    );
    const last = pts[pts.length - 1]!;
    labels.push({ x: xs(last.i) + 8, y: ys(last.v) + 4, color, text: format(last.v, spec.unit) });
  }
  // End labels are pushed apart so that close values stay readable.
  labels.sort((a, b) => a.y - b.y);
  for (let i = 1; i < labels.length; i++) labels[i]!.y = Math.max(labels[i]!.y, labels[i - 1]!.y + 13);
  for (const l of labels)
    out.push(`<text x="${l.x}" y="${l.y}" font-size="11" fill="${l.color}">${esc(l.text)}</text>`);
  return out;
}

export function scalingChart(result: ScalingResult, caption: string): string {
  const width = 1100;
  const height = 440;
  const find = (a: Approach, s: number) => result.points.find((p) => p.approach === a && p.sessions === s);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 40}" viewBox="0 0 ${width} ${height + 40}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img">`,
    `<title>Sign-out-everywhere cost against sessions per user: rotate, SCAN, SET index and sorted-set index</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Sign out everywhere: cost against sessions per user (${(result.plan.background + Math.max(...result.plan.sizes)).toLocaleString('en')} keys in all)</text>`,
    ...panel(
      result,
      { title: 'Client wall time (median)', unit: 'ms', value: (a, s) => find(a, s)?.ms },
      0,
      width / 2,
      height,
    ),
    ...panel(
      result,
      { title: 'Redis CPU, INFO commandstats (median)', unit: 'µs', value: (a, s) => find(a, s)?.redisUs },
      width / 2,
      width / 2,
      height,
    ),
  ];
  const approaches = Object.keys(APPROACHES) as Approach[];
  approaches.forEach((approach, i) => {
    const x = 30 + i * 214;
    parts.push(
      `<rect x="${x}" y="${height - 8}" width="14" height="4" fill="${COLORS[approach]}"/>`,
      `<text x="${x + 20}" y="${height - 2}" font-size="12">${esc(APPROACHES[approach].label)}</text>`,
    );
  });
  parts.push(
    `<text x="${width / 2}" y="${height + 28}" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
