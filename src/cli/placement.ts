// The placement commands: `rendezvous route` (one key's ranking) and `rendezvous simulate` (balance, movement).
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { RendezvousError } from '../errors.js'
import { HierarchicalRendezvous } from '../placement/hierarchical.js'
import { type Placement, Rendezvous } from '../placement/rendezvous.js'
import type { ServerSpec } from '../placement/server.js'
import { bar, ProgressLine } from './progress.js'
import { renderHtmlReport } from './report.js'
import { Prng } from './sample.js'
import { type BalanceReport, type SimulationResult, simulate } from './simulate.js'

/** Exit code for bad command-line input (as opposed to 1 for failures while running). */
const USAGE_EXIT = 2
/** Servers listed one by one in the text output; more are summarised. */
const MAX_LISTED = 20

/** A bad option or argument: reported as one line naming it, with exit code 2. */
class UsageError extends RendezvousError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message)
    this.name = 'UsageError'
  }
}

/** Registers `route` and `simulate` on the program. */
export function registerPlacementCommands(program: Command): void {
  const route = program
    .command('route')
    .description("print a key's ranking: every server with its draw u and score (hash spec v1), best first")
    .argument('<key>', 'the key (UTF-8 text, or hex bytes with --hex)')
    .requiredOption('--servers <list>', 'servers as id[:weight][@zone], comma-separated, e.g. a,b:2,c@z1')
    .option('--hex', 'read KEY as hex bytes, e.g. 00ff1a')
    .option('--json', 'print JSON instead of a table')
  route.action((key: string, opts: RouteOptions) => runRoute(route, key, opts))

  const sim = program
    .command('simulate')
    .description('place generated keys and print balance, and key movement when a change is given')
    .option('--servers <n|list>', 'a server count (ids s0..sN-1) or a list id[:weight][@zone],...', '10')
    .option('--weights <list>', 'weights in server order (w1,w2,...; one value for all) or random:LO-HI')
    .option('--keys <n>', 'number of keys (user: + 8-12 random characters)', '100000')
    .option('--add <id[:w][@zone]>', 'change: add a server')
    .option('--remove <id>', 'change: remove a server')
    .option('--reweight <id=w>', "change: set a server's weight")
    .option('--seed <n>', 'seed of the key generator (and of random weights)', '1')
    .option('--hierarchical', 'use HierarchicalRendezvous instead of flat Rendezvous')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--json', 'print JSON instead of text')
  sim.action((opts: SimulateOptions) => runSimulate(sim, opts))

  for (const cmd of [route, sim]) {
    cmd.showHelpAfterError(`(run "rendezvous ${cmd.name()} --help" for usage)`)
    // Commander's own parse errors (unknown option, missing value) exit with 1; bad input is 2 here.
    cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT))
  }
}

interface RouteOptions {
  servers: string
  hex?: boolean
  json?: boolean
}

interface SimulateOptions {
  servers: string
  weights?: string
  keys: string
  add?: string
  remove?: string
  reweight?: string
  seed: string
  hierarchical?: boolean
  html?: string
  json?: boolean
}

function runRoute(cmd: Command, keyArg: string, opts: RouteOptions): void {
  usageErrors(cmd, () => {
    const servers = parseServerList(opts.servers, '--servers')
    const key = opts.hex ? parseHex(keyArg) : keyArg
    const placement = new Rendezvous(servers)
    const rows = placement.scores(key).map((s, i) => {
      const server = placement.get(s.id)!
      return {
        rank: i + 1,
        id: s.id,
        weight: server.weight,
        zone: server.zone ?? null,
        u: s.u,
        score: s.score,
      }
    })
    const bytes = typeof key === 'string' ? Buffer.byteLength(key, 'utf8') : key.length
    if (opts.json) {
      const keyOut = typeof key === 'string' ? { key } : { keyHex: Buffer.from(key).toString('hex') }
      // Scores are +Infinity only for u = 1 exactly; JSON has no infinity, so write it as a string.
      const json = rows.map((r) => ({ ...r, score: Number.isFinite(r.score) ? r.score : 'Infinity' }))
      out(`${JSON.stringify({ ...keyOut, bytes, ranking: json }, null, 2)}\n`)
      return
    }
    const shown = typeof key === 'string' ? JSON.stringify(key) : `0x${Buffer.from(key).toString('hex')}`
    out(`key ${shown} (${bytes} bytes), ${rows.length} server${rows.length === 1 ? '' : 's'}\n`)
    out(
      table(
        ['rank', 'id', 'weight', 'zone', 'u', 'score'],
        rows.map((r) => [
          String(r.rank),
          r.id,
          fmtNum(r.weight),
          r.zone ?? '-',
          r.u.toFixed(17),
          r.score >= 1e6 ? r.score.toExponential(9) : r.score.toFixed(10),
        ]),
        'rlrlrr',
      ),
    )
  })
}

