import type { ReportData } from './data.js';

const RULE = '='.repeat(60);

/** Seed 002's cleaning_summary.txt: the report's numbers as plain text. */
export function formatReportText(d: ReportData): string {
  const L: string[] = [RULE, `CLEANING SUMMARY: ${d.run.name ?? 'dataset'} (run ${d.run.id}, ${d.run.status})`, RULE];
  const pct = (n: number, of: number) => (of ? ` (${((n / of) * 100).toFixed(1)}%)` : '');
  L.push(`Samples listed by the source: ${d.listed}`);
  L.push(`Samples kept:                 ${d.kept}${pct(d.kept, d.listed)}`);
  L.push(`Samples with flagged issues:  ${d.flaggedSamples}${pct(d.flaggedSamples, d.listed)}`);
  if (d.funnel.length > 1) {
    L.push('', 'Dataset size over the steps:');
    for (const s of d.funnel) {
      const why = Object.entries(s.reasons).map(([r, n]) => `${r} ${n}`).join(', ');
      L.push(`  ${s.name.padEnd(16)} ${String(s.after).padStart(9)}` + (s.removed ? `   -${s.removed} (${why})` : ''));
    }
  }
  if (d.splits.length) {
    L.push('', 'Split breakdown:');
    for (const s of d.splits) L.push(`  ${s.split.toUpperCase()}: ${s.count} samples (${s.percent.toFixed(1)}%)`);
  }
  if (d.issues.length) {
    L.push('', 'Issues by type (samples flagged):');
    for (const i of d.issues) L.push(`  ${i.type}${i.source === 'imgsift' ? '' : ` [${i.source}]`}: ${i.flagged}`);
  }
  for (const p of d.pairs) {
    L.push('', `${p.type}: ${p.flagged} flagged, ${p.withPartner} paired with ${p.partners} other sample(s)`);
    for (const [k, n] of Object.entries(p.bySplits)) L.push(`  ${k}: ${n}`);
    for (const [k, n] of Object.entries(p.byMethod)) L.push(`  method ${k}: ${n}`);
  }
  const { tags, decisions, imports } = d.review;
  if (Object.keys(decisions).length || Object.keys(tags).length) {
    L.push('', 'Review:');
    for (const [a, n] of Object.entries(decisions)) L.push(`  ${a}: ${n}`);
    if (Object.keys(tags).length) L.push(`  tags: ${Object.entries(tags).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  }
  if (imports.length) {
    L.push('', 'Imported issues:');
    for (const i of imports) L.push(`  ${i.source}: ${i.issues}`);
  }
  if (d.summary?.attention.length) {
    L.push('', 'Needs attention:');
    for (const a of d.summary.attention) L.push(`  - ${a}`);
  }
  L.push(RULE);
  return L.join('\n') + '\n';
}
