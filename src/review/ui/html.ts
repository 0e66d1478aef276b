/** The app's one HTML page: a shell that app.js fills. Nothing is loaded from outside the server. */
export const APP_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgsift review</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header class="top">
  <div class="brand">imgsift <span>review</span></div>
  <nav class="tabs" role="tablist">
    <button data-view="grid" class="tab active" role="tab">Samples</button>
    <button data-view="duplicate" class="tab" role="tab">Duplicates</button>
    <button data-view="leak" class="tab" role="tab">Leaks</button>
  </nav>
  <div class="count" id="count" aria-live="polite"></div>
  <label class="reviewer">Reviewer <input id="reviewer" autocomplete="off" spellcheck="false" maxlength="100"></label>
  <button class="icon" id="help-btn" title="Keyboard shortcuts (?)">?</button>
</header>
<div class="banner hidden" id="build-banner" role="status">A build is running on this workdir: changes wait until it ends, then the app refreshes.</div>
<div class="layout">
  <aside class="side" id="side">
    <input id="search" class="search" type="search" placeholder="Search id or path  ( / )" autocomplete="off">
    <section class="facet">
      <h3>Sort</h3>
      <select id="sort" class="sort" title="Order of the grid">
        <option value="ingest">ingest order</option>
        <option value="path">path</option>
        <option value="label">label</option>
        <option value="score">issue score, highest first</option>
        <option value="score_asc">issue score, lowest first</option>
      </select>
    </section>
    <div id="facets"></div>
    <section class="facet">
      <h3>Issue score</h3>
      <div class="range"><input id="score-min" type="number" min="0" max="1" step="0.05" placeholder="min"><span>to</span><input id="score-max" type="number" min="0" max="1" step="0.05" placeholder="max"></div>
    </section>
    <button id="clear" class="link">Clear all filters</button>
  </aside>
  <main class="main">
    <div class="actions" id="actions">
      <span class="target" id="target"></span>
      <button data-act="keep" class="act keep" title="Keep (k)">Keep</button>
      <button data-act="remove" class="act remove" title="Remove (r)">Remove</button>
      <button data-act="relabel" class="act relabel" title="Relabel (l)">Relabel</button>
      <button data-act="accept_suggestion" class="act relabel" title="Relabel to the suggested label (s)">Accept suggestion</button>
      <button data-act="clear" class="act" title="Clear the decision (c)">Clear</button>
      <select id="tag-select" title="Tag (number keys)"><option value="">Tag…</option></select>
      <button data-act="undo" class="act" title="Undo (u)">Undo</button>
      <span class="spacer"></span>
      <button data-act="view" class="act ghost" title="Apply the next action to every sample in the filtered view">Whole view…</button>
    </div>
    <div class="grid" id="grid" tabindex="0"><div class="spacer-y" id="spacer"></div></div>
    <div class="pairs hidden" id="pairs"></div>
  </main>
</div>
<div class="modal hidden" id="detail" role="dialog" aria-modal="true"></div>
<div class="modal hidden" id="help" role="dialog" aria-modal="true"></div>
<div class="modal hidden" id="prompt" role="dialog" aria-modal="true"></div>
<div class="toast" id="toast" role="status"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