function runSimulate(cmd: Command, opts: SimulateOptions): void {
  usageErrors(cmd, () => {
    const keys = parsePositiveInt(opts.keys, '--keys')
    const seed = parseNonNegativeInt(opts.seed, '--seed')
    // A number is a count (it must then be a positive integer); anything else is a list of ids.
    let servers = /^\s*[-+]?[\d.]+(e[-+]?\d+)?\s*$/i.test(opts.servers)
      ? Array.from(
          { length: parsePositiveInt(opts.servers, '--servers') },
          (_, i): ServerSpec => ({ id: `s${i}` }),
        )
      : parseServerList(opts.servers, '--servers')
    if (opts.weights !== undefined) servers = applyWeights(servers, opts.weights, seed)
    const make = (list: readonly ServerSpec[]): Placement =>
      opts.hierarchical ? new HierarchicalRendezvous(list) : new Rendezvous(list)
    const before = make(servers)
    const { after, change } = applyChange(before, opts)
    const result = simulate(
      {
        before,
        after,
        change,
        keys,
        seed,
        strategy: opts.hierarchical ? 'HierarchicalRendezvous' : 'Rendezvous (flat)',
      },
      progressBar(keys, after === undefined ? 1 : 2),
    )
    if (opts.html !== undefined) {
      try {
        writeFileSync(opts.html, renderHtmlReport(result))
      } catch (err) {
        throw new UsageError(`--html: cannot write "${opts.html}": ${(err as Error).message}`)
      }
    }
    if (opts.json) out(`${JSON.stringify(result, null, 2)}\n`)
    else out(formatSimulation(result, opts.html))
  })
}

/** Runs `fn`, turning bad input (ours or the library's `TypeError`s) into a one-line error and exit code 2. */
function usageErrors(cmd: Command, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (err instanceof UsageError || err instanceof TypeError) {
      cmd.error(`error: ${err.message}`, { exitCode: USAGE_EXIT, code: 'rendezvous.usage' })
    }
    throw err
  }
}

// --- parsing -------------------------------------------------------------------------------------------------

/** Parses `id[:weight][@zone],...`; `what` names the option in errors. */
function parseServerList(text: string, what: string): ServerSpec[] {
  const out: ServerSpec[] = []
  const seen = new Set<string>()
  for (const entry of text.split(',')) {
    if (entry.trim() === '') throw new UsageError(`${what}: empty entry in "${text}"`)
    const s = parseServer(entry.trim(), what)
    if (seen.has(s.id)) throw new UsageError(`${what}: duplicate id "${s.id}"`)
    seen.add(s.id)
    out.push(s)
  }
  return out
}

function parseServer(entry: string, what: string): ServerSpec {
  const m = /^([^:@]*)(?::([^@]*))?(?:@(.*))?$/.exec(entry)
  const id = m?.[1] ?? ''
  if (id === '') throw new UsageError(`${what}: expected id[:weight][@zone], got "${entry}"`)
  const weight = m?.[2] === undefined ? undefined : parseWeight(m[2], `${what}: weight of "${id}"`)
  const zone = m?.[3]
  if (zone === '') throw new UsageError(`${what}: empty zone for "${id}"`)
  return { id, ...(weight === undefined ? {} : { weight }), ...(zone === undefined ? {} : { zone }) }
}

function parseWeight(text: string, what: string): number {
  const w = text.trim() === '' ? Number.NaN : Number(text)
  if (!Number.isFinite(w) || w <= 0)
    throw new UsageError(`${what}: expected a positive number, got "${text}"`)
  return w
}

function parsePositiveInt(text: string, what: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`${what}: expected a positive integer, got "${text}"`)
  return n
}

