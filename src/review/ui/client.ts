/**
 * The app's script (plain browser JavaScript, served as /app.js). Kept as a string so `tsc` ships
 * it inside dist/ with no build step; it must not contain backticks or dollar-brace sequences.
 *
 * State lives in the URL-free `S` object; the grid is virtualised (only the visible rows of tiles
 * exist in the DOM, pages of ids are fetched as they scroll into view).
 */
export const APP_JS = String.raw`
'use strict';
var PAGE = 200, TILE = 176, CAP = 30, BUFFER_ROWS = 3;
var S = {
  filter: {}, total: 0, pages: new Map(), loading: new Set(), focus: 0, selected: new Set(),
  cols: 1, taxonomy: [], labels: [], view: 'grid', detailOpen: false, armView: false, epoch: 0
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

function reviewer() { return $('reviewer').value.trim() || undefined; }

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
  S.epoch++; S.pages = new Map(); S.loading = new Set(); S.selected.clear();
  if (!keepFocus) { S.focus = 0; $('grid').scrollTop = 0; }
  return Promise.all([loadFacets(), fetchPage(Math.floor(S.focus / PAGE)).then(function () { layout(); })]);
}

function fetchPage(p) {
  if (S.pages.has(p) || S.loading.has(p)) return Promise.resolve();
  S.loading.add(p);
  var epoch = S.epoch;
  return api('/api/samples?' + query({ offset: p * PAGE, limit: PAGE })).then(function (r) {
    if (epoch !== S.epoch) return;
    S.loading.delete(p); S.pages.set(p, r.items); S.total = r.total;
    $('count').textContent = r.total.toLocaleString() + ' samples';
    render();
  }).catch(function (e) { S.loading.delete(p); toast(e.message, true); });
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
  el.querySelector('.split').textContent = it.split || '';
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
    applyResult(r, Object.keys(r.states || {}).length >= 1000);
  }).catch(function (e) { toast(e.message, true); });
}

// ---- detail ---------------------------------------------------------------------------------
function openDetail(i) {
  var it = item(i); if (!it) return;
  S.detailOpen = true;
  var m = $('detail'); m.classList.remove('hidden');
  api('/api/samples/' + encodeURIComponent(it.id)).then(function (d) {
    if (!S.detailOpen || item(S.focus) !== it) return;
    m.textContent = '';
    var info = h('div', { class: 'info' }, [
      h('h2', { text: d.id }),
      h('div', { class: 'meta-line', text: (i + 1).toLocaleString() + ' of ' + S.total.toLocaleString() + '  ·  ←/→ to move, Esc to close' })
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
    info.append(h('h4', { text: 'Issues (' + d.issues.filter(function (x) { return x.flagged; }).length + ' flagged of ' + d.issues.length + ')' }));
    d.issues.forEach(function (x) {
      info.append(h('div', { class: 'issue' + (x.flagged ? ' flagged' : '') }, [
        h('div', { class: 'head' }, [h('b', { text: x.type }), h('span', { class: 'meta-line', text: (x.score === null ? '' : 'score ' + x.score.toFixed(3)) + ' · ' + x.step + (x.source !== 'imgsift' ? ' · ' + x.source : '') })]),
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
    m.append(h('div', { class: 'sheet' }, [h('div', { class: 'view' }, [h('img', { src: d.image, alt: d.id })]), info]),
      h('button', { class: 'close', text: 'Close (Esc)', onclick: closeDetail }));
  }).catch(function (e) { toast(e.message, true); });
}

function describeChange(e) {
  var st = function (s) { if (!s) return '-'; var d = s.decision ? s.decision.action + (s.decision.new_label ? '→' + s.decision.new_label : '') : 'undecided'; return d + (s.tags && s.tags.length ? ' [' + s.tags.join(', ') + ']' : ''); };
  return st(e.old) + '  ⟶  ' + st(e.new);
}

function closeDetail() { S.detailOpen = false; $('detail').classList.add('hidden'); $('grid').focus(); }

// ---- pairs ----------------------------------------------------------------------------------
function showView(v) {
  S.view = v;
  document.querySelectorAll('.tab').forEach(function (b) { b.classList.toggle('active', b.getAttribute('data-view') === v); });
  $('grid').classList.toggle('hidden', v !== 'grid'); $('actions').classList.toggle('hidden', v !== 'grid');
  $('pairs').classList.toggle('hidden', v === 'grid');
  if (v !== 'grid') loadPairs(v, 0);
}

function loadPairs(type, offset) {
  var box = $('pairs');
  if (offset === 0) box.textContent = '';
  api('/api/pairs?type=' + type + '&offset=' + offset + '&limit=50').then(function (r) {
    if (offset === 0) $('count').textContent = r.total.toLocaleString() + ' ' + (type === 'leak' ? 'leak' : 'duplicate') + ' pairs';
    if (!r.total) box.append(h('div', { class: 'empty', text: 'No ' + type + ' issues in this run. Add the ' + (type === 'leak' ? 'leaks' : 'dedup') + ' step to the recipe to find them.' }));
    r.pairs.forEach(function (p) {
      var side = function (s, ref, role) {
        if (!s) return h('div', { class: 'side-img' }, [h('div', { class: 'img' }, [h('span', { class: 'meta-line', text: ref ? 'not in catalog: ' + ref : 'no match recorded' })])]);
        return h('div', { class: 'side-img', onclick: function () { jumpTo(s.id); } }, [
          h('div', { class: 'img' }, [h('img', { src: s.thumb, alt: s.id, loading: 'lazy' })]),
          h('div', { class: 'meta-line', text: role + ': ' + s.id }),
          h('div', { class: 'meta-line', text: (s.label || '') + ' · ' + (s.split || '') })
        ]);
      };
      var sim = p.similarity !== null ? (p.similarity * 100).toFixed(1) + '%' : p.distance !== null ? 'd = ' + p.distance : (p.score !== null ? p.score.toFixed(2) : '');
      box.append(h('div', { class: 'pair', 'data-id': p.sample.id }, [
        side(p.other, p.otherRef, type === 'leak' ? 'train' : 'kept'),
        h('div', { class: 'mid' }, [h('div', { class: 'sim', text: sim }), h('div', { text: p.method || p.type }),
          p.distance !== null && p.similarity !== null ? h('div', { text: 'distance ' + p.distance }) : null]),
        side(p.sample, null, type === 'leak' ? 'evaluation' : 'copy')
      ]));
    });
    if (offset + r.pairs.length < r.total) box.append(h('button', { class: 'act', text: 'More', onclick: function (ev) { ev.target.remove(); loadPairs(type, offset + 50); } }));
  }).catch(function (e) { toast(e.message, true); });
}

function jumpTo(id) {
  S.filter = { ids: [id], scope: 'run' }; showView('grid'); refresh().then(function () { openDetail(0); });
}

// ---- dialogs and keys -----------------------------------------------------------------------
function ask(title, options, done) {
  var m = $('prompt'); m.textContent = ''; m.classList.remove('hidden');
  var input = h('input', { list: 'label-options', id: 'prompt-input', autocomplete: 'off' });
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
  var rows = [['← → ↑ ↓', 'move between samples'], ['Enter', 'open the sample'], ['Esc', 'close / cancel'],
    ['k', 'keep'], ['r', 'remove'], ['l', 'relabel (asks the new label)'], ['s', 'accept the suggested label'], ['c', 'clear the decision'],
    ['x / Shift+click', 'select or unselect'], ['a', 'select the loaded page'], ['v', 'next action applies to the whole filtered view'],
    ['u, Ctrl+Z', 'undo your last change'], ['/', 'search'], ['?', 'this help']];
  S.taxonomy.slice(0, 10).forEach(function (t, i) { rows.push([String((i + 1) % 10), 'tag ' + t.name]); });
  var keys = h('div', { class: 'keys' });
  rows.forEach(function (r) { keys.append(h('div', {}, [h('kbd', { text: r[0] })]), h('div', { text: r[1] })); });
  m.append(h('div', { class: 'card' }, [h('h2', { text: 'Keyboard shortcuts' }), keys,
    h('p', { class: 'meta-line', text: 'Actions apply to the selection when there is one, else to the focused sample.' })]));
  m.onclick = function () { m.classList.add('hidden'); };
}

document.addEventListener('keydown', function (ev) {
  var tag = ev.target && ev.target.tagName;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') { if (ev.key === 'Escape') ev.target.blur(); return; }
  if (!$('prompt').classList.contains('hidden')) return;
  if (!$('help').classList.contains('hidden')) { $('help').classList.add('hidden'); ev.preventDefault(); return; }
  if (S.view !== 'grid') return;
  var k = ev.key;
  if ((ev.ctrlKey || ev.metaKey) && k.toLowerCase() === 'z') { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
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
  api('/api/info').then(function (info) { $('reviewer').value = saved || info.reviewer; });
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
  refresh();
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
      run = st.runId; building = !!st.building;
    }).catch(function () {}).then(function () { setTimeout(poll, 2000); });
  }
  poll();
}
init();
`;
