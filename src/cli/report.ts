// The HTML report of `rendezvous simulate --html`: one self-contained file, inline CSS and SVG, no network.
import type { BalanceReport, Flow, SimulationResult } from './simulate.js'

/** Servers drawn one bar each; beyond this the chart shows the sorted share/expected curve instead. */
const MAX_BARS = 120
/** Flows drawn in the flow chart. */
const MAX_FLOWS = 20

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
  color: #1d2330; background: #fafbfc; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: #5b6475; margin-bottom: 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .v { font-size: 20px; font-weight: 600; } .card .l { color: #5b6475; font-size: 12px; }
.good { color: #1a7f37; } .bad { color: #c62828; }
svg { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #3b4352; }
table { border-collapse: collapse; background: #fff; margin-top: 8px; }
td, th { border: 1px solid #dde2ea; padding: 3px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f3f7; } td.l, th.l { text-align: left; }
.legend span { display: inline-block; margin-right: 16px; }
.sw { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 4px; border-radius: 2px; }
`

/** Renders the simulation as a standalone HTML page. */
export function renderHtmlReport(r: SimulationResult): string {
  const parts: string[] = []
  const n = r.balance.servers.length
  parts.push(
    `<h1>rendezvous simulate: ${esc(r.strategy)}</h1>`,
    `<div class="sub">${n} servers, ${fmtInt(r.keys)} keys (user: + 8-12 random characters, seed ${r.seed})` +
      `${r.change === undefined ? '' : `, change: ${esc(r.change)}`}</div>`,
  )
  const cards: string[] = [
    card(
      'max/mean',
      r.balance.maxOverMean.toFixed(4),
      `ideal random ${r.balance.ideal.maxOverMean.toFixed(4)}`,
    ),
    card(
      'min/mean',
      r.balance.minOverMean.toFixed(4),
      `ideal random ${r.balance.ideal.minOverMean.toFixed(4)}`,
    ),
    card('stddev of share/expected', pct(r.balance.stddevRatio, 2), ''),
  ]
  const m = r.movement
  if (m !== undefined) {
    cards.push(
      card('keys moved', pct(m.fraction, 3), `${fmtInt(m.moved)} keys; optimal ${pct(m.optimalFraction, 3)}`),
      card('moved / optimal', Number.isNaN(m.ratio) ? 'n/a' : m.ratio.toFixed(4), '1 is optimal'),
      card(
        'between untouched servers',
        `<span class="${m.betweenUntouched === 0 ? 'good' : 'bad'}">${fmtInt(m.betweenUntouched)}</span>`,
        'keys moved between two servers the change did not touch',
      ),
    )
  }
  parts.push(`<div class="cards">${cards.join('')}</div>`)
  parts.push(
    `<h2>${r.after === undefined ? 'Balance' : 'Balance before the change'}</h2>`,
    shareChart(r.balance),
  )
  if (r.after !== undefined) parts.push('<h2>Balance after the change</h2>', shareChart(r.after))
  if (m !== undefined && m.flows.length > 0) {
    parts.push(
      `<h2>Top flows (${Math.min(MAX_FLOWS, m.flows.length)} of ${fmtInt(m.flows.length)})</h2>`,
      flowChart(m.flows.slice(0, MAX_FLOWS), m.moved, new Set(m.touched)),
    )
  }
  parts.push('<h2>Servers</h2>', serverTable(r))
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>rendezvous simulate: ${esc(r.strategy)}, ${n} servers</title><style>${CSS}</style></head>` +
    `<body>\n${parts.join('\n')}\n</body></html>\n`
  )
}

function card(label: string, value: string, note: string): string {
  return `<div class="card"><div class="l">${esc(label)}</div><div class="v">${value}</div><div class="l">${esc(note)}</div></div>`
}

/** Size and margins (pixels) of the two share charts. */
const CHART = { W: 1060, H: 300, left: 56, bottom: 40, top: 16 }

/** Per-server observed share against expected share: bars when few servers, a sorted ratio curve otherwise. */
function shareChart(b: BalanceReport): string {
  return b.servers.length <= MAX_BARS ? shareBars(b) : ratioCurve(b)
}

function shareBars(b: BalanceReport): string {
  const { W, H, left, bottom, top } = CHART
  const n = b.servers.length
  const maxV = Math.max(...b.servers.map((s) => Math.max(s.share, s.expected))) * 1.1 || 1
  const step = (W - left - 10) / n
  const bw = Math.max(1, step * 0.7)
  const y = (v: number) => top + (H - top - bottom) * (1 - v / maxV)
  const out: string[] = [svgOpen(W, H, 'Observed share of keys per server against its expected share')]
  out.push(...axisY(maxV, y, left, W, (v) => pct(v, 2)))
  b.servers.forEach((s, i) => {
    const x = left + i * step + (step - bw) / 2
    const color = Math.abs(s.ratio - 1) > 0.05 ? '#e07b39' : '#4a7fd0'
    out.push(
      `<rect x="${f(x)}" y="${f(y(s.share))}" width="${f(bw)}" height="${f(y(0) - y(s.share))}" fill="${color}">` +
        `<title>${esc(s.id)}: ${pct(s.share, 3)} (expected ${pct(s.expected, 3)}, ${fmtInt(s.keys)} keys)</title></rect>`,
      `<line x1="${f(x - 1)}" x2="${f(x + bw + 1)}" y1="${f(y(s.expected))}" y2="${f(y(s.expected))}" ` +
        'stroke="#1d2330" stroke-width="2"/>',
    )
    // Label every `every`-th bar, each label getting the width of `every` bars.
    const every = Math.ceil(n / 40)
    if (i % every === 0) {
      out.push(
        `<text x="${f(x + bw / 2)}" y="${H - bottom + 14}" text-anchor="middle">${esc(shorten(s.id, step * every))}</text>`,
      )
    }
  })
  out.push('</svg>')
  return `${legend([
    ['#4a7fd0', 'observed share'],
    ['#e07b39', 'observed share, more than 5% off'],
    ['#1d2330', 'expected share (weight / total weight)'],
  ])}${out.join('')}`
}

function ratioCurve(b: BalanceReport): string {
  const { W, H, left, bottom, top } = CHART
  const ratios = b.servers.map((s) => s.ratio).sort((x, y) => y - x)
  const n = ratios.length
  const hi = Math.max(ratios[0]!, 1.05)
  const lo = Math.min(ratios[n - 1]!, 0.95)
  const y = (v: number) => top + (H - top - bottom) * ((hi - v) / (hi - lo))
  const x = (i: number) => left + ((W - left - 10) * i) / Math.max(1, n - 1)
  // At most ~1000 points: enough for the eye, small enough for the file.
  const stride = Math.max(1, Math.floor(n / 1000))
  const pts: string[] = []
  for (let i = 0; i < n; i += stride) pts.push(`${f(x(i))},${f(y(ratios[i]!))}`)
  pts.push(`${f(x(n - 1))},${f(y(ratios[n - 1]!))}`)
  const out: string[] = [svgOpen(W, H, 'Share/expected of every server, sorted from most to least loaded')]
  out.push(...axisY(hi, y, left, W, (v) => v.toFixed(2), lo))
  out.push(
    `<line x1="${left}" x2="${W - 10}" y1="${f(y(1))}" y2="${f(y(1))}" stroke="#1d2330" stroke-width="1.5"/>`,
    `<line x1="${left}" x2="${W - 10}" y1="${f(y(b.ideal.maxOverMean))}" y2="${f(y(b.ideal.maxOverMean))}" ` +
      'stroke="#9aa3b2" stroke-dasharray="5 4"/>',
    `<line x1="${left}" x2="${W - 10}" y1="${f(y(b.ideal.minOverMean))}" y2="${f(y(b.ideal.minOverMean))}" ` +
      'stroke="#9aa3b2" stroke-dasharray="5 4"/>',
    `<polyline points="${pts.join(' ')}" fill="none" stroke="#4a7fd0" stroke-width="2"/>`,
    `<text x="${left}" y="${H - bottom + 16}">most loaded</text>`,
    `<text x="${W - 10}" y="${H - bottom + 16}" text-anchor="end">least loaded (server ${fmtInt(n)})</text>`,
    '</svg>',
  )
  return `${legend([
    ['#4a7fd0', `share/expected of each of ${fmtInt(n)} servers, sorted`],
    ['#1d2330', 'perfect balance (1)'],
    ['#9aa3b2', 'max and min of an ideal random assignment of as many keys'],
  ])}${out.join('')}`
}

function flowChart(flows: readonly Flow[], moved: number, touched: ReadonlySet<string>): string {
  const W = 1060
  const rowH = 22
  const left = 260
  const H = flows.length * rowH + 30
  const maxK = Math.max(...flows.map((fl) => fl.keys))
  const out: string[] = [svgOpen(W, H, 'Keys moved from one server to another, largest flows first')]
  flows.forEach((fl, i) => {
    const yy = 12 + i * rowH
    const w = ((W - left - 120) * fl.keys) / maxK
    const bad = !touched.has(fl.from) && !touched.has(fl.to)
    out.push(
      `<text x="${left - 8}" y="${yy + 14}" text-anchor="end">${esc(shorten(fl.from, 110))} → ${esc(shorten(fl.to, 110))}</text>`,
      `<rect x="${left}" y="${yy + 2}" width="${f(Math.max(1, w))}" height="${rowH - 6}" ` +
        `fill="${bad ? '#c62828' : '#4a7fd0'}"><title>${fmtInt(fl.keys)} keys</title></rect>`,
      `<text x="${f(left + w + 6)}" y="${yy + 14}">${fmtInt(fl.keys)} (${pct(fl.keys / moved, 1)})</text>`,
    )
  })
  out.push('</svg>')
  return `${legend([
    ['#4a7fd0', 'to or from a server the change touched'],
    ['#c62828', 'between two untouched servers (should never happen)'],
  ])}${out.join('')}`
}

function serverTable(r: SimulationResult): string {
  const after = new Map((r.after?.servers ?? []).map((s) => [s.id, s]))
  const ids = [...new Set([...r.balance.servers.map((s) => s.id), ...after.keys()])]
  const before = new Map(r.balance.servers.map((s) => [s.id, s]))
  const shown = ids.slice(0, 500)
  const hasAfter = r.after !== undefined
  const rows = shown.map((id) => {
    const b = before.get(id)
    const a = after.get(id)
    const s = b ?? a!
    const cells = [
      `<td class="l">${esc(id)}</td><td>${s.weight}</td><td class="l">${esc(s.zone ?? '-')}</td>`,
      b === undefined
        ? '<td>-</td><td>-</td><td>-</td>'
        : `<td>${fmtInt(b.keys)}</td><td>${pct(b.share, 3)}</td><td>${b.ratio.toFixed(4)}</td>`,
    ]
    if (hasAfter) {
      cells.push(
        a === undefined
          ? '<td>-</td><td>-</td><td>-</td>'
          : `<td>${fmtInt(a.keys)}</td><td>${pct(a.share, 3)}</td><td>${a.ratio.toFixed(4)}</td>`,
      )
    }
    return `<tr>${cells.join('')}</tr>`
  })
  const head =
    '<tr><th class="l">id</th><th>weight</th><th class="l">zone</th><th>keys</th><th>share</th><th>share/expected</th>' +
    `${hasAfter ? '<th>keys after</th><th>share after</th><th>share/expected after</th>' : ''}</tr>`
  const more =
    ids.length > shown.length ? `<p>${fmtInt(ids.length - shown.length)} more servers not listed.</p>` : ''
  return `<table>${head}${rows.join('')}</table>${more}`
}

function svgOpen(w: number, h: number, title: string): string {
  return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img"><title>${esc(title)}</title>`
}

function axisY(
  max: number,
  y: (v: number) => number,
  left: number,
  w: number,
  label: (v: number) => string,
  min = 0,
): string[] {
  const out: string[] = []
  for (let t = 0; t <= 4; t++) {
    const v = min + ((max - min) * t) / 4
    out.push(
      `<line x1="${left}" x2="${w - 10}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#eceff4"/>`,
      `<text x="${left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${label(v)}</text>`,
    )
  }
  return out
}

function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([c, t]) => `<span><i class="sw" style="background:${c}"></i>${esc(t)}</span>`).join('')}</div>`
}

function shorten(s: string, px: number): string {
  const max = Math.max(2, Math.floor(px / 6.5))
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function f(n: number): string {
  return n.toFixed(1)
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function pct(x: number, digits: number): string {
  return `${(x * 100).toFixed(digits)}%`
}