function parseNonNegativeInt(text: string, what: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${what}: expected a non-negative integer, got "${text}"`)
  return n
}

function parseHex(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '')
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new UsageError(`KEY: expected hex bytes with --hex (e.g. 00ff1a), got "${text}"`)
  }
  return new Uint8Array(Buffer.from(clean, 'hex'))
}

/** `--weights`: a list (one per server, or one for all) or `random:LO-HI` (integers if both bounds are). */
function applyWeights(servers: ServerSpec[], spec: string, seed: number): ServerSpec[] {
  if (servers.some((s) => s.weight !== undefined)) {
    throw new UsageError('--weights: cannot be combined with weights given in --servers')
  }
  const random = /^random:([^-]+)-(.+)$/.exec(spec.trim())
  if (random) {
    const lo = parseWeight(random[1]!, '--weights: random lower bound')
    const hi = parseWeight(random[2]!, '--weights: random upper bound')
    if (hi < lo) throw new UsageError(`--weights: random range is empty, got "${spec}"`)
    const ints = Number.isInteger(lo) && Number.isInteger(hi)
    const rng = new Prng(seed ^ 0x3e16b7)
    return servers.map((s) => ({
      ...s,
      weight: ints ? lo + rng.below(hi - lo + 1) : lo + rng.next() * (hi - lo),
    }))
  }
  if (spec.startsWith('random')) throw new UsageError(`--weights: expected random:LO-HI, got "${spec}"`)
  const list = spec.split(',').map((w, i) => parseWeight(w, `--weights: weight #${i + 1}`))
  if (list.length !== 1 && list.length !== servers.length) {
    throw new UsageError(
      `--weights: expected 1 or ${servers.length} weights, got ${list.length} in "${spec}"`,
    )
  }
  return servers.map((s, i) => ({ ...s, weight: list.length === 1 ? list[0]! : list[i]! }))
}

/** Applies --add, --remove and --reweight (in that order) and describes the change. */
function applyChange(before: Placement, opts: SimulateOptions): { after?: Placement; change?: string } {
  let after: Placement | undefined
  const steps: string[] = []
  if (opts.add !== undefined) {
    const s = parseServer(opts.add.trim(), '--add')
    if (before.get(s.id) !== undefined) throw new UsageError(`--add: server "${s.id}" is already present`)
    after = before.add(s)
    steps.push(`add ${s.id}${s.weight === undefined ? '' : ` (weight ${s.weight})`}`)
  }
  if (opts.remove !== undefined) {
    const id = opts.remove.trim()
    const base = after ?? before
    if (base.get(id) === undefined) {
      throw new UsageError(`--remove: no server with id "${id}" (ids: ${idSample(base)})`)
    }
    if (base.size === 1) throw new UsageError(`--remove: cannot remove "${id}", the only server`)
    after = base.remove(id)
    steps.push(`remove ${id}`)
  }
  if (opts.reweight !== undefined) {
    const m = /^([^=]+)=(.*)$/.exec(opts.reweight.trim())
    if (!m) throw new UsageError(`--reweight: expected ID=WEIGHT, got "${opts.reweight}"`)
    const id = m[1]!
    const weight = parseWeight(m[2]!, `--reweight: weight of "${id}"`)
    const base = after ?? before
    const old = base.get(id)
    if (old === undefined)
      throw new UsageError(`--reweight: no server with id "${id}" (ids: ${idSample(base)})`)
    after = base.setWeight(id, weight)
    steps.push(`reweight ${id} ${fmtNum(old.weight)} -> ${fmtNum(weight)}`)
  }
  return after === undefined ? {} : { after, change: steps.join(', ') }
}

function idSample(p: Placement): string {
  const ids = p.servers.slice(0, 5).map((s) => s.id)
  return p.size > 5 ? `${ids.join(', ')}, ... ${p.servers[p.size - 1]!.id}` : ids.join(', ')
}

// --- output --------------------------------------------------------------------------------------------------

function out(text: string): void {
  process.stdout.write(text)
}

/**
 * A progress bar on stderr for runs longer than half a second, drawn only when stderr is a terminal (so
 * pipes and logs never see carriage returns). Returns undefined when there is nothing to draw.
 */
function progressBar(keys: number, passes: number): ((done: number) => void) | undefined {
  const line = new ProgressLine()
  if (!line.active) return undefined
  const start = performance.now()
  return (done) => {
    if (done >= keys) {
      line.done()
      return
    }
    line.update(() => {
      const secs = (performance.now() - start) / 1000
      const rate = (done * passes) / secs
      const eta = (keys - done) / (done / secs)
      return `${bar(done / keys)} ${fmtInt(done)}/${fmtInt(keys)} keys, ${fmtRate(rate)} lookups/s, ${eta.toFixed(0)}s left`
    })
  }
}

