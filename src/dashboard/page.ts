// The dashboard page: HTML, CSS and plain-DOM JavaScript served by the dashboard itself (no network, no build).

/** The page. It loads `/app.css` and `/app.js` from the same server and nothing else. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rendezvous · cluster dashboard</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand">
    <span class="logo" aria-hidden="true"></span>
    <span class="name">rendezvous</span>
    <span class="sub">cluster dashboard</span>
  </div>
  <div class="meta">
    <span id="mode" class="badge">…</span>
    <span id="connect" class="connect"></span>
    <span id="status" class="status"><span class="dot"></span><span id="status-text">connecting</span></span>
  </div>
</header>
<main>
  <section class="cards" aria-label="Cluster totals">
    <div class="card"><div class="label">Servers live</div><div class="value" id="total-servers">–</div></div>
    <div class="card"><div class="label">Keys</div><div class="value" id="total-keys">–</div></div>
    <div class="card"><div class="label">Memory</div><div class="value" id="total-memory">–</div></div>
    <div class="card"><div class="label">Ops/s</div><div class="value" id="total-ops">–</div></div>
    <div class="card"><div class="label">Hit rate</div><div class="value" id="total-hits">–</div></div>
    <div class="card"><div class="label">Membership epoch</div><div class="value" id="epoch">–</div></div>
  </section>

  <section class="panel">
    <div class="panel-head"><h2>Servers</h2><span class="hint">Key share: bar = keys held, tick = weight share</span></div>
    <div class="table-wrap">
    <table class="servers">
      <thead><tr>
        <th>Server</th><th>Zone</th><th class="num">Weight</th><th>Health</th><th class="num">Keys</th>
        <th class="share-col">Key share</th><th class="num">Memory</th><th class="num">Hit rate</th>
        <th class="num">Ops/s</th><th class="num">Latency</th><th class="num">Errors</th>
      </tr></thead>
      <tbody id="servers"></tbody>
    </table>
    </div>
  </section>

  <section class="panel">
    <div class="panel-head"><h2>Migrations</h2><span class="hint">Keys move only to or from the server that changed</span></div>
    <div id="migrations"></div>
  </section>

  <div class="grid2">
    <section class="panel" id="whatif">
      <div class="panel-head"><h2>What if…</h2><span class="hint">Preview a membership change, then apply it</span></div>
      <div class="seg" role="group" aria-label="Change">
        <button type="button" class="seg-btn active" data-op="add">Add server</button>
        <button type="button" class="seg-btn" data-op="remove">Remove server</button>
        <button type="button" class="seg-btn" data-op="reweight">Re-weight</button>
      </div>
      <div class="form">
        <label id="wi-id-row">New server id <input id="wi-id" autocomplete="off" spellcheck="false" placeholder="node-4"></label>
        <label id="wi-server-row" hidden>Server <select id="wi-server"></select></label>
        <label id="wi-weight-row">Weight <input id="wi-weight" type="number" min="0.01" step="any" value="1"></label>
        <label id="wi-host-row">Host <input id="wi-host" autocomplete="off" placeholder="127.0.0.1"></label>
        <label id="wi-port-row">Port <input id="wi-port" type="number" min="1" max="65535"></label>
      </div>
      <div class="actions">
        <button type="button" id="wi-preview" class="btn">Preview</button>
        <button type="button" id="wi-apply" class="btn primary" disabled>Apply</button>
        <span id="wi-message" class="message" role="status"></span>
      </div>
      <div id="wi-result"></div>
    </section>

    <section class="panel" id="lookup">
      <div class="panel-head"><h2>Key lookup</h2><span class="hint">Ranking by rendezvous score, and who holds it</span></div>
      <form id="lk-form" class="lookup-form">
        <input id="lk-key" autocomplete="off" spellcheck="false" placeholder="a key, e.g. user:42 or {cart}:7">
        <button type="submit" id="lk-go" class="btn">Look up</button>
      </form>
      <div id="lk-result"></div>
    </section>
  </div>
</main>
<footer>
  <a href="/metrics">/metrics</a> (Prometheus) · <a href="/api/state">/api/state</a> (JSON) · refreshed every second
</footer>
</body>
</html>
`

/** The page's style sheet (system fonts only). */
export const PAGE_CSS = `
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1b1f24; --muted: #667085; --line: #e4e7ec; --accent: #2f5bea;
  --up: #16a34a; --down: #dc2626; --fenced: #d97706; --rejoining: #2563eb; --joining: #0891b2; --draining: #7c3aed;
  --before: #98a2b3; --after: #2f5bea;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 16px; flex-wrap: wrap;
  padding: 12px 28px; background: #111827; color: #f9fafb; }
.brand { display: flex; align-items: baseline; gap: 10px; }
.logo { width: 14px; height: 14px; border-radius: 50%; align-self: center;
  background: conic-gradient(#60a5fa 0 25%, #34d399 0 50%, #fbbf24 0 75%, #f472b6 0); }
.name { font-weight: 650; font-size: 17px; letter-spacing: .2px; }
.sub { color: #9ca3af; }
.meta { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; color: #d1d5db; }
.badge { padding: 2px 9px; border-radius: 999px; background: #1f2937; border: 1px solid #374151; font-size: 12px; }
.connect code { background: #1f2937; padding: 2px 7px; border-radius: 5px; color: #e5e7eb; }
.status { display: inline-flex; align-items: center; gap: 6px; font-size: 12.5px; }
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: #6b7280; }
.status.live .dot { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.2); }
.status.lost .dot { background: #ef4444; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 8px; }
.cards { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
.card .value { font-size: 24px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 16px; margin-bottom: 16px; }
.panel-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin-bottom: 10px; }
h2 { font-size: 15px; margin: 0; font-weight: 650; }
.hint { color: var(--muted); font-size: 12.5px; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 8px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
tr:last-child td { border-bottom: none; }
.num { text-align: right; }
.srv-id { font-weight: 600; }
.srv-addr { color: var(--muted); font-size: 12px; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 2px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.pill::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.pill.up { color: var(--up); background: #dcfce7; }
.pill.down { color: var(--down); background: #fee2e2; }
.pill.fenced { color: var(--fenced); background: #fef3c7; }
.pill.rejoining { color: var(--rejoining); background: #dbeafe; }
.pill.joining { color: var(--joining); background: #cffafe; }
.pill.draining { color: var(--draining); background: #ede9fe; }
tr.down td { background: #fff7f7; }
tr.draining td { color: #6b7280; }
.share-col { width: 22%; min-width: 160px; }
.share { position: relative; height: 10px; background: #eef0f4; border-radius: 5px; }
.share .fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); border-radius: 5px; }
.share .tick { position: absolute; top: -3px; bottom: -3px; width: 2px; background: #111827; opacity: .55; }
.share-row { display: flex; align-items: center; gap: 8px; }
.share-row .share { flex: 1; }
.share-row .pct { width: 48px; text-align: right; color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); padding: 6px 0; }
.mig { display: grid; grid-template-columns: 220px 1fr 280px; align-items: center; gap: 14px; padding: 8px 0; border-bottom: 1px solid var(--line); }
.mig:last-child { border-bottom: none; }
.mig .title { font-weight: 600; }
.mig .sub2 { color: var(--muted); font-size: 12px; }
.bar { height: 12px; background: #eef0f4; border-radius: 6px; overflow: hidden; }
.bar .fill { height: 100%; background: var(--accent); transition: width .4s ease; }
.bar.done .fill { background: var(--up); }
.bar.failed .fill, .bar.aborted .fill { background: var(--down); }
.bar.indeterminate .fill { width: 30%; background: linear-gradient(90deg, #c7d2fe, var(--accent), #c7d2fe); animation: slide 1.4s linear infinite; }
@keyframes slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.mig .figs { color: var(--muted); font-size: 12.5px; font-variant-numeric: tabular-nums; text-align: right; }
.grid2 { display: grid; grid-template-columns: 1.25fr 1fr; gap: 16px; }
.seg { display: inline-flex; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin-bottom: 12px; }
.seg-btn { border: 0; background: #fff; padding: 7px 14px; font: inherit; cursor: pointer; color: var(--ink); }
.seg-btn + .seg-btn { border-left: 1px solid var(--line); }
.seg-btn.active { background: #eef2ff; color: var(--accent); font-weight: 600; }
.form { display: flex; flex-wrap: wrap; gap: 10px 14px; }
.form label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--muted); }
.form label[hidden] { display: none; }
input, select { font: inherit; color: var(--ink); padding: 6px 9px; border: 1px solid #d0d5dd; border-radius: 7px; background: #fff; min-width: 0; }
.form input, .form select { width: 150px; }
input:focus, select:focus, button:focus-visible { outline: 2px solid #c7d2fe; outline-offset: 1px; }
.actions { display: flex; align-items: center; gap: 10px; margin: 12px 0 4px; }
.btn { font: inherit; padding: 7px 16px; border-radius: 7px; border: 1px solid #d0d5dd; background: #fff; cursor: pointer; font-weight: 600; }
.btn:hover:not(:disabled) { background: #f9fafb; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn.primary:hover:not(:disabled) { background: #2449c9; }
.btn:disabled { opacity: .45; cursor: default; }
.message { font-size: 13px; color: var(--muted); }
.message.error { color: var(--down); }
.message.ok { color: var(--up); }
.summary { margin: 10px 0; padding: 10px 12px; background: #f8fafc; border: 1px solid var(--line); border-radius: 8px; }
.summary strong { font-variant-numeric: tabular-nums; }
.summary .note { color: var(--muted); font-size: 12px; margin-top: 4px; }
.bars td { padding: 5px 8px; }
.pair { display: flex; flex-direction: column; gap: 3px; }
.hbar { height: 8px; border-radius: 4px; background: #eef0f4; position: relative; }
.hbar .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px; }
.hbar.before .fill { background: var(--before); }
.hbar.after .fill { background: var(--after); }
.legend { display: flex; gap: 14px; color: var(--muted); font-size: 12px; margin: 8px 0 4px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 8px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
.legend .lb::before { background: var(--before); }
.legend .la::before { background: var(--after); }
.flows { margin-top: 10px; }
.flows h3 { font-size: 13px; margin: 0 0 6px; }
.flow { display: flex; justify-content: space-between; gap: 10px; padding: 3px 0; font-variant-numeric: tabular-nums; }
.flow .arrow { color: var(--muted); }
.lookup-form { display: flex; gap: 8px; margin-bottom: 10px; }
.lookup-form input { flex: 1; }
.yes { color: var(--up); font-weight: 600; }
.no { color: var(--muted); }
.tag { display: inline-block; padding: 1px 7px; border-radius: 5px; background: #eef2ff; color: var(--accent); font-size: 11.5px; font-weight: 600; }
footer { max-width: 1320px; margin: 0 auto; padding: 4px 28px 24px; color: var(--muted); font-size: 12.5px; }
footer a { color: var(--accent); }
@media (max-width: 1100px) { .cards { grid-template-columns: repeat(3, minmax(0, 1fr)); } .grid2 { grid-template-columns: 1fr; } .mig { grid-template-columns: 1fr; } }
`

