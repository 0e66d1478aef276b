import type { Distribution, ValidationReport } from './validate.js';

/** Problems listed one by one before the rest are summed up. */
const SHOWN = 50;

const fmt = (n: number, digits: number) => (Number.isInteger(n) ? String(n) : n.toFixed(digits));

function dist(d: Distribution, digits = 1): string {
  return `mean ${fmt(d.mean, digits)}  median ${fmt(d.median, digits)}  min ${fmt(d.min, digits)}  max ${fmt(d.max, digits)}`;
}

const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)}%` : '0%');

/** The report as the text `imgsift validate` prints. */
export function formatReport(r: ValidationReport): string {
  const lines: string[] = [];
  const rule = '='.repeat(60);
  lines.push(rule, `VALIDATION: ${r.path}`, rule);
  lines.push(`Samples: ${r.samples} in ${r.shards.length} shard(s)${r.truncated ? ' (stopped at --max-samples)' : ''}`);
  for (const s of r.shards) lines.push(`  ${s.name}: ${s.samples} samples${s.kind === 'dir' ? ' (extracted)' : ''}`);

  lines.push('', 'Members per extension:');
  const width = Math.max(0, ...Object.keys(r.members).map((k) => k.length));
  for (const [ext, n] of Object.entries(r.members)) lines.push(`  ${ext.padEnd(width)}  ${n}${n < r.samples ? `  (missing in ${r.samples - n})` : ''}`);

  if (r.images) {
    lines.push('', `Image sizes (${r.images.count} images):`);
    lines.push(`  width   ${dist(r.images.width)}`, `  height  ${dist(r.images.height)}`);
    lines.push(`  most common: ${r.images.sizes.map((s) => `${s.size} ×${s.count}`).join(', ')}`);
  }

  if (r.masks) {
    const m = r.masks;
    lines.push('', `Masks (${m.masks}):`);
    lines.push(`  coverage %         ${dist(m.coverage, 2)}`);
    lines.push(`  components         ${dist(m.components)}`);
    lines.push(m.borderDistance ? `  border distance px ${dist(m.borderDistance)}` : '  border distance px (all masks empty)');
    lines.push(`  empty ${m.empty}, full ${m.full}, touching border ${m.touchingBorder} (${pct(m.touchingBorder, m.masks)}), near edge ${m.nearEdge} (${pct(m.nearEdge, m.masks)})`);
    if (m.nonBinary) lines.push(`  ${m.nonBinary} mask(s) have values other than 0 and 255 (thresholded at 128)`);
    if (m.touchingBorder + m.nearEdge > m.masks / 2) {
      lines.push('  Many edge warnings: expected when edits happen near edges; check the overlays for misaligned masks.');
    }
  }

  if (r.edgeWarnings.length) {
    lines.push('', `Edge warnings (${r.edgeWarnings.length}):`);
    for (const w of r.edgeWarnings.slice(0, SHOWN)) lines.push(`  ${w.shard}: ${w.key}: ${w.member} is ${w.borderDistance} px from the border`);
    if (r.edgeWarnings.length > SHOWN) lines.push(`  ... and ${r.edgeWarnings.length - SHOWN} more`);
  }

  lines.push('');
  if (r.problems.length === 0) {
    lines.push('No problems found.');
  } else {
    const byKind = new Map<string, number>();
    for (const p of r.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
    lines.push(`Problems: ${r.problems.length} in ${r.samplesWithProblems} of ${r.samples} samples (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')})`);
    for (const p of r.problems.slice(0, SHOWN)) lines.push(`  ${p.shard}: ${p.key}: ${p.detail}`);
    if (r.problems.length > SHOWN) lines.push(`  ... and ${r.problems.length - SHOWN} more`);
  }
  if (r.overlays) lines.push(`Overlays: ${r.overlays.written} written to ${r.overlays.dir}`);
  lines.push(rule);
  return lines.join('\n') + '\n';
}
