// Small statistics helpers: medians and the same-round ratios the report is built on.

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Ratio of a to b in each round, then the median: both sides saw the same machine state. */
export function sameRoundRatio(a: number[], b: number[]): number {
  return median(a.map((value, i) => value / b[i]!));
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