/** The page's script: polls `/api/state` every second and renders with DOM APIs only (text, never HTML). */
export const PAGE_JS = String.raw`'use strict';
(function () {
  var state = null;
  var op = 'add';
  var preview = null;

  function $(id) { return document.getElementById(id); }
  function h(tag, props) {
    var e = document.createElement(tag);
    if (props) {
      for (var k in props) {
        var v = props[k];
        if (v === undefined || v === null) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else if (k === 'width') e.style.width = v;
        else if (k === 'left') e.style.left = v;
        else e.setAttribute(k, String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) e.appendChild(typeof x === 'string' ? document.createTextNode(x) : x); });
      else e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }
  var intFmt = new Intl.NumberFormat('en-US');
  function int(n) { return n === null || n === undefined ? '–' : intFmt.format(Math.round(n)); }
  function pct(x, digits) { return x === null || x === undefined ? '–' : (x * 100).toFixed(digits === undefined ? 1 : digits) + '%'; }
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + u[i];
  }
  function ops(n) { return n < 10 ? n.toFixed(1) : int(n); }
  function ms(n) { return n === null || n === undefined ? '–' : (n < 10 ? n.toFixed(2) : n.toFixed(0)) + ' ms'; }
  function duration(n) {
    if (n === null || n === undefined) return '–';
    var s = Math.round(n / 1000);
    return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }
  var HEALTH = { up: 'up', down: 'down', fenced: 'fenced', rejoining: 'rejoining', joining: 'joining', draining: 'draining' };

  function setStatus(ok, text) {
    var s = $('status');
    s.className = 'status ' + (ok ? 'live' : 'lost');
    $('status-text').textContent = text;
  }

  function render(s) {
    state = s;
    $('mode').textContent = s.mode + ' mode';
    var connect = $('connect');
    connect.replaceChildren();
    if (s.proxy) connect.append('connect: ', h('code', { text: 'redis-cli -p ' + s.proxy.port }));
    $('total-servers').textContent = s.totals.live + ' / ' + s.totals.servers;
    $('total-keys').textContent = int(s.totals.keys);
    $('total-memory').textContent = bytes(s.totals.memoryBytes);
    $('total-ops').textContent = ops(s.totals.opsPerSec);
    $('total-hits').textContent = pct(s.totals.hitRate);
    $('epoch').textContent = String(s.epoch);
    renderServers(s);
    renderMigrations(s);
    renderChoices(s);
  }

  function renderServers(s) {
    var keysTotal = 0;
    s.servers.forEach(function (x) { if (x.member) keysTotal += x.keys || 0; });
    var rows = s.servers.map(function (x) {
      var share = x.member && keysTotal > 0 && x.keys !== null ? x.keys / keysTotal : 0;
      var addr = x.port === null ? '' : x.host + ':' + x.port;
      return h('tr', { class: x.health, 'data-server': x.id },
        h('td', null, h('div', { class: 'srv-id', text: x.id }), addr ? h('div', { class: 'srv-addr mono', text: addr }) : null),
        h('td', { text: x.zone === null ? '–' : x.zone }),
        h('td', { class: 'num', text: String(x.weight) }),
        h('td', null, h('span', { class: 'pill ' + (HEALTH[x.health] || 'down'), 'data-field': 'health', text: x.health })),
        h('td', { class: 'num', 'data-field': 'keys', text: int(x.keys) }),
        h('td', null, x.member ? h('div', { class: 'share-row' },
          h('div', { class: 'share', title: 'holds ' + pct(share) + ' of keys; weight share ' + pct(x.expectedShare) },
            h('div', { class: 'fill', width: (share * 100).toFixed(2) + '%' }),
            h('div', { class: 'tick', left: 'calc(' + (x.expectedShare * 100).toFixed(2) + '% - 1px)' })),
          h('span', { class: 'pct', text: pct(share) })) : h('span', { class: 'hint', text: 'draining' })),
        h('td', { class: 'num', text: bytes(x.memoryBytes) }),
        h('td', { class: 'num', text: pct(x.hitRate) }),
        h('td', { class: 'num', text: ops(x.opsPerSec) }),
        h('td', { class: 'num', text: ms(x.latencyMs) }),
        h('td', { class: 'num', text: int(x.errors + x.timeouts) }));
    });
    $('servers').replaceChildren.apply($('servers'), rows);
  }

  var REASONS = { join: 'Adding', leave: 'Removing', weight: 'Re-weighting', down: 'Re-replicating after', up: 'Reconciling', rebalance: 'Rebalancing' };
  function renderMigrations(s) {
    var box = $('migrations');
    if (s.migrations.length === 0) {
      box.replaceChildren(h('div', { class: 'empty', text: 'No migration has run since the dashboard started.' }));
      return;
    }
    box.replaceChildren.apply(box, s.migrations.map(function (m) {
      var title = (REASONS[m.reason] || m.reason) + (m.server === null ? '' : ' ' + m.server);
      var state = m.running ? (m.phase === 'warm-up' ? 'warm-up: previous owners answer misses' : m.phase) : (m.status || 'ending');
      var cls = 'bar' + (m.running && m.percent === null ? ' indeterminate' : '') + (!m.running ? ' ' + (m.status || 'done') : '');
      var pctText = m.percent === null ? '' : m.percent.toFixed(m.percent >= 100 ? 0 : 1) + '%';
      return h('div', { class: 'mig', 'data-migration': m.id, 'data-running': m.running ? 'yes' : 'no', 'data-status': m.status || '' },
        h('div', null, h('div', { class: 'title', text: title }), h('div', { class: 'sub2', text: '#' + m.id + ' · ' + state + (pctText ? ' · ' + pctText : '') })),
        h('div', { class: cls, role: 'progressbar', 'aria-valuenow': m.percent === null ? null : Math.round(m.percent), 'aria-valuemin': 0, 'aria-valuemax': 100 },
          h('div', { class: 'fill', width: (m.percent === null ? 30 : m.percent) + '%' })),
        h('div', { class: 'figs', text: int(m.scanned) + (m.total === null ? '' : ' / ' + int(m.total)) + ' scanned · ' + int(m.moved) + ' moved · ' + int(m.deleted) + ' deleted' + (m.errors ? ' · ' + m.errors + ' errors' : '') + ' · ' + (m.running ? (m.etaMs === null ? duration(m.elapsedMs) : 'eta ' + duration(m.etaMs)) : duration(m.elapsedMs)) }));
    }));
  }

  function renderChoices(s) {
    var sel = $('wi-server');
    var current = sel.value;
    var ids = s.servers.filter(function (x) { return x.member; }).map(function (x) { return x.id; });
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (have.join('\n') !== ids.join('\n')) {
      sel.replaceChildren.apply(sel, ids.map(function (id) { return h('option', { value: id, text: id }); }));
      if (ids.indexOf(current) >= 0) sel.value = current;
    }
    var addrHint = s.canAddWithoutAddress ? 'auto' : '127.0.0.1';
    $('wi-host').placeholder = addrHint === 'auto' ? 'auto (embedded node)' : '127.0.0.1';
    $('wi-port').placeholder = s.canAddWithoutAddress ? 'auto' : 'required';
  }

  function poll() {
    fetch('/api/state', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (s) {
      render(s);
      setStatus(true, 'live · ' + new Date(s.time).toLocaleTimeString());
    }).catch(function () {
      setStatus(false, 'connection lost, retrying');
    }).finally(function () { setTimeout(poll, 1000); });
  }

  // ---- what-if ----
  function setOp(next) {
    op = next;
    document.querySelectorAll('.seg-btn').forEach(function (b) { b.classList.toggle('active', b.getAttribute('data-op') === op); });
    $('wi-id-row').hidden = op !== 'add';
    $('wi-host-row').hidden = op !== 'add';
    $('wi-port-row').hidden = op !== 'add';
    $('wi-server-row').hidden = op === 'add';
    $('wi-weight-row').hidden = op === 'remove';
    if (op === 'reweight' && state) {
      var x = state.servers.find(function (s) { return s.id === $('wi-server').value; });
      if (x) $('wi-weight').value = String(x.weight * 2);
    } else if (op === 'add') $('wi-weight').value = '1';
    clearPreview();
  }
  function clearPreview() {
    preview = null;
    $('wi-apply').disabled = true;
    $('wi-result').replaceChildren();
    message('', '');
  }
  function message(text, kind) {
    var m = $('wi-message');
    m.textContent = text;
    m.className = 'message' + (kind ? ' ' + kind : '');
  }
  function change() {
    var c = { op: op };
    if (op === 'add') {
      c.id = $('wi-id').value.trim();
      if ($('wi-host').value.trim()) c.host = $('wi-host').value.trim();
      if ($('wi-port').value.trim()) c.port = Number($('wi-port').value);
    } else c.id = $('wi-server').value;
    if (op !== 'remove') c.weight = Number($('wi-weight').value);
    return c;
  }
  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status)); return j; }); });
  }
  function doPreview() {
    var c = change();
    message('computing…', '');
    post('/api/whatif', c).then(function (w) {
      preview = c;
      renderPreview(w);
      $('wi-apply').disabled = false;
      message('', '');
    }).catch(function (e) { preview = null; $('wi-apply').disabled = true; $('wi-result').replaceChildren(); message(e.message, 'error'); });
  }
  function renderPreview(w) {
    var m = w.moved;
    var est = m.estimated === null ? '' : ' ≈ ' + int(m.estimated) + ' of ' + int(w.totalKeys) + ' keys';
    var summary = h('div', { class: 'summary', id: 'wi-summary' },
      h('div', null, 'Keys that change owner: ', h('strong', { text: pct(m.fraction) }), est,
        ' · optimal for this change: ', h('strong', { text: pct(m.optimalFraction) }),
        ' · moved between untouched servers: ', h('strong', { text: String(m.betweenUntouched) })),
      h('div', { class: 'note', text: 'Computed on ' + w.sample.note + '.' }));
    var max = 0;
    w.servers.forEach(function (s) { max = Math.max(max, s.shareBefore, s.shareAfter); });
    max = max || 1;
    var rows = w.servers.map(function (s) {
      return h('tr', null,
        h('td', { class: 'srv-id', text: s.id }),
        h('td', { class: 'num mono', text: pct(s.shareBefore) + ' → ' + pct(s.shareAfter) }),
        h('td', { class: 'share-col' }, h('div', { class: 'pair' },
          h('div', { class: 'hbar before', title: 'before: ' + pct(s.shareBefore) }, h('div', { class: 'fill', width: (100 * s.shareBefore / max).toFixed(2) + '%' })),
          h('div', { class: 'hbar after', title: 'after: ' + pct(s.shareAfter) }, h('div', { class: 'fill', width: (100 * s.shareAfter / max).toFixed(2) + '%' })))),
        h('td', { class: 'num hint', text: 'weight ' + pct(s.expectedBefore, 0) + ' → ' + pct(s.expectedAfter, 0) }));
    });
    var flows = m.flows.slice(0, 12).map(function (f) {
      return h('div', { class: 'flow' },
        h('span', null, h('b', { text: f.from }), h('span', { class: 'arrow', text: '  →  ' }), h('b', { text: f.to })),
        h('span', { text: (f.estimated === null ? int(f.keys) + ' sampled' : '≈ ' + int(f.estimated)) + ' keys · ' + pct(f.fraction) }));
    });
    $('wi-result').replaceChildren(summary,
      h('div', { class: 'legend' }, h('span', { class: 'lb', text: 'before' }), h('span', { class: 'la', text: 'after' })),
      h('table', { class: 'bars' }, h('tbody', null, rows)),
      h('div', { class: 'flows' }, h('h3', { text: 'Keys that move' }), flows.length ? flows : h('div', { class: 'empty', text: 'None.' })));
  }
  function doApply() {
    if (!preview) return;
    var c = preview;
    $('wi-apply').disabled = true;
    message('applying…', '');
    post('/api/apply', c).then(function (r) {
      message('Applied: ' + c.op + ' ' + c.id + (r.migration ? ' · migration #' + r.migration.id + ' started' : ''), 'ok');
      preview = null;
      $('wi-result').replaceChildren();
      if (c.op === 'add') $('wi-id').value = '';
      render(r.state);
    }).catch(function (e) { message(e.message, 'error'); $('wi-apply').disabled = false; });
  }

  // ---- lookup ----
  function doLookup(ev) {
    ev.preventDefault();
    var key = $('lk-key').value;
    if (!key) return;
    fetch('/api/lookup?key=' + encodeURIComponent(key)).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status)); return j; });
    }).then(renderLookup).catch(function (e) {
      $('lk-result').replaceChildren(h('div', { class: 'message error', text: e.message }));
    });
  }
  function renderLookup(r) {
    var head = h('div', { class: 'summary' },
      h('div', null, 'Key ', h('code', { id: 'lk-shown', text: r.key }), ' → owner ', h('strong', { id: 'lk-owner', text: r.owner === null ? 'none live' : r.owner })),
      r.hashTag ? h('div', { class: 'note' }, 'placed by its hash tag ', h('code', { text: '{' + r.route + '}' })) : null,
      r.alsoHeldBy.length ? h('div', { class: 'note', text: 'also held by servers being drained: ' + r.alsoHeldBy.join(', ') }) : null);
    var rows = r.ranking.map(function (x) {
      return h('tr', { 'data-server': x.id },
        h('td', { class: 'num', text: String(x.rank) }),
        h('td', null, h('span', { class: 'srv-id', text: x.id }), x.owner ? h('span', null, ' ', h('span', { class: 'tag', text: state && state.mode === 'store' ? 'replica' : 'owner' })) : null),
        h('td', { class: 'num mono', text: x.score.toFixed(4) }),
        h('td', { 'data-field': 'holds', class: x.holds ? 'yes' : 'no', text: x.holds === null ? (x.live ? '?' : 'down') : (x.holds ? 'holds it' : '–') }));
    });
    $('lk-result').replaceChildren(head, h('table', null,
      h('thead', null, h('tr', null, h('th', { class: 'num', text: 'Rank' }), h('th', { text: 'Server' }), h('th', { class: 'num', text: 'Score (log)' }), h('th', { text: 'Holds' }))),
      h('tbody', null, rows)));
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.seg-btn').forEach(function (b) { b.addEventListener('click', function () { setOp(b.getAttribute('data-op')); }); });
    ['wi-id', 'wi-weight', 'wi-host', 'wi-port', 'wi-server'].forEach(function (id) {
      $(id).addEventListener('input', function () { if (preview) clearPreview(); });
    });
    $('wi-server').addEventListener('change', function () {
      if (op === 'reweight' && state) {
        var x = state.servers.find(function (s) { return s.id === $('wi-server').value; });
        if (x) $('wi-weight').value = String(x.weight * 2);
      }
    });
    $('wi-preview').addEventListener('click', doPreview);
    $('wi-apply').addEventListener('click', doApply);
    $('lk-form').addEventListener('submit', doLookup);
    setOp('add');
    poll();
  });
})();
`