function formatSimulation(r: SimulationResult, html: string | undefined): string {
  const lines: string[] = []
  const n = r.balance.servers.length
  lines.push(
    `${r.strategy}: ${n} servers, ${fmtInt(r.keys)} keys (user: + 8-12 random characters, seed ${r.seed}), ` +
      `${(r.elapsedMs / 1000).toFixed(2)}s`,
  )
  lines.push('', r.after === undefined ? 'balance' : 'balance before the change', ...formatBalance(r.balance))
  if (r.movement !== undefined && r.after !== undefined) {
    const m = r.movement
    lines.push('', `movement: ${r.change}`)
    lines.push(
      `  moved           ${fmtInt(m.moved)} of ${fmtInt(m.keys)} keys (${pct(m.fraction, 3)})`,
      `  optimal         ${pct(m.optimalFraction, 3)} (the least any placement must move)`,
      `  moved/optimal   ${Number.isNaN(m.ratio) ? 'n/a (nothing had to move)' : m.ratio.toFixed(4)}`,
      `  between untouched servers  ${fmtInt(m.betweenUntouched)} keys`,
    )
    if (m.flows.length > 0) {
      lines.push(`  top flows (${fmtInt(m.flows.length)} in all):`)
      const top = m.flows.slice(0, 10)
      lines.push(
        ...indent(
          table(
            ['from', '', 'to', 'keys', 'of moved'],
            top.map((f) => [f.from, '->', f.to, fmtInt(f.keys), pct(f.keys / m.moved, 1)]),
            'lllrr',
          ),
          4,
        ),
      )
    }
    lines.push('', 'balance after the change', ...formatBalance(r.after))
  }
  if (html !== undefined) lines.push('', `HTML report written to ${html}`)
  return `${lines.join('\n')}\n`
}

function formatBalance(b: BalanceReport): string[] {
  const lines = [
    `  max/mean ${b.maxOverMean.toFixed(4)}   min/mean ${b.minOverMean.toFixed(4)}   ` +
      `stddev of shares ${b.stddevShare.toExponential(2)}   stddev of share/expected ${pct(b.stddevRatio, 2)}`,
    `  ideal random assignment of as many keys: max/mean ${b.ideal.maxOverMean.toFixed(4)}   ` +
      `min/mean ${b.ideal.minOverMean.toFixed(4)}`,
  ]
  const hasZones = b.servers.some((s) => s.zone !== undefined)
  const row = (s: BalanceReport['servers'][number]): string[] => [
    s.id,
    fmtNum(s.weight),
    ...(hasZones ? [s.zone ?? '-'] : []),
    fmtInt(s.keys),
    pct(s.share, 3),
    pct(s.expected, 3),
    s.ratio.toFixed(4),
  ]
  const head = ['id', 'weight', ...(hasZones ? ['zone'] : []), 'keys', 'share', 'expected', 'share/expected']
  const align = hasZones ? 'lrlrrrr' : 'lrrrrr'
  if (b.servers.length <= MAX_LISTED) {
    lines.push(...indent(table(head, b.servers.map(row), align), 2))
    return lines
  }
  const sorted = [...b.servers].sort((x, y) => y.ratio - x.ratio)
  const ratios = sorted.map((s) => s.ratio).reverse()
  const q = (p: number) => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))]!.toFixed(4)
  lines.push(
    `  share/expected over ${fmtInt(b.servers.length)} servers: min ${q(0)}  p1 ${q(0.01)}  p10 ${q(0.1)}  ` +
      `median ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  max ${ratios[ratios.length - 1]!.toFixed(4)}`,
    `  the ${MAX_LISTED / 2} most and ${MAX_LISTED / 2} least loaded:`,
  )
  const shown = [...sorted.slice(0, MAX_LISTED / 2), ...sorted.slice(-MAX_LISTED / 2)]
  const rows = shown.map(row)
  rows.splice(
    MAX_LISTED / 2,
    0,
    head.map(() => '...'),
  )
  lines.push(...indent(table(head, rows, align), 2))
  return lines
}

/** Aligns columns: `align` has one letter per column, l or r. */
function table(head: string[], rows: string[][], align: string): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  return `${[head, ...rows].map(line).join('\n')}\n`
}

function indent(text: string, n: number): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)))
}

function fmtRate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)}M` : `${(perSecond / 1e3).toFixed(0)}k`
}

function pct(x: number, digits: number): string {
  return `${(x * 100).toFixed(digits)}%`
}
