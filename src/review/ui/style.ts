/** The app's stylesheet: a dark, dense layout in the manner of the FiftyOne app. */
export const APP_CSS = `
:root {
  --bg: #16181d; --panel: #1e2128; --panel2: #262a33; --line: #333845; --text: #e6e8ec; --dim: #9aa1ad;
  --accent: #ff8a3d; --keep: #30a46c; --remove: #e5484d; --relabel: #f5a524; --tile: 176px;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; overflow: hidden; }
button, input, select { font: inherit; color: inherit; }
.hidden { display: none !important; }
.top { display: flex; align-items: center; gap: 16px; padding: 8px 14px; background: var(--panel); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 15px; letter-spacing: .2px; }
.brand span { color: var(--accent); font-weight: 600; }
.tabs { display: flex; gap: 2px; }
.tab { background: none; border: 0; padding: 6px 12px; border-radius: 6px; color: var(--dim); cursor: pointer; }
.tab.active { background: var(--panel2); color: var(--text); }
.count { margin-left: auto; color: var(--dim); }
.reviewer { color: var(--dim); display: flex; gap: 6px; align-items: center; }
.reviewer input { width: 120px; background: var(--bg); border: 1px solid var(--line); border-radius: 5px; padding: 3px 6px; }
.icon { width: 26px; height: 26px; border-radius: 50%; border: 1px solid var(--line); background: var(--panel2); cursor: pointer; }
.layout { flex: 1; display: flex; min-height: 0; }
.side { width: 260px; flex: none; overflow-y: auto; background: var(--panel); border-right: 1px solid var(--line); padding: 10px; }
.search { width: 100%; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin-bottom: 8px; }
.facet { margin: 4px 0 12px; }
.facet h3 { margin: 0 0 4px; font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--dim); font-weight: 600; display: flex; justify-content: space-between; }
.fv { display: flex; align-items: center; gap: 6px; width: 100%; padding: 3px 6px; border: 0; background: none; border-radius: 5px; cursor: pointer; text-align: left; }
.fv:hover { background: var(--panel2); }
.fv.on { background: rgba(255,138,61,.16); color: #ffd2b3; }
.fv .box { width: 12px; height: 12px; border: 1px solid var(--dim); border-radius: 3px; flex: none; }
.fv.on .box { background: var(--accent); border-color: var(--accent); }
.fv .name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fv .n { color: var(--dim); font-variant-numeric: tabular-nums; }
.fv.zero { opacity: .45; }
.more { background: none; border: 0; color: var(--accent); cursor: pointer; padding: 2px 6px; }
.range { display: flex; gap: 6px; align-items: center; color: var(--dim); }
.range input { width: 80px; background: var(--bg); border: 1px solid var(--line); border-radius: 5px; padding: 4px 6px; }
.link { background: none; border: 0; color: var(--accent); cursor: pointer; padding: 0; }
.main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.actions { display: flex; gap: 6px; align-items: center; padding: 8px 12px; border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
.target { color: var(--dim); min-width: 170px; }
.act, #tag-select { background: var(--panel2); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; cursor: pointer; }
.act:hover { border-color: var(--dim); }
.act.keep { border-color: rgba(48,164,108,.6); } .act.remove { border-color: rgba(229,72,77,.6); } .act.relabel { border-color: rgba(245,165,36,.6); }
.act.ghost.armed { background: var(--accent); color: #111; }
.spacer { flex: 1; }
.grid { flex: 1; overflow-y: auto; position: relative; outline: none; }
.spacer-y { width: 1px; }
.tile { position: absolute; top: 0; left: 0; width: calc(var(--tile) - 8px); height: calc(var(--tile) + 30px); border-radius: 8px; background: var(--panel); border: 2px solid transparent; overflow: hidden; cursor: pointer; }
.tile .img { position: relative; height: calc(var(--tile) - 12px); display: flex; align-items: center; justify-content: center; background: #0f1014; }
.tile img { max-width: 100%; max-height: 100%; object-fit: contain; display: block; }
.tile .cap { padding: 4px 7px; display: flex; gap: 6px; align-items: center; white-space: nowrap; overflow: hidden; }
.tile .cap .lab { flex: 1; overflow: hidden; text-overflow: ellipsis; }
.tile.focus { border-color: var(--accent); }
.tile.sel { box-shadow: 0 0 0 3px rgba(255,138,61,.45) inset; background: #2b2620; }
.tile.d-keep { border-bottom-color: var(--keep); } .tile.d-remove { border-bottom-color: var(--remove); } .tile.d-relabel { border-bottom-color: var(--relabel); }
.tile.d-remove .img img { opacity: .45; }
.tile.dropped .img::after { content: "dropped"; position: absolute; top: 6px; left: 6px; background: rgba(0,0,0,.7); color: var(--dim); font-size: 10px; padding: 1px 5px; border-radius: 4px; }
.chips { position: absolute; top: 6px; right: 6px; display: flex; flex-wrap: wrap; gap: 3px; justify-content: flex-end; max-width: 85%; }
.chip { font-size: 10px; padding: 1px 6px; border-radius: 9px; background: rgba(229,72,77,.85); color: #fff; white-space: nowrap; }
.chip.tag { background: rgba(80,120,255,.85); }
.badge { font-size: 10px; padding: 0 6px; border-radius: 4px; background: var(--panel2); color: var(--dim); }
.badge.keep { background: var(--keep); color: #fff; } .badge.remove { background: var(--remove); color: #fff; } .badge.relabel { background: var(--relabel); color: #111; }
.pairs { flex: 1; overflow-y: auto; padding: 12px; }
.pair { display: grid; grid-template-columns: 1fr 170px 1fr; gap: 12px; align-items: center; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px; margin-bottom: 10px; }
.pair .side-img { display: flex; flex-direction: column; gap: 4px; cursor: pointer; }
.pair .side-img .img { height: 200px; display: flex; align-items: center; justify-content: center; background: #0f1014; border-radius: 6px; }
.pair img { max-width: 100%; max-height: 200px; }
.pair .mid { text-align: center; color: var(--dim); }
.pair .mid .sim { font-size: 22px; color: var(--text); font-weight: 600; }
.meta-line { color: var(--dim); font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.modal { position: fixed; inset: 0; background: rgba(8,9,12,.78); display: flex; align-items: center; justify-content: center; z-index: 10; }
.sheet { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; width: min(1200px, 94vw); height: min(820px, 92vh); display: flex; overflow: hidden; }
.sheet .view { flex: 1; background: #0b0c0f; display: flex; align-items: center; justify-content: center; min-width: 0; }
.sheet .view img { max-width: 100%; max-height: 100%; object-fit: contain; }
.sheet .info { width: 400px; overflow-y: auto; padding: 14px; border-left: 1px solid var(--line); }
.info h2 { margin: 0 0 4px; font-size: 15px; word-break: break-all; }
.info h4 { margin: 14px 0 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--dim); }
.kv { display: grid; grid-template-columns: 110px 1fr; gap: 2px 8px; }
.kv div:nth-child(odd) { color: var(--dim); }
.kv div { word-break: break-all; }
.issue { border: 1px solid var(--line); border-radius: 7px; padding: 6px 8px; margin-bottom: 6px; }
.issue.flagged { border-color: rgba(229,72,77,.6); }
.issue .head { display: flex; justify-content: space-between; }
.issue pre, .hist pre { margin: 4px 0 0; font-size: 11px; white-space: pre-wrap; word-break: break-all; color: var(--dim); max-height: 140px; overflow: auto; }
.caption { background: var(--panel2); border-radius: 6px; padding: 6px 8px; }
.hist { border-left: 2px solid var(--line); padding: 2px 0 6px 8px; margin-bottom: 4px; }
.hist .when { color: var(--dim); font-size: 11px; }
.close { position: absolute; top: 12px; right: 16px; background: var(--panel2); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; cursor: pointer; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 18px 22px; min-width: 360px; max-width: 560px; }
.card h2 { margin: 0 0 10px; font-size: 16px; }
.keys { display: grid; grid-template-columns: 110px 1fr; gap: 4px 12px; }
kbd { background: var(--panel2); border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 4px; padding: 0 5px; font: 12px ui-monospace, monospace; }
.card input { width: 100%; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin: 8px 0; }
.card .row { display: flex; gap: 8px; justify-content: flex-end; }
.toast { position: fixed; bottom: 16px; left: 50%; transform: translateX(-50%); background: var(--panel2); border: 1px solid var(--line); padding: 8px 14px; border-radius: 8px; opacity: 0; transition: opacity .2s; pointer-events: none; z-index: 20; }
.toast.show { opacity: 1; }
.banner { background: var(--panel2); border-bottom: 2px solid var(--relabel, #c90); padding: 6px 14px; }
.banner.hidden { display: none; }
.toast.err { border-color: var(--remove); }
.empty { padding: 40px; color: var(--dim); text-align: center; }
.sort { width: 100%; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 4px 6px; }
.sheet .view { flex-direction: column; align-items: stretch; justify-content: flex-start; }
.zoom-tools { display: flex; gap: 6px; align-items: center; padding: 8px 10px; border-bottom: 1px solid var(--line); background: var(--panel); }
.zoom-tools .act { padding: 2px 9px; }
.match-line { margin-left: 10px; color: var(--text); font-weight: 600; }
.panes { flex: 1; display: flex; gap: 4px; min-height: 0; }
.pane { flex: 1; display: flex; flex-direction: column; min-width: 0; min-height: 0; }
.pane-cap { padding: 4px 8px; }
.pane[data-pane=other] .pane-cap { color: var(--accent); }
.zoomable { flex: 1; min-height: 0; overflow: auto; display: flex; }
.zoomable img { margin: auto; flex: none; image-rendering: pixelated; }
.zoomable img.fit { max-width: 100%; max-height: 100%; object-fit: contain; image-rendering: auto; flex: 0 1 auto; min-width: 0; min-height: 0; }
.issues-head { display: flex; justify-content: space-between; align-items: baseline; }
.issues-head .link { text-transform: none; letter-spacing: 0; font-size: 12px; }
.issue .summary, .pair .summary { color: var(--text); margin-top: 2px; }
.pair.focus { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
.pair-acts { display: flex; flex-wrap: wrap; gap: 4px; justify-content: center; margin-top: 8px; }
.pair-acts .act { padding: 2px 7px; font-size: 12px; }
.pair { grid-template-columns: 1fr 230px 1fr; }
.side-img.d-keep .img { box-shadow: 0 0 0 3px var(--keep) inset; }
.side-img.d-remove .img img { opacity: .4; }
.side-img.d-remove .img { box-shadow: 0 0 0 3px var(--remove) inset; }
.keys-head { grid-column: 1 / -1; margin: 10px 0 2px; font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--dim); }
.card { max-height: 90vh; overflow-y: auto; }
`;
