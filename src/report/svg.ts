/**
 * Inline SVG charts for the report, drawn by hand so the file needs nothing from the network.
 * Every bar carries a <title> (a tooltip) with its exact value.
 */

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Bar {
  label: string;
  value: number;
  /** A second value drawn over the first from the left (e.g. the flagged part). */
  part?: number;
  title?: string;
}

/** Horizontal bars, one per row, labelled left and valued right. */
export function barChart(bars: readonly Bar[], o: { width?: number; className?: string } = {}): string {
  const width = o.width ?? 640;
  const row = 22;
  const labelW = Math.min(220, Math.max(60, ...bars.map((b) => b.label.length * 7 + 8)));
  const valueW = 90;
  const plotW = width - labelW - valueW;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const h = bars.length * row + 4;
  const parts = bars.map((b, i) => {
    const y = i * row + 2;
    const w = (b.value / max) * plotW;
    const pw = b.part !== undefined ? (Math.min(b.part, b.value) / max) * plotW : 0;
    return `<g><title>${esc(b.title ?? `${b.label}: ${fmt(b.value)}`)}</title>` +
      `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end" class="lbl">${esc(trim(b.label, 30))}</text>` +
      `<rect class="bar" x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" rx="2"/>` +
      (pw > 0 ? `<rect class="bar part" x="${labelW}" y="${y + 3}" width="${pw.toFixed(1)}" height="${row - 6}" rx="2"/>` : '') +
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 15}" class="val">${esc(fmt(b.value))}</text></g>`;
  });
  return `<svg class="chart ${o.className ?? ''}" role="img" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}">${parts.join('')}</svg>`;
}

export interface HistBin {
  lo: number;
  hi: number;
  n: number;
  flagged: number;
}

/** A vertical-bar histogram; the flagged part of each bin is drawn in the accent colour. */
export function histogramChart(bins: readonly HistBin[], o: { width?: number; height?: number; label?: string } = {}): string {
  const width = o.width ?? 300;
  const height = o.height ?? 120;
  const padB = 18;
  const padL = 4;
  const plotH = height - padB - 4;
  const bw = (width - padL * 2) / Math.max(1, bins.length);
  const max = Math.max(1, ...bins.map((b) => b.n));
  const bars = bins.map((b, i) => {
    const x = padL + i * bw;
    const hAll = (b.n / max) * plotH;
    const hF = (b.flagged / max) * plotH;
    const y0 = 4 + plotH;
    return `<g><title>${esc(`${fmt(b.lo)} – ${fmt(b.hi)}: ${b.n} (${b.flagged} flagged)`)}</title>` +
      `<rect class="bin" x="${(x + 0.5).toFixed(1)}" y="${(y0 - hAll).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${hAll.toFixed(1)}"/>` +
      (hF > 0 ? `<rect class="bin flagged" x="${(x + 0.5).toFixed(1)}" y="${(y0 - hF).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${hF.toFixed(1)}"/>` : '') +
      `</g>`;
  });
  const lo = bins[0]?.lo ?? 0;
  const hi = bins[bins.length - 1]?.hi ?? 1;
  const axis = `<line class="axis" x1="${padL}" y1="${4 + plotH}" x2="${width - padL}" y2="${4 + plotH}"/>` +
    `<text class="tick" x="${padL}" y="${height - 4}">${esc(fmt(lo))}</text>` +
    `<text class="tick" x="${width - padL}" y="${height - 4}" text-anchor="end">${esc(fmt(hi))}</text>` +
    `<text class="tick" x="${width / 2}" y="${height - 4}" text-anchor="middle">max ${max}</text>`;
  return `<svg class="chart hist" role="img" aria-label="${esc(o.label ?? 'histogram')}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars.join('')}${axis}</svg>`;
}

export function fmt(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function trim(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}
