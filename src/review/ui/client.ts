/**
 * The app's script (plain browser JavaScript, served as /app.js). Kept as a string so `tsc` ships
 * it inside dist/ with no build step; it must not contain backticks or dollar-brace sequences.
 *
 * State lives in the `S` object; the filters, the sort, the tab and the open sample are mirrored
 * in the address bar (reload restores the view, Back goes to the previous one). The grid is
 * virtualised (only the visible rows of tiles exist in the DOM, pages of ids are fetched as they
 * scroll into view).
 */
export const APP_JS = String.raw`
'use strict';
var PAGE = 200, TILE = 176, CAP = 30, BUFFER_ROWS = 3;
var SORTS = ['ingest', 'path', 'label', 'score', 'score_asc'];
var S = {
  filter: {}, total: 0, pages: new Map(), loading: new Map(), focus: 0, selected: new Set(),
  cols: 1, taxonomy: [], labels: [], view: 'grid', detailOpen: false, armView: false, epoch: 0,
  sort: 'ingest', openId: null, restoring: false, moves: 0, showAll: false, zoom: null,
  pairs: [], groups: {}, pairFocus: 0, pairTotal: 0, pairsLoading: false,
  reviewerFixed: false, limits: { label: 200, tag: 64, tagsPerRequest: 32, reviewer: 100 }
};
var $ = function (id) { return document.getElementById(id); };

function h(tag, attrs, children) {
  var el = document.createElement(tag);
  if (attrs) for (var k in attrs) {
    var v = attrs[k];
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  (children || []).forEach(function (c) { if (c !== null && c !== undefined) el.append(c); });
  return el;
}

function toast(msg, isErr) {
  var t = $('toast'); t.textContent = msg; t.className = 'toast show' + (isErr ? ' err' : '');
  clearTimeout(toast.timer); toast.timer = setTimeout(function () { t.className = 'toast'; }, isErr ? 5000 : 1800);
}

function api(path, body) {
  var opts = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  return fetch(path, opts).then(function (r) {
    return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
  });
}

function reviewer() { return S.reviewerFixed ? undefined : $('reviewer').value.trim() || undefined; }

function query(extra) {
  var p = new URLSearchParams(), f = S.filter;
  Object.keys(f).forEach(function (k) {
    var v = f[k];
    if (Array.isArray(v)) v.forEach(function (x) { p.append(k, x); });
    else if (v !== undefined && v !== '') p.set(k, String(v));
  });
  if (extra) Object.keys(extra).forEach(function (k) { p.set(k, String(extra[k])); });
  return p.toString();
}

// ---- the address bar ------------------------------------------------------------------------
var LIST_KEYS = ['split', 'label', 'issue', 'source', 'tag', 'decision', 'ids'];

function stateUrl() {
  var p = new URLSearchParams(query());
  if (S.sort !== 'ingest') p.set('sort', S.sort);
  if (S.view !== 'grid') p.set('view', S.view);
  if (S.view === 'grid' && S.detailOpen && S.openId) p.set('open', S.openId);
  var q = p.toString();
  return location.pathname + (q ? '?' + q : '');
}

// A new entry for a new view (Back returns to the previous one), a replaced one for moving on.
function syncUrl(replace) {
  if (S.restoring) return;
  S.moves++;
  var url = stateUrl();
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
}

function readUrl() {
  var p = new URLSearchParams(location.search), f = {};
  p.forEach(function (v, k) {
    if (LIST_KEYS.indexOf(k) >= 0) (f[k] = f[k] || []).push(v);
    else if (k === 'scoreMin' || k === 'scoreMax') { if (v !== '' && isFinite(Number(v))) f[k] = Number(v); }
    else if (k === 'flagged') f[k] = v === 'true';
    else if (k === 'search' || k === 'scope') f[k] = v;
  });
  var sort = p.get('sort'), view = p.get('view');
  return { filter: f, sort: SORTS.indexOf(sort) >= 0 ? sort : 'ingest', view: view === 'duplicate' || view === 'leak' ? view : 'grid', open: p.get('open') };
}

function syncInputs() {
  $('search').value = S.filter.search || '';
  $('score-min').value = S.filter.scoreMin === undefined ? '' : S.filter.scoreMin;
  $('score-max').value = S.filter.scoreMax === undefined ? '' : S.filter.scoreMax;
  $('sort').value = S.sort;
}

// Show what the address says: at start, and when Back or Forward moves through the history.
function applyUrl(first) {
  var u = readUrl();
  var changed = first || JSON.stringify(u.filter) !== JSON.stringify(S.filter) || u.sort !== S.sort;
  // Only the restore's own synchronous changes leave the address alone: a change the reviewer makes
  // while the restored view still loads (a slow facet count) must reach the address. The later
  // steps (opening the sample) give the address it already has, so they push nothing.
  S.restoring = true;
  S.filter = u.filter; S.sort = u.sort;
  syncInputs();
  var done = changed ? refresh() : Promise.resolve();
  if (first || u.view !== S.view) showView(u.view);
  S.restoring = false;
  // Nor may the restore's later steps undo what the reviewer did meanwhile (open or close a sample).
  var moves = S.moves;
  return done.then(function () {
    if (S.moves !== moves) return;
    if (u.open && u.view === 'grid') { if (S.openId !== u.open || !S.detailOpen) return openById(u.open); }
    else if (S.detailOpen) closeDetail();
  });
}

// Open a sample by id: find where it is in the sorted, filtered view, load that page, open it.
function openById(id) {
  return api('/api/position?' + query({ id: id, sort: S.sort })).then(function (r) {
    if (r.index === null) { toast('sample ' + id + ' is not in this view', true); return; }
    return fetchPage(Math.floor(r.index / PAGE)).then(function () {
      layout(); setFocus(r.index); if (!S.detailOpen) openDetail(r.index);
    });
  }).catch(function (e) { toast(e.message, true); });
}

// ---- facets ---------------------------------------------------------------------------------
var FACETS = [['split', 'Split'], ['label', 'Label'], ['issue', 'Issue'], ['source', 'Issue source'], ['tag', 'Tag'], ['decision', 'Decision']];
var expanded = {};

function loadFacets() {
  var epoch = S.epoch;
  return api('/api/facets?' + query()).then(function (f) {
    if (epoch !== S.epoch) return;
    S.labels = f.label.map(function (x) { return x.value; }).filter(Boolean);
    renderFacets(f);
  }).catch(function (e) { toast(e.message, true); });
}

function renderFacets(f) {
  var box = $('facets'); box.textContent = '';
  var scope = S.filter.scope === 'run';
  box.append(h('section', { class: 'facet' }, [
    h('h3', { text: 'Samples' }),
    h('button', { class: 'fv' + (scope ? ' on' : ''), 'data-facet': 'scope', onclick: function () {
      if (scope) delete S.filter.scope; else S.filter.scope = 'run'; refresh();
    } }, [h('span', { class: 'box' }), h('span', { class: 'name', text: 'include dropped' }), h('span', { class: 'n', text: String(f.dropped.dropped) })])
  ]));
  FACETS.forEach(function (pair) {
    var key = pair[0], values = f[key] || [];
    var chosen = S.filter[key] || [];
    chosen.forEach(function (c) { if (!values.some(function (v) { return (v.value || '') === c; })) values.push({ value: c, count: 0 }); });
    if (!values.length) return;
    var limit = expanded[key] ? values.length : 12;
    var sec = h('section', { class: 'facet', 'data-facet': key }, [h('h3', {}, [h('span', { text: pair[1] }), h('span', { text: String(values.length) })])]);
    values.slice(0, limit).forEach(function (v) {
      var val = v.value === null ? '' : v.value;
      var on = chosen.indexOf(val) >= 0;
      sec.append(h('button', {
        class: 'fv' + (on ? ' on' : '') + (v.count === 0 ? ' zero' : ''), 'data-value': val, title: val || '(none)',
        onclick: function () { toggleFilter(key, val); }
      }, [h('span', { class: 'box' }), h('span', { class: 'name', text: val || '(none)' }), h('span', { class: 'n', text: v.count.toLocaleString() })]));
    });
    if (values.length > limit) sec.append(h('button', { class: 'more', text: 'show all ' + values.length, onclick: function () { expanded[key] = true; renderFacets(f); } }));
    box.append(sec);
  });
}

function toggleFilter(key, val) {
  var cur = (S.filter[key] || []).slice(), i = cur.indexOf(val);
  if (i >= 0) cur.splice(i, 1); else cur.push(val);
  if (cur.length) S.filter[key] = cur; else delete S.filter[key];
  refresh();
}

// ---- grid -----------------------------------------------------------------------------------
function refresh(keepFocus) {
  syncUrl(false);
  S.epoch++; S.pages = new Map(); S.loading = new Map(); S.selected.clear();
  if (!keepFocus) { S.focus = 0; $('grid').scrollTop = 0; }
  return Promise.all([loadFacets(), fetchPage(Math.floor(S.focus / PAGE)).then(function () { layout(); })]);
}

function fetchPage(p) {
  if (S.pages.has(p)) return Promise.resolve();
  if (S.loading.has(p)) return S.loading.get(p);
  var epoch = S.epoch;
  var extra = { offset: p * PAGE, limit: PAGE };
  if (S.sort !== 'ingest') extra.sort = S.sort;
  var pending = api('/api/samples?' + query(extra)).then(function (r) {
    if (epoch !== S.epoch) return;
    S.loading.delete(p); S.pages.set(p, r.items); S.total = r.total;
    if (S.view === 'grid') $('count').textContent = r.total.toLocaleString() + ' samples';
    render();
  }).catch(function (e) { S.loading.delete(p); toast(e.message, true); });
  S.loading.set(p, pending);
  return pending;
}

function item(i) { var pg = S.pages.get(Math.floor(i / PAGE)); return pg ? pg[i % PAGE] : undefined; }

function layout() {
  var g = $('grid');
  S.cols = Math.max(1, Math.floor((g.clientWidth - 8) / TILE));
  $('spacer').style.height = (Math.ceil(S.total / S.cols) * (TILE + CAP + 8) + 16) + 'px';
  render();
}

var tiles = new Map();
function render() {
  var g = $('grid'), rowH = TILE + CAP + 8;
  var first = Math.max(0, Math.floor(g.scrollTop / rowH) - BUFFER_ROWS);
  var last = Math.min(Math.ceil(S.total / S.cols), Math.ceil((g.scrollTop + g.clientHeight) / rowH) + BUFFER_ROWS);
  var from = first * S.cols, to = Math.min(S.total, last * S.cols);
  for (var p = Math.floor(from / PAGE); p <= Math.floor(Math.max(from, to - 1) / PAGE); p++) if (!S.pages.has(p)) fetchPage(p);
  var keep = new Set();
  for (var i = from; i < to; i++) {
    var it = item(i); if (!it) continue;
    var key = i + '|' + it.id;
    keep.add(key);
    var el = tiles.get(key);
    if (!el) { el = tileEl(it, i); tiles.set(key, el); g.append(el); }
    decorate(el, it, i);
    el.style.transform = 'translate(' + (8 + (i % S.cols) * TILE) + 'px,' + (8 + Math.floor(i / S.cols) * rowH) + 'px)';
  }
  tiles.forEach(function (el, key) { if (!keep.has(key)) { el.remove(); tiles.delete(key); } });
  updateTarget();
}

function tileEl(it, i) {
  var el = h('div', { class: 'tile', 'data-id': it.id, 'data-index': String(i) }, [
    h('div', { class: 'img' }, [h('img', { src: it.thumb, alt: it.id, loading: 'lazy', decoding: 'async', draggable: 'false' })]),
    h('div', { class: 'chips' }),
    h('div', { class: 'cap' }, [h('span', { class: 'lab' }), h('span', { class: 'badge split' }), h('span', { class: 'badge dec' })])
  ]);
  el.addEventListener('click', function (ev) {
    var idx = Number(el.getAttribute('data-index'));
    if (ev.shiftKey || ev.metaKey || ev.ctrlKey) toggleSelect(idx); else { S.selected.clear(); }
    setFocus(idx);
  });
  el.addEventListener('dblclick', function () { openDetail(Number(el.getAttribute('data-index'))); });
  return el;
}

function decorate(el, it, i) {
  var d = it.decision;
  el.className = 'tile' + (i === S.focus ? ' focus' : '') + (S.selected.has(it.id) ? ' sel' : '') +
    (d ? ' d-' + d.action : '') + (it.dropped ? ' dropped' : '');
  el.setAttribute('data-decision', d ? d.action : '');
  var lab = el.querySelector('.lab');
  lab.textContent = d && d.action === 'relabel' ? (it.label || '?') + ' → ' + d.new_label : (it.label || '(no label)');
  el.querySelector('.split').textContent = (it.split || '') + (typeof it.score === 'number' ? ' · ' + it.score.toFixed(2) : '');
  var dec = el.querySelector('.dec'); dec.textContent = d ? d.action : ''; dec.className = 'badge dec' + (d ? ' ' + d.action : '');
  dec.style.display = d ? '' : 'none';
  var chips = el.querySelector('.chips'); chips.textContent = '';
  it.issues.slice(0, 3).forEach(function (t) { chips.append(h('span', { class: 'chip', text: t })); });
  if (it.issues.length > 3) chips.append(h('span', { class: 'chip', text: '+' + (it.issues.length - 3) }));
  it.tags.slice(0, 2).forEach(function (t) { chips.append(h('span', { class: 'chip tag', text: t })); });
  el.title = it.id + (it.path && it.path !== it.id ? '\n' + it.path : '');
}

function setFocus(i, scroll) {
  if (S.total === 0) return;
  S.focus = Math.max(0, Math.min(S.total - 1, i));
  if (scroll !== false) {
    var g = $('grid'), rowH = TILE + CAP + 8, top = Math.floor(S.focus / S.cols) * rowH;
    if (top < g.scrollTop) g.scrollTop = top;
    else if (top + rowH > g.scrollTop + g.clientHeight) g.scrollTop = top + rowH - g.clientHeight + 16;
  }
  render();
  if (S.detailOpen) openDetail(S.focus);
}

function toggleSelect(i) {
  var it = item(i); if (!it) return;
  if (S.selected.has(it.id)) S.selected.delete(it.id); else S.selected.add(it.id);
}

// ---- targets and actions --------------------------------------------------------------------
function currentTarget() {
  if (S.armView) return { filter: S.filter, label: 'the whole view (' + S.total.toLocaleString() + ')' };
  if (S.selected.size) return { ids: Array.from(S.selected), label: S.selected.size + ' selected' };
  var it = item(S.focus);
  return it ? { id: it.id, label: it.id } : null;
}

function updateTarget() {
  var t = currentTarget();
  $('target').textContent = t ? 'Apply to: ' + t.label : '';
  document.querySelector('[data-act=view]').className = 'act ghost' + (S.armView ? ' armed' : '');
}

function send(path, body, verb) {
  var t = currentTarget(); if (!t) return Promise.resolve();
  if (t.filter && !confirm(verb + ' all ' + S.total.toLocaleString() + ' samples of the filtered view?')) return Promise.resolve();
  if (t.id) body.id = t.id; else if (t.ids) body.ids = t.ids; else body.filter = t.filter;
  body.reviewer = reviewer();
  var wasView = !!t.filter;
  S.armView = false;
  return api(path, body).then(function (r) { applyResult(r, wasView); toast(verb + ': ' + r.changed + ' changed' + (r.skipped ? ', ' + r.skipped + ' without a suggestion' : '')); })
    .catch(function (e) { toast(e.message, true); });
}

function applyResult(r, reload) {
  if (reload || !r.states) { refresh(true); return; }
  S.pages.forEach(function (items) {
    items.forEach(function (it) { var st = r.states[it.id]; if (st) { it.tags = st.tags; it.decision = st.decision; } });
  });
  render(); loadFacets();
  if (S.detailOpen) openDetail(S.focus);
}

function decide(action) {
  if (action === 'relabel') {
    return ask('Relabel to', S.labels, function (label) { send('/api/decisions', { action: 'relabel', newLabel: label }, 'relabel'); });
  }
  if (action === 'accept_suggestion') return send('/api/decisions', { action: action }, 'accept suggestion');
  return send('/api/decisions', { action: action === 'clear' ? null : action }, action === 'clear' ? 'clear decision' : action);
}

function toggleTag(name) {
  var t = currentTarget(); if (!t) return;
  var it = t.id ? item(S.focus) : null;
  var has = it && it.tags.indexOf(name) >= 0;
  return send('/api/tags', has ? { remove: [name] } : { add: [name] }, (has ? 'untag ' : 'tag ') + name);
}

function undo() {
  return api('/api/undo', { reviewer: reviewer() }).then(function (r) {
    toast(r.undid ? 'undone: ' + r.changed + ' sample(s)' + (r.conflicts ? ', ' + r.conflicts + ' changed since by someone else' : '') : 'nothing to undo');
    if (S.view !== 'grid') applyPairStates(r.states);
    else applyResult(r, Object.keys(r.states || {}).length >= 1000);
  }).catch(function (e) { toast(e.message, true); });
}

// ---- detail ---------------------------------------------------------------------------------
function openDetail(i) {
  var it = item(i); if (!it) return;
  var wasOpen = S.detailOpen;
  S.detailOpen = true; S.openId = it.id;
  syncUrl(wasOpen);
  var m = $('detail'); m.classList.remove('hidden');
  api('/api/samples/' + encodeURIComponent(it.id)).then(function (d) {
    if (!S.detailOpen || item(S.focus) !== it) return;
    m.textContent = '';
    var flagged = d.issues.filter(function (x) { return x.flagged; });
    var shown = S.showAll ? d.issues : flagged;
    // The sample it copies (or is copied from) goes beside it.
    var match = flagged.filter(function (x) { return x.other; })[0] || (S.showAll ? d.issues.filter(function (x) { return x.other; })[0] : null);
    var info = h('div', { class: 'info' }, [
      h('h2', { text: d.id }),
      h('div', { class: 'meta-line', text: (i + 1).toLocaleString() + ' of ' + S.total.toLocaleString() + '  ·  ←/→ to move, z/f zoom, Esc to close' })
    ]);
    var kv = h('div', { class: 'kv' });
    var add = function (k, v) { if (v !== null && v !== undefined && v !== '') { kv.append(h('div', { text: k }), h('div', { text: String(v) })); } };
    add('label', d.label); add('split', d.split); add('source split', d.sourceSplit); add('path', d.path); add('group', d.group);
    add('source', d.source);
    if (d.asset) { add('format', d.asset.format); add('size', d.asset.width + ' × ' + d.asset.height); add('bytes', d.asset.bytes); add('colour', d.asset.color_space); }
    d.files.forEach(function (f) { add('file (' + f.role + ')', f.uri); });
    info.append(kv);
    info.append(h('h4', { text: 'Review' }));
    var dec = d.decision ? d.decision.action + (d.decision.new_label ? ' → ' + d.decision.new_label : '') : 'undecided';
    info.append(h('div', { class: 'decision-line' }, [h('span', { class: 'badge ' + (d.decision ? d.decision.action : ''), text: dec }), ' ',
      h('span', {}, d.tags.map(function (t) { return h('span', { class: 'chip tag', text: t }); }))]));
    if (d.drops.length) info.append(h('div', { class: 'meta-line', text: 'dropped by the run: ' + d.drops.map(function (x) { return x.reason; }).join(', ') }));
    if (d.text) { info.append(h('h4', { text: 'Caption' })); info.append(h('div', { class: 'caption', text: d.text })); }
    info.append(h('h4', { class: 'issues-head' }, [
      h('span', { text: 'Issues (' + flagged.length + ' flagged of ' + d.issues.length + ')' }),
      d.issues.length > flagged.length ? h('button', { class: 'link', id: 'issues-toggle', text: S.showAll ? 'flagged only' : 'show all scores',
        onclick: function () { S.showAll = !S.showAll; openDetail(S.focus); } }) : null
    ]));
    shown.forEach(function (x) {
      info.append(h('div', { class: 'issue' + (x.flagged ? ' flagged' : ''), 'data-type': x.type }, [
        h('div', { class: 'head' }, [h('b', { text: x.type }), h('span', { class: 'meta-line', text: (x.score === null ? '' : 'score ' + x.score.toFixed(3)) + ' · ' + x.step + (x.source !== 'imgsift' ? ' · ' + x.source : '') })]),
        x.summary ? h('div', { class: 'summary', text: x.summary }) : null,
        x.other ? h('button', { class: 'link', text: (x.type === 'leak' ? 'twin: ' : 'matches: ') + x.other.id, onclick: function () { jumpTo(x.other.id); } }) :
          x.otherRef ? h('div', { class: 'meta-line', text: 'matches ' + x.otherRef + ' (not in the catalog)' }) : null,
        x.evidence ? h('pre', { text: JSON.stringify(x.evidence, null, 1) }) : null
      ]));
    });
    if (d.meta) { info.append(h('h4', { text: 'Metadata' })); info.append(h('pre', { class: 'caption', text: JSON.stringify(d.meta, null, 1) })); }
    info.append(h('h4', { text: 'History' }));
    if (!d.history.length) info.append(h('div', { class: 'meta-line', text: 'no changes yet' }));
    d.history.slice().reverse().forEach(function (e) {
      info.append(h('div', { class: 'hist' }, [
        h('div', {}, [h('b', { text: e.action }), ' by ' + (e.who || '?')]),
        h('div', { class: 'when', text: e.at }),
        h('pre', { text: describeChange(e) })
      ]));
    });
    var size = function (w, hh) { return w ? '  ·  ' + w + ' × ' + hh : ''; };
    var panes = [pane(d.image, 'this sample', d.id, size(d.asset && d.asset.width, d.asset && d.asset.height), 'self')];
    if (match) panes.push(pane('/image/' + encodeURIComponent(match.other.id), match.type === 'leak' ? 'its twin' : 'matched copy', match.other.id,
      size(match.other.width, match.other.height) + (match.other.split ? '  ·  ' + match.other.split : ''), 'other'));
    var tools = h('div', { class: 'zoom-tools' }, [
      h('button', { class: 'act', 'data-zoom': 'fit', title: 'Fit (f)', text: 'Fit', onclick: function () { zoomTo(null); } }),
      h('button', { class: 'act', 'data-zoom': '1', title: 'Pixel-exact 1:1 (z)', text: '1:1', onclick: function () { zoomTo(1); } }),
      h('button', { class: 'act', 'data-zoom': 'out', title: 'Zoom out (-, wheel)', text: '−', onclick: function () { zoomBy(0.8); } }),
      h('button', { class: 'act', 'data-zoom': 'in', title: 'Zoom in (+, wheel)', text: '+', onclick: function () { zoomBy(1.25); } }),
      h('span', { class: 'meta-line', id: 'zoom-level' }),
      match ? h('span', { class: 'match-line', id: 'match-line', text: match.type + ': ' + (match.summary || '') }) : null,
      match ? h('span', { class: 'spacer' }) : null,
      match ? h('button', { class: 'act keep', 'data-resolve': 'self', title: 'Keep this sample, remove the matched copy', text: 'Keep this, remove the other',
        onclick: function () { resolveFromDetail(d.id, match.other.id); } }) : null,
      match ? h('button', { class: 'act keep', 'data-resolve': 'other', title: 'Keep the matched copy, remove this sample', text: 'Keep the other, remove this',
        onclick: function () { resolveFromDetail(match.other.id, d.id); } }) : null
    ]);
    m.append(h('div', { class: 'sheet' }, [h('div', { class: 'view' }, [tools, h('div', { class: 'panes' }, panes)]), info]),
      h('button', { class: 'close', text: 'Close (Esc)', onclick: closeDetail }));
    applyZoom();
  }).catch(function (e) { toast(e.message, true); });
}

function resolveFromDetail(keep, remove) {
  return api('/api/resolve', { keep: [keep], remove: [remove], reviewer: reviewer() }).then(function (r) {
    toast('kept ' + keep + ', removed ' + remove);
    applyResult(r, false);
  }).catch(function (e) { toast(e.message, true); });
}

function pane(src, role, id, extra, which) {
  var img = h('img', { src: src, alt: id, class: 'zimg', draggable: 'false', 'data-pane': which });
  img.addEventListener('load', applyZoom);
  var box = h('div', { class: 'zoomable' }, [img]);
  box.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var r = box.getBoundingClientRect();
    zoomBy(ev.deltaY < 0 ? 1.25 : 0.8, { x: ev.clientX - r.left, y: ev.clientY - r.top });
  }, { passive: false });
  return h('div', { class: 'pane', 'data-pane': which }, [h('div', { class: 'meta-line pane-cap', text: role + ': ' + id + extra }), box]);
}

// ---- zoom: S.zoom is null (fit) or image pixels per device pixel, so 1 is pixel-exact --------
function applyZoom() {
  var dpr = window.devicePixelRatio || 1;
  document.querySelectorAll('#detail .zimg').forEach(function (img) {
    if (!img.naturalWidth) return;
    if (S.zoom === null) { img.classList.add('fit'); img.style.width = ''; img.style.height = ''; }
    else {
      img.classList.remove('fit');
      img.style.width = (img.naturalWidth * S.zoom / dpr) + 'px'; img.style.height = (img.naturalHeight * S.zoom / dpr) + 'px';
    }
  });
  var lvl = $('zoom-level'); if (lvl) lvl.textContent = S.zoom === null ? 'fit' : Math.round(S.zoom * 100) + '%';
  var v = document.querySelector('#detail .view'); if (v) v.setAttribute('data-zoom', S.zoom === null ? 'fit' : String(S.zoom));
}

function fitScale() {
  var img = document.querySelector('#detail .zimg');
  return img && img.naturalWidth && img.clientWidth ? img.clientWidth * (window.devicePixelRatio || 1) / img.naturalWidth : 1;
}

// Zoom keeping the point under the cursor (or the centre) where it is.
function zoomTo(z, anchor) {
  var next = z === null ? null : Math.max(0.05, Math.min(32, z));
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#detail .zoomable'));
  var at = boxes.map(function (b) {
    var ax = anchor ? anchor.x : b.clientWidth / 2, ay = anchor ? anchor.y : b.clientHeight / 2;
    return [ax, ay, (b.scrollLeft + ax) / Math.max(1, b.scrollWidth), (b.scrollTop + ay) / Math.max(1, b.scrollHeight)];
  });
  S.zoom = next; applyZoom();
  if (next !== null) boxes.forEach(function (b, i) { b.scrollLeft = at[i][2] * b.scrollWidth - at[i][0]; b.scrollTop = at[i][3] * b.scrollHeight - at[i][1]; });
}

function zoomBy(f, anchor) { zoomTo((S.zoom === null ? fitScale() : S.zoom) * f, anchor); }

function zoomKey(k) {
  if (k === 'f') zoomTo(null);
  else if (k === 'z') { if (S.zoom === 1) zoomBy(2); else zoomTo(1); }
  else if (k === '+' || k === '=') zoomBy(1.25);
  else if (k === '-') zoomBy(0.8);
  else return false;
  return true;
}

function describeChange(e) {
  var st = function (s) { if (!s) return '-'; var d = s.decision ? s.decision.action + (s.decision.new_label ? '→' + s.decision.new_label : '') : 'undecided'; return d + (s.tags && s.tags.length ? ' [' + s.tags.join(', ') + ']' : ''); };
  return st(e.old) + '  ⟶  ' + st(e.new);
}

function closeDetail() { S.detailOpen = false; S.openId = null; $('detail').classList.add('hidden'); syncUrl(false); $('grid').focus(); }

// ---- pairs ----------------------------------------------------------------------------------
// Duplicate and leak pairs, grouped by the sample they copy. Each pair can be settled (keep one
// side, remove the other) and each group at once (keep the best: the copy dedup kept, or the
// largest picture); one resolve request per choice, so one undo reverts it.
function showView(v) {
  var changed = S.view !== v;
  S.view = v;
  document.querySelectorAll('.tab').forEach(function (b) { b.classList.toggle('active', b.getAttribute('data-view') === v); });
  $('grid').classList.toggle('hidden', v !== 'grid'); $('actions').classList.toggle('hidden', v !== 'grid');
  $('pairs').classList.toggle('hidden', v === 'grid');
  if (v !== 'grid') { if (S.detailOpen) { S.detailOpen = false; $('detail').classList.add('hidden'); } loadPairs(v, 0); }
  else if (changed) $('count').textContent = S.total.toLocaleString() + ' samples';
  syncUrl(false);
}

function loadPairs(type, offset) {
  var box = $('pairs');
  if (offset === 0) { box.textContent = ''; S.pairs = []; S.groups = {}; S.pairFocus = 0; S.pairTotal = 0; }
  else if (S.pairsLoading) return Promise.resolve();
  S.pairsLoading = true;
  return api('/api/pairs?type=' + type + '&offset=' + offset + '&limit=50').then(function (r) {
    S.pairsLoading = false;
    if (S.view !== type || offset !== S.pairs.length) return;
    S.pairTotal = r.total;
    Object.keys(r.groups).forEach(function (k) { S.groups[k] = r.groups[k]; });
    $('count').textContent = r.total.toLocaleString() + ' ' + (type === 'leak' ? 'leak' : 'duplicate') + ' pairs';
    if (!r.total) box.append(h('div', { class: 'empty', text: 'No ' + type + ' issues in this run. Add the ' + (type === 'leak' ? 'leaks' : 'dedup') + ' step to the recipe to find them.' }));
    var more = box.querySelector('.more-pairs'); if (more) more.remove();
    r.pairs.forEach(function (p) { var i = S.pairs.length; S.pairs.push(p); box.append(pairEl(p, i, type)); });
    if (S.pairs.length < r.total) box.append(h('button', { class: 'act more-pairs', text: 'More', onclick: function () { loadPairs(type, S.pairs.length); } }));
    markPairFocus(false);
  }).catch(function (e) { S.pairsLoading = false; toast(e.message, true); });
}

function sideEl(s, ref, role, which) {
  if (!s) return h('div', { class: 'side-img', 'data-side': which }, [h('div', { class: 'img' }, [h('span', { class: 'meta-line', text: ref ? 'not in catalog: ' + ref : 'no match recorded' })])]);
  return h('div', { class: 'side-img', 'data-side': which, 'data-id': s.id }, [
    h('div', { class: 'img', title: 'open ' + s.id, onclick: function () { jumpTo(s.id); } }, [h('img', { src: s.thumb, alt: s.id, loading: 'lazy' })]),
    h('div', { class: 'meta-line' }, [h('span', { class: 'badge dec' }), ' ', h('span', { text: role + ': ' + s.id })]),
    h('div', { class: 'meta-line', text: [s.label, s.split, s.width ? s.width + ' × ' + s.height : null].filter(Boolean).join(' · ') })
  ]);
}

function pairEl(p, i, type) {
  var g = S.groups[p.group], n = g ? g.members.length : 2;
  var sim = p.similarity !== null ? (p.similarity * 100).toFixed(1) + '%' : p.distance !== null ? 'd = ' + p.distance : (p.score !== null ? p.score.toFixed(2) : '');
  var act = function (name, cls, label, title) {
    return h('button', { class: 'act ' + cls, 'data-pact': name, title: title, text: label, onclick: function (ev) { ev.stopPropagation(); S.pairFocus = i; markPairFocus(false); pairAction(i, name); } });
  };
  var el = h('div', { class: 'pair', 'data-id': p.sample.id, 'data-index': String(i), 'data-group': p.group, onclick: function () { S.pairFocus = i; markPairFocus(false); } }, [
    sideEl(p.other, p.otherRef, type === 'leak' ? 'train' : 'kept', 'left'),
    h('div', { class: 'mid' }, [
      h('div', { class: 'sim', text: sim }), h('div', { text: p.method || p.type }),
      h('div', { class: 'summary', text: p.summary }),
      n > 2 ? h('div', { class: 'meta-line', text: 'group of ' + n + ' copies' }) : null,
      h('div', { class: 'pair-acts' }, [
        act('left', 'keep', '1 Keep left', 'Keep the left one, remove the right (1)'),
        act('right', 'keep', '2 Keep right', 'Keep the right one, remove the left (2)'),
        act('best', '', 'b Keep best' + (n > 2 ? ' of ' + n : ''), 'Keep the copy the step kept, remove the others of the group (b)'),
        act('largest', '', 'B Keep largest', 'Keep the highest resolution of the group, remove the others (Shift+B)')
      ])
    ]),
    sideEl(p.sample, null, type === 'leak' ? 'evaluation' : 'copy', 'right')
  ]);
  decoratePair(el, p);
  return el;
}

function decoratePair(el, p) {
  [['left', p.other], ['right', p.sample]].forEach(function (x) {
    var side = el.querySelector('.side-img[data-side=' + x[0] + ']'), s = x[1];
    if (!side || !s) return;
    var d = s.decision ? s.decision.action : '';
    side.setAttribute('data-decision', d);
    side.className = 'side-img' + (d ? ' d-' + d : '');
    var b = side.querySelector('.dec'); b.textContent = d; b.className = 'badge dec' + (d ? ' ' + d : ''); b.style.display = d ? '' : 'none';
  });
}

function largest(members) {
  return members.reduce(function (best, m) { return (m.width || 0) * (m.height || 0) > (best.width || 0) * (best.height || 0) ? m : best; }, members[0]);
}

function pairAction(i, name) {
  var p = S.pairs[i]; if (!p) return Promise.resolve();
  var keep, remove;
  if (name === 'left' || name === 'right') {
    if (!p.other) { toast('the other copy is not in the catalog', true); return Promise.resolve(); }
    keep = name === 'left' ? p.other : p.sample;
    remove = [name === 'left' ? p.sample : p.other];
  } else {
    var g = S.groups[p.group];
    var members = g && g.members.length ? g.members : [p.other, p.sample].filter(Boolean);
    keep = name === 'best' ? members.filter(function (m) { return g && m.id === g.keeper; })[0] || largest(members) : largest(members);
    remove = members.filter(function (m) { return m.id !== keep.id; });
  }
  return api('/api/resolve', { keep: [keep.id], remove: remove.map(function (m) { return m.id; }), reviewer: reviewer() }).then(function (r) {
    applyPairStates(r.states);
    toast('kept ' + keep.id + (remove.length ? ', removed ' + remove.length : ''));
    var next = i + 1;
    if (name === 'best' || name === 'largest') while (next < S.pairs.length && S.pairs[next].group === p.group) next++;
    movePair(Math.min(next, S.pairTotal - 1) - S.pairFocus);
  }).catch(function (e) { toast(e.message, true); });
}

// New review states (after a resolve or an undo) onto every side and group member showing them.
function applyPairStates(states) {
  if (!states) return;
  var upd = function (s) { if (s && states[s.id]) s.decision = states[s.id].decision; };
  S.pairs.forEach(function (p) { upd(p.sample); upd(p.other); });
  Object.keys(S.groups).forEach(function (k) { S.groups[k].members.forEach(upd); });
  document.querySelectorAll('#pairs .pair').forEach(function (el) { var p = S.pairs[Number(el.getAttribute('data-index'))]; if (p) decoratePair(el, p); });
}

function markPairFocus(scroll) {
  document.querySelectorAll('#pairs .pair.focus').forEach(function (el) { el.classList.remove('focus'); });
  var el = document.querySelector('#pairs .pair[data-index="' + S.pairFocus + '"]');
  if (!el) return;
  el.classList.add('focus');
  if (scroll) el.scrollIntoView({ block: 'nearest' });
}

function movePair(d) {
  if (!S.pairs.length) return;
  S.pairFocus = Math.max(0, Math.min(S.pairs.length - 1, S.pairFocus + d));
  markPairFocus(true);
  // Load the next page before the end is reached.
  if (S.pairFocus >= S.pairs.length - 3 && S.pairs.length < S.pairTotal) loadPairs(S.view, S.pairs.length);
}

function pairKey(k) {
  if (k === 'j' || k === 'ArrowDown') movePair(1);
  else if (k === 'k' || k === 'ArrowUp') movePair(-1);
  else if (k === '1') pairAction(S.pairFocus, 'left');
  else if (k === '2') pairAction(S.pairFocus, 'right');
  else if (k === 'b') pairAction(S.pairFocus, 'best');
  else if (k === 'B') pairAction(S.pairFocus, 'largest');
  else if (k === 'u') undo();
  else if (k === '?') showHelp();
  else return false;
  return true;
}

function jumpTo(id) {
  S.filter = { ids: [id], scope: 'run' }; showView('grid'); refresh().then(function () { openDetail(0); });
}

// ---- dialogs and keys -----------------------------------------------------------------------
function ask(title, options, done) {
  var m = $('prompt'); m.textContent = ''; m.classList.remove('hidden');
  var input = h('input', { list: 'label-options', id: 'prompt-input', autocomplete: 'off', maxlength: String(S.limits.label) });
  var dl = h('datalist', { id: 'label-options' }, options.map(function (o) { return h('option', { value: o }); }));
  var close = function () { m.classList.add('hidden'); $('grid').focus(); };
  var ok = function () { var v = input.value.trim(); if (!v) return; close(); done(v); };
  input.addEventListener('keydown', function (ev) { ev.stopPropagation(); if (ev.key === 'Enter') ok(); if (ev.key === 'Escape') close(); });
  m.append(h('div', { class: 'card' }, [h('h2', { text: title }), input, dl,
    h('div', { class: 'row' }, [h('button', { class: 'act', text: 'Cancel', onclick: close }), h('button', { class: 'act relabel', text: 'OK', onclick: ok })])]));
  input.focus();
}

function showHelp() {
  var m = $('help'); m.textContent = ''; m.classList.remove('hidden');
  var rows = [['Samples', null], ['← → ↑ ↓', 'move between samples'], ['Enter', 'open the sample'], ['Esc', 'close / cancel'],
    ['k', 'keep'], ['r', 'remove'], ['l', 'relabel (asks the new label)'], ['s', 'accept the suggested label'], ['c', 'clear the decision'],
    ['x / Shift+click', 'select or unselect'], ['a', 'select the loaded page'], ['v', 'next action applies to the whole filtered view'],
    ['u, Ctrl+Z', 'undo your last change'], ['/', 'search'], ['?', 'this help']];
  S.taxonomy.slice(0, 10).forEach(function (t, i) { rows.push([String((i + 1) % 10), 'tag ' + t.name]); });
  rows.push(['Open sample', null], ['z', 'zoom to 1:1 (pixel-exact; again: 2×)'], ['f', 'fit'], ['+ / − / wheel', 'zoom in / out'],
    ['Duplicates and Leaks', null], ['j / k', 'next / previous pair'], ['1', 'keep left, remove right'], ['2', 'keep right, remove left'],
    ['b', 'keep the best of the group (the copy the step kept), remove the others'], ['Shift+B', 'keep the largest of the group, remove the others'],
    ['u', 'undo']);
  var keys = h('div', { class: 'keys' });
  rows.forEach(function (r) {
    if (r[1] === null) keys.append(h('h4', { class: 'keys-head', text: r[0] }));
    else keys.append(h('div', {}, [h('kbd', { text: r[0] })]), h('div', { text: r[1] }));
  });
  m.append(h('div', { class: 'card' }, [h('h2', { text: 'Keyboard shortcuts' }), keys,
    h('p', { class: 'meta-line', text: 'Actions apply to the selection when there is one, else to the focused sample.' })]));
  m.onclick = function () { m.classList.add('hidden'); };
}

document.addEventListener('keydown', function (ev) {
  var tag = ev.target && ev.target.tagName;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') { if (ev.key === 'Escape') ev.target.blur(); return; }
  if (!$('prompt').classList.contains('hidden')) return;
  if (!$('help').classList.contains('hidden')) { $('help').classList.add('hidden'); ev.preventDefault(); return; }
  var k = ev.key;
  if ((ev.ctrlKey || ev.metaKey) && k.toLowerCase() === 'z') { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (S.view !== 'grid') { if (pairKey(k)) ev.preventDefault(); return; }
  if (S.detailOpen && zoomKey(k)) { ev.preventDefault(); return; }
  var handled = true;
  if (k === 'ArrowRight') setFocus(S.focus + 1);
  else if (k === 'ArrowLeft') setFocus(S.focus - 1);
  else if (k === 'ArrowDown') setFocus(S.detailOpen ? S.focus + 1 : S.focus + S.cols);
  else if (k === 'ArrowUp') setFocus(S.detailOpen ? S.focus - 1 : S.focus - S.cols);
  else if (k === 'Enter') openDetail(S.focus);
  else if (k === 'Escape') { if (S.detailOpen) closeDetail(); else if (S.armView) { S.armView = false; updateTarget(); } else { S.selected.clear(); render(); } }
  else if (k === 'k') decide('keep');
  else if (k === 'r') decide('remove');
  else if (k === 'l') decide('relabel');
  else if (k === 's') decide('accept_suggestion');
  else if (k === 'c') decide('clear');
  else if (k === 'u') undo();
  else if (k === 'x') { toggleSelect(S.focus); render(); }
  else if (k === 'a') { (S.pages.get(Math.floor(S.focus / PAGE)) || []).forEach(function (it) { S.selected.add(it.id); }); render(); }
  else if (k === 'v') { S.armView = !S.armView; updateTarget(); }
  else if (k === '?') showHelp();
  else if (k === '/') $('search').focus();
  else if (/^[0-9]$/.test(k)) { var t = S.taxonomy[(Number(k) + 9) % 10]; if (t) toggleTag(t.name); }
  else handled = false;
  if (handled) ev.preventDefault();
});

// ---- start ----------------------------------------------------------------------------------
function debounce(fn, ms) { var t; return function () { clearTimeout(t); t = setTimeout(fn, ms); }; }

function init() {
  var saved = localStorage.getItem('imgsift.reviewer');
  api('/api/info').then(function (info) {
    S.reviewerFixed = !!info.reviewerFixed;
    if (info.limits) S.limits = info.limits;
    var r = $('reviewer');
    r.maxLength = S.limits.reviewer;
    // Off loopback the access token names the reviewer: the page shows it and cannot change it.
    if (S.reviewerFixed) { r.value = info.reviewer; r.disabled = true; r.title = 'set by your access token'; }
    else r.value = saved || info.reviewer;
  });
  $('reviewer').addEventListener('change', function () { localStorage.setItem('imgsift.reviewer', $('reviewer').value.trim()); });
  api('/api/taxonomy').then(function (t) {
    S.taxonomy = t.tags;
    var sel = $('tag-select');
    t.tags.forEach(function (tag, i) { sel.append(h('option', { value: tag.name, text: (i < 10 ? ((i + 1) % 10) + '  ' : '') + tag.name, title: tag.description })); });
  });
  $('tag-select').addEventListener('change', function () { var v = $('tag-select').value; $('tag-select').value = ''; if (v) toggleTag(v); $('grid').focus(); });
  document.querySelectorAll('[data-act]').forEach(function (b) {
    b.addEventListener('click', function () {
      var a = b.getAttribute('data-act');
      if (a === 'undo') undo(); else if (a === 'view') { S.armView = !S.armView; updateTarget(); } else decide(a);
    });
  });
  document.querySelectorAll('.tab').forEach(function (b) { b.addEventListener('click', function () { showView(b.getAttribute('data-view')); }); });
  $('help-btn').addEventListener('click', showHelp);
  $('clear').addEventListener('click', function () { S.filter = {}; $('search').value = ''; $('score-min').value = ''; $('score-max').value = ''; refresh(); });
  $('sort').addEventListener('change', function () { S.sort = $('sort').value; refresh(); $('grid').focus(); });
  window.addEventListener('popstate', function () { applyUrl(false); });
  $('search').addEventListener('input', debounce(function () { var v = $('search').value.trim(); if (v) S.filter.search = v; else delete S.filter.search; refresh(); }, 250));
  var score = debounce(function () {
    ['score-min', 'score-max'].forEach(function (id) {
      var key = id === 'score-min' ? 'scoreMin' : 'scoreMax', v = $(id).value;
      if (v === '') delete S.filter[key]; else S.filter[key] = Number(v);
    });
    refresh();
  }, 300);
  $('score-min').addEventListener('input', score); $('score-max').addEventListener('input', score);
  $('grid').addEventListener('scroll', function () { requestAnimationFrame(render); }, { passive: true });
  window.addEventListener('resize', debounce(layout, 100));
  $('detail').addEventListener('click', function (ev) { if (ev.target === $('detail')) closeDetail(); });
  applyUrl(true);
  $('grid').focus();
  watchBuilds();
}

// A build on the same workdir: say so while it runs, reload the run it made when it ends.
function watchBuilds() {
  var run = null, building = false;
  function poll() {
    api('/api/status').then(function (st) {
      $('build-banner').classList.toggle('hidden', !st.building);
      if (run !== null && st.runId !== run && !st.building) { toast('build finished: showing run ' + st.runId); refresh(true); loadFacets(); }
      if (building && !st.building && st.runId === run) refresh(true);
      if (run !== null && (st.runId !== run || (building && !st.building)) && S.view !== 'grid') loadPairs(S.view, 0);
      run = st.runId; building = !!st.building;
    }).catch(function () {}).then(function () { setTimeout(poll, 2000); });
  }
  poll();
}
init();
`;
