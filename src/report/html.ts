import { resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { runPixelLimitOf } from '../catalog/run-view.js';
import { writeFileAtomic } from '../util/fs.js';
import { collectReportData, type CollectOptions, type ReportData, type SampleRef } from './data.js';
import { barChart, esc, fmt, histogramChart } from './svg.js';
import { thumbnails } from './thumbs.js';

/**
 * The static HTML report: one self-contained file (inline CSS, JS, SVG charts and data: URI
 * thumbnails) that opens from disk with no network.
 */

export interface WriteReportResult {
  file: string;
  bytes: number;
  data: ReportData;
}

/** Gather the run's figures, make the thumbnails, and write the report file atomically. */
export async function writeReport(catalog: Catalog, runId: number, file: string, options: CollectOptions = {}): Promise<WriteReportResult> {
  const data = await collectReportData(catalog, runId, options);
  const refs: SampleRef[] = [...data.issues.flatMap((i) => i.examples), ...data.pairs.flatMap((p) => p.examples.flatMap((e) => [e.a, e.b]))];
  const thumbs = await thumbnails(refs.map((r) => r.uri), await runPixelLimitOf(catalog, runId));
  const html = renderReportHtml(data, thumbs);
  const out = resolve(file);
  await writeFileAtomic(out, html);
  return { file: out, bytes: Buffer.byteLength(html), data };
}

type Thumbs = ReadonlyMap<string, string | null>;

export function renderReportHtml(d: ReportData, thumbs: Thumbs): string {
  const title = `imgsift report: ${d.run.name ?? 'dataset'} (run ${d.run.id})`;
  const sections = [
    overview(d),
    funnelSection(d),
    splitSection(d),
    issueSection(d, thumbs),
    histogramSection(d),
    pairSection(d, thumbs),
    alignmentSection(d),
    trainingSection(d),
    reviewSection(d),
    stepSection(d),
  ].filter(Boolean);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="imgsift">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
<header><h1>${esc(title)}</h1><p class="muted">status ${esc(d.run.status)} · started ${esc(d.run.started ?? '?')} · finished ${esc(d.run.finished ?? '—')} · report generated ${esc(d.generatedAt)}</p>
<nav>${sections.map((s) => s!.nav).join(' · ')}</nav></header>
<main>${sections.map((s) => s!.html).join('\n')}</main>
<div id="zoom" hidden><img alt=""><p></p></div>
<script>${JS}</script>
</body></html>
`;
}

interface Section {
  nav: string;
  html: string;
}

function section(id: string, heading: string, body: string): Section {
  return { nav: `<a href="#${id}">${esc(heading)}</a>`, html: `<section id="${id}"><h2>${esc(heading)}</h2>${body}</section>` };
}

function overview(d: ReportData): Section {
  const tile = (label: string, value: number, note = '') =>
    `<div class="tile"><div class="num">${fmt(value)}</div><div>${esc(label)}</div>${note ? `<div class="muted">${esc(note)}</div>` : ''}</div>`;
  const pct = (n: number) => (d.listed ? `${((n / d.listed) * 100).toFixed(1)}% of listed` : '');
  const dropped = d.listed - d.kept;
  const attention = d.summary?.attention.length
    ? `<div class="attention"><strong>Needs attention</strong><ul>${d.summary.attention.map((a) => `<li>${esc(a)}</li>`).join('')}</ul></div>`
    : '';
  return section('overview', 'Overview', `<div class="tiles" id="totals">
    ${tile('samples listed', d.listed)}${tile('kept', d.kept, pct(d.kept))}${tile('dropped', dropped, pct(dropped))}
    ${tile('flagged samples', d.flaggedSamples, pct(d.flaggedSamples))}${tile('labels', d.labelCount)}</div>${attention}`);
}

function funnelSection(d: ReportData): Section {
  const chart = barChart(d.funnel.map((s) => ({
    label: s.name, value: s.after,
    title: `${s.name}: ${s.after} samples${s.removed ? ` (−${s.removed})` : ''}`,
  })), { className: 'funnel' });
  const rows = d.funnel.map((s) => `<tr><td>${esc(s.name)}</td><td class="n">${fmt(s.after)}</td><td class="n">${s.removed ? '−' + fmt(s.removed) : ''}</td>
    <td>${Object.entries(s.reasons).map(([r, n]) => `${esc(r)} <span class="n">${fmt(n)}</span>`).join('; ')}</td></tr>`);
  return section('steps-funnel', 'Dataset size over the steps', `${chart}
    <table class="sortable"><thead><tr><th>stage</th><th>samples after</th><th>removed</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
}

function splitSection(d: ReportData): Section {
  const chart = barChart(d.splits.map((s) => ({ label: s.split, value: s.count, title: `${s.split}: ${s.count} (${s.percent}%)` })), { className: 'splits' });
  const splitNames = d.splits.map((s) => s.split);
  const labelTable = d.labels.length && !(d.labels.length === 1 && d.labels[0].label === '(none)')
    ? `<h3>Labels by split${d.labelCount > d.labels.length ? ` (top ${d.labels.length} of ${d.labelCount})` : ''}</h3>
      <table class="sortable"><thead><tr><th>label</th>${splitNames.map((s) => `<th>${esc(s)}</th>`).join('')}<th>total</th></tr></thead><tbody>
      ${d.labels.map((l) => `<tr><td>${esc(l.label)}</td>${splitNames.map((s) => `<td class="n">${fmt(l.counts[s] ?? 0)}</td>`).join('')}<td class="n">${fmt(l.total)}</td></tr>`).join('')}
      </tbody></table>`
    : '';
  return section('splits', 'Splits', `${chart}
    <table id="split-table"><thead><tr><th>split</th><th>samples</th><th>%</th></tr></thead><tbody>
    ${d.splits.map((s) => `<tr data-split="${esc(s.split)}"><td>${esc(s.split)}</td><td class="n">${fmt(s.count)}</td><td class="n">${s.percent.toFixed(1)}</td></tr>`).join('')}
    </tbody></table>${labelTable}`);
}

function thumb(ref: SampleRef, thumbs: Thumbs, caption?: string): string {
  const src = ref.uri ? thumbs.get(ref.uri) : null;
  const cap = caption ?? (ref.score !== null && ref.score !== undefined ? `score ${fmt(ref.score)}` : '');
  const tip = `${ref.id}${ref.label ? ` · ${ref.label}` : ''}${ref.split ? ` · ${ref.split}` : ''}`;
  const img = src
    ? `<img class="thumb" src="${src}" alt="${esc(ref.id)}">`
    : `<div class="thumb missing" title="image could not be decoded">✕</div>`;
  return `<figure title="${esc(tip)}">${img}<figcaption>${esc(shortId(ref.id))}${cap ? `<br><span class="muted">${esc(cap)}</span>` : ''}</figcaption></figure>`;
}

function issueSection(d: ReportData, thumbs: Thumbs): Section | null {
  if (d.issues.length === 0) return section('issues', 'Issues', '<p>No flagged issues.</p>');
  const chart = barChart(d.issues.map((i) => ({
    label: i.source === 'imgsift' ? i.type : `${i.type} [${i.source}]`, value: i.flagged,
  })), { className: 'issues' });
  const rows = d.issues.map((i) => `<tr data-issue="${esc(i.type)}" data-source="${esc(i.source)}"><td>${esc(i.type)}</td><td>${esc(i.source)}</td>
    <td class="n">${fmt(i.flagged)}</td><td class="n">${d.listed ? ((i.flagged / d.listed) * 100).toFixed(2) : '0'}</td>
    <td><div class="thumbs">${i.examples.map((e) => thumb(e, thumbs)).join('')}</div></td></tr>`);
  return section('issues', 'Issues', `${chart}
    <table class="sortable" id="issue-table"><thead><tr><th>type</th><th>source</th><th>samples flagged</th><th>% of listed</th><th>examples (highest score first)</th></tr></thead>
    <tbody>${rows.join('')}</tbody></table>`);
}

function histogramSection(d: ReportData): Section | null {
  if (d.histograms.length === 0) return null;
  const cards = d.histograms.map((h) => {
    const n = h.bins.reduce((a, b) => a + b.n, 0);
    const f = h.bins.reduce((a, b) => a + b.flagged, 0);
    return `<div class="card" data-hist="${esc(h.type)}"><h3>${esc(h.type)}</h3>${histogramChart(h.bins, { label: `${h.type} scores` })}
      <p class="muted">${fmt(n)} scored · <span class="flag">${fmt(f)} flagged</span></p></div>`;
  });
  return section('scores', 'Score histograms', `<p class="muted">Issue scores per type (1 = worst); the flagged part of each bin is highlighted.</p><div class="cards">${cards.join('')}</div>`);
}

function pairSection(d: ReportData, thumbs: Thumbs): Section | null {
  if (d.pairs.length === 0) return null;
  const blocks = d.pairs.map((p) => {
    const kv = (m: Record<string, number>) => Object.entries(m).map(([k, n]) => `<li>${esc(k)}: <span class="n">${fmt(n)}</span></li>`).join('');
    const ex = p.examples.map((e) => {
      const sim = e.similarity !== null ? `similarity ${fmt(e.similarity)}` : e.distance !== null ? `distance ${fmt(e.distance)}` : '';
      return `<div class="pair">${thumb(e.a, thumbs, e.a.split ?? '')}<div class="sim">${esc(sim)}${e.method ? `<br>${esc(e.method)}` : ''}</div>${thumb(e.b, thumbs, e.b.split ?? '')}</div>`;
    });
    return `<div class="pairblock" data-pairs="${esc(p.type)}"><h3>${esc(p.type)}</h3>
      <p><span class="n">${fmt(p.flagged)}</span> samples flagged; <span class="n">${fmt(p.withPartner)}</span> name their match
      (<span class="n">${fmt(p.partners)}</span> distinct matched samples).</p>
      <div class="cols"><div><h4>by splits</h4><ul>${kv(p.bySplits) || '<li>—</li>'}</ul></div><div><h4>by method</h4><ul>${kv(p.byMethod)}</ul></div></div>
      <div class="pairs">${ex.join('') || '<p class="muted">No example pairs (the evidence names no other sample).</p>'}</div></div>`;
  });
  return section('pairs', 'Duplicates and leaks', blocks.join(''));
}

function statTable(stats: Record<string, number | string>): string {
  return `<table><tbody>${Object.entries(stats).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="n">${esc(typeof v === 'number' ? fmt(v) : v)}</td></tr>`).join('')}</tbody></table>`;
}

function alignmentSection(d: ReportData): Section | null {
  const a = d.summary?.alignment;
  if (a) {
    // The build's closing block, as a table, and the failures by reason.
    const rows: Record<string, string> = {
      'Samples attempted': fmt(a.attempted),
      'Alignment success': `${fmt(a.success)} (${a.successPercent.toFixed(1)}%)`,
      'Alignment failed': `${fmt(a.failed)} (${a.failedPercent.toFixed(1)}%)`,
      'Avg inlier ratio': a.avgInlierRatio.toFixed(3),
      'Avg matches': fmt(Math.round(a.avgMatches)),
    };
    const reasons = Object.entries(a.failureReasons).map(([label, value]) => ({ label, value }));
    return section('alignment', 'Alignment', `<div class="alignment-stats">${statTable(rows)}</div>` +
      (reasons.length ? `<h3>Failure reasons</h3>${barChart(reasons, { className: 'align-failures' })}` : '<p class="muted">No pair failed to align.</p>'));
  }
  if (d.alignment.length === 0) return null;
  return section('alignment', 'Alignment', d.alignment.map((s) => `<h3>${esc(s.name)}</h3>${statTable(s.stats)}`).join(''));
}

/**
 * LoRA preparation (seed 003): images per kohya bucket (a bucket with fewer images than the batch
 * size marked), and the balance shares against their target bands.
 */
function trainingSection(d: ReportData): Section | null {
  const steps = d.summary?.steps ?? [];
  const parts: string[] = [];
  for (const st of steps.filter((s) => s.name === 'bucket' && typeof s.stats['per bucket'] === 'string')) {
    const bars = String(st.stats['per bucket']).split(', ').filter(Boolean).map((entry) => {
      const [bucket, count] = entry.split(' ');
      const small = count.endsWith('!');
      const value = Number(count.replace('!', ''));
      return { label: `${bucket}${small ? ' (under batch size)' : ''}`, value, title: `${bucket}: ${value} images${small ? ', fewer than the batch size' : ''}` };
    });
    parts.push(`<h3>Images per bucket</h3>${barChart(bars, { className: 'buckets' })}`);
  }
  for (const st of steps.filter((s) => s.name === 'balance')) {
    const rows = Object.entries(st.stats).filter(([k, v]) => k !== 'attention' && typeof v === 'string' && v.includes('target'));
    const bars = rows.map(([k, v]) => {
      const share = Number(/\(([\d.]+)%/.exec(String(v))?.[1] ?? 0);
      const out = String(v).includes('OUT OF BAND');
      return { label: `${k}${out ? ' (out of band)' : ''}`, value: share, title: `${k}: ${v}` };
    });
    if (bars.length) parts.push(`<h3>Balance (share in %, target band in the table)</h3>${barChart(bars, { className: 'balance' })}${statTable(st.stats)}`);
  }
  return parts.length ? section('training', 'Buckets and balance', parts.join('')) : null;
}

function reviewSection(d: ReportData): Section | null {
  const { tags, decisions, imports } = d.review;
  if (!Object.keys(tags).length && !Object.keys(decisions).length && !imports.length) return null;
  const parts: string[] = [];
  if (Object.keys(decisions).length) parts.push(`<h3>Decisions</h3>${barChart(Object.entries(decisions).map(([label, value]) => ({ label, value })), { className: 'decisions' })}`);
  if (Object.keys(tags).length) parts.push(`<h3>Tags</h3>${barChart(Object.entries(tags).map(([label, value]) => ({ label, value })), { className: 'tags' })}`);
  if (imports.length) parts.push(`<h3>Imported issues</h3><ul>${imports.map((i) => `<li>${esc(i.source)}: <span class="n">${fmt(i.issues)}</span></li>`).join('')}</ul>`);
  return section('review', 'Review', parts.join(''));
}

function stepSection(d: ReportData): Section | null {
  const steps = [...(d.summary?.steps ?? []), ...(d.summary?.exports ?? [])];
  if (steps.length === 0) return null;
  return section('details', 'Step details', `<div class="cards">${steps.map((s) =>
    `<div class="card"><h3>${esc(s.name)} <span class="muted">${esc(s.kind)} · ${s.seconds.toFixed(1)}s</span></h3>${statTable(s.stats)}</div>`).join('')}</div>`);
}

function shortId(id: string): string {
  return id.length > 28 ? '…' + id.slice(-27) : id;
}

const CSS = `
:root{--fg:#1d2430;--muted:#6b7380;--bar:#8fb3e0;--accent:#d9534f;--bg:#fff;--card:#f6f7f9;--line:#e2e5ea}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{padding:16px 24px;border-bottom:1px solid var(--line)}h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
h3{font-size:14px;margin:14px 0 6px}h4{font-size:13px;margin:6px 0}main{padding:0 24px 40px;max-width:1200px}
nav a{color:#2a62b0;text-decoration:none}.muted{color:var(--muted);font-size:12px}.n{font-variant-numeric:tabular-nums}
.tiles{display:flex;gap:12px;flex-wrap:wrap}.tile{background:var(--card);border-radius:8px;padding:10px 16px;min-width:130px}.tile .num{font-size:22px;font-weight:600}
.attention{margin-top:12px;background:#fff4e5;border-left:4px solid #f0ad4e;padding:8px 12px}
table{border-collapse:collapse;margin:8px 0}th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}td.n{text-align:right}
th{cursor:default;font-weight:600;background:var(--card)}table.sortable th{cursor:pointer}
.chart{display:block;max-width:100%;height:auto}.chart .lbl,.chart .val,.chart .tick{font-size:12px;fill:var(--fg)}.chart .bar{fill:var(--bar)}.chart .bar.part{fill:var(--accent)}
.chart .bin{fill:var(--bar)}.chart .bin.flagged{fill:var(--accent)}.chart .axis{stroke:var(--muted)}.flag{color:var(--accent)}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:var(--card);border-radius:8px;padding:8px 12px}
.thumbs{display:flex;gap:6px;flex-wrap:wrap}figure{margin:0;width:100px;text-align:center;font-size:11px;word-break:break-all}
.thumb{width:96px;height:96px;object-fit:contain;background:#e9ecf0;border-radius:4px;cursor:zoom-in;display:block;margin:auto}
.thumb.missing{display:flex;align-items:center;justify-content:center;color:var(--accent);font-size:28px;cursor:default}
.pairs{display:flex;flex-wrap:wrap;gap:14px}.pair{display:flex;align-items:center;gap:6px;background:var(--card);padding:6px;border-radius:8px}
.sim{font-size:12px;text-align:center;min-width:70px}.cols{display:flex;gap:40px}.cols ul{margin:0;padding-left:18px}
#zoom{position:fixed;inset:0;background:rgba(0,0,0,.7);display:flex;flex-direction:column;align-items:center;justify-content:center;color:#fff}
#zoom[hidden]{display:none}#zoom img{width:384px;height:384px;object-fit:contain;image-rendering:auto;background:#222}
`;

// Click a thumbnail to see it larger; click a sortable table's header to sort by that column.
const JS = `
(function(){
  var zoom=document.getElementById('zoom');
  document.addEventListener('click',function(e){
    var t=e.target;
    if(t.classList&&t.classList.contains('thumb')&&t.tagName==='IMG'){zoom.querySelector('img').src=t.src;zoom.querySelector('p').textContent=t.alt;zoom.hidden=false;return;}
    if(zoom&&!zoom.hidden&&zoom.contains(t)){zoom.hidden=true;return;}
    if(t.tagName==='TH'&&t.closest('table.sortable')){
      var table=t.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(t.parentNode.children,t);
      var asc=t.dataset.dir!=='asc';t.dataset.dir=asc?'asc':'desc';
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=a.cells[i].textContent.replace(/[,−]/g,''),y=b.cells[i].textContent.replace(/[,−]/g,'');
        var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
      rows.forEach(function(r){body.appendChild(r);});
    }
  });
  document.addEventListener('keydown',function(e){if(e.key==='Escape')zoom.hidden=true;});
})();
`;
