// `rendezvous servers|add|remove|reweight`: membership changes on a running proxy, waiting with a progress bar.
import type { Command, CommanderError } from 'commander'
import { Redis } from 'ioredis'
import type { MigrationProgress } from '../cluster/migration.js'
import { parseAddress } from '../proxy/config.js'
import { bar, formatDuration, ProgressLine } from './progress.js'

/** Exit code for bad command-line input (1 is for failures while running). */
const USAGE_EXIT = 2
/** How often the migration is polled while waiting, in ms. */
const POLL_MS = 250
/** When stderr is not a terminal: one progress line this often, in ms. */
const LINE_EVERY_MS = 5000

/** Options every membership subcommand takes. */
interface ProxyOpts {
  proxy: string
  password?: string
  wait: boolean
}

interface AddOpts extends ProxyOpts {
  weight?: string
  zone?: string
}

/** A failure while running (the proxy unreachable, a refused change, a failed migration): exit code 1. */
class RunError extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
  override get name(): string {
    return 'RunError'
  }
}

/** A reply of `PROXY MIGRATION`, decoded from its flat RESP2 array: a migration's progress and what it is. */
interface MigrationState extends Omit<MigrationProgress, 'phase'> {
  /** The phase while it runs, its result's status once over, `none` when no migration has run. */
  readonly state: string
  readonly id: number | null
  readonly op: string | null
  readonly server: string | null
  readonly next: number | null
}

const RUNNING = new Set(['warm-up', 'scanning'])

/**
 * Registers `servers`, `add`, `remove` and `reweight`: each talks to a running `rendezvous proxy` (its `PROXY`
 * commands, see docs/proxy.md), and the changes wait for their migration with a progress bar on stderr.
 */
export function registerMemberCommands(program: Command): void {
  const common = (cmd: Command, wait: boolean): Command => {
    cmd
      .option('--proxy <host:port>', 'the proxy to talk to', '127.0.0.1:6400')
      .option('--password <password>', "the proxy's requirepass (default: env RENDEZVOUS_PASSWORD)")
      .exitOverride(usageExit)
    if (wait) cmd.option('--no-wait', 'return once the change started, without waiting for the migration')
    return cmd
  }

  const servers = common(program.command('servers'), false)
    .description('list the servers of a running proxy: id, address, weight, zone, health')
    .option('--json', 'print JSON instead of a table')
  servers.action((opts: ProxyOpts & { json?: boolean }) =>
    run(servers, opts, (r) => listServers(r, opts.json)),
  )

  const add = common(program.command('add'), true)
    .description('add a server to a running proxy; its keys migrate to it')
    .argument('<id>', "the new server's id (its placement identity)")
    .argument('<host:port>', 'its address')
    .option('--weight <w>', 'its weight, a positive number (default 1)')
    .option('--zone <zone>', 'its failure domain (replicas go to distinct zones first)')
  add.action((id: string, address: string, opts: AddOpts) => {
    const args = ['ADD', nonEmpty(add, id, 'ID'), checkAddress(add, address)]
    if (opts.weight !== undefined) args.push('WEIGHT', String(checkWeight(add, opts.weight, '--weight')))
    if (opts.zone !== undefined) args.push('ZONE', nonEmpty(add, opts.zone, '--zone'))
    return run(add, opts, (r) => change(r, args, opts.wait))
  })

  const remove = common(program.command('remove'), true)
    .description('remove a server from a running proxy gracefully: its keys are drained to the others first')
    .argument('<id>', "the server's id")
  remove.action((id: string, opts: ProxyOpts) =>
    run(remove, opts, (r) => change(r, ['REMOVE', nonEmpty(remove, id, 'ID')], opts.wait)),
  )

  const reweight = common(program.command('reweight'), true)
    .description('change the weight of a server of a running proxy; keys move to or from it only')
    .argument('<id>', "the server's id")
    .argument('<weight>', 'its new weight, a positive number')
  reweight.action((id: string, weight: string, opts: ProxyOpts) => {
    const args = ['WEIGHT', nonEmpty(reweight, id, 'ID'), String(checkWeight(reweight, weight, 'WEIGHT'))]
    return run(reweight, opts, (r) => change(r, args, opts.wait))
  })
}

// --- arguments -----------------------------------------------------------------------------------------------

/** Commander's own usage errors (unknown option, missing argument) exit 2 like ours; help and version exit 0. */
function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? USAGE_EXIT : err.exitCode)
}

function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: USAGE_EXIT, code: 'rendezvous.usage' })
}

function nonEmpty(cmd: Command, text: string, what: string): string {
  if (text.trim() === '') usage(cmd, `${what}: must not be empty`)
  return text
}

function checkWeight(cmd: Command, text: string, what: string): number {
  const w = text.trim() === '' ? Number.NaN : Number(text)
  if (!Number.isFinite(w) || w <= 0) usage(cmd, `${what}: expected a positive number, got "${text}"`)
  return w
}

function checkAddress(cmd: Command, text: string): string {
  try {
    const { host, port } = parseAddress(text, 'HOST:PORT', null, false)
    return `${host.includes(':') ? `[${host}]` : host}:${port}`
  } catch (e) {
    usage(cmd, (e as Error).message)
  }
}

// --- talking to the proxy ------------------------------------------------------------------------------------

/** Connects to the proxy, runs `fn`, and turns failures into a one-line message and an exit code. */
async function run(cmd: Command, opts: ProxyOpts, fn: (r: Redis) => Promise<void>): Promise<void> {
  let address: { host: string; port: number }
  try {
    address = parseAddress(opts.proxy, '--proxy', null, false)
  } catch (e) {
    usage(cmd, (e as Error).message)
  }
  if (opts.password === '') usage(cmd, '--password: expected a password, got ""')
  const password = opts.password ?? process.env.RENDEZVOUS_PASSWORD
  const redis = new Redis({
    host: address.host,
    port: address.port,
    protocol: 2,
    lazyConnect: true,
    enableReadyCheck: false,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  redis.on('error', () => {}) // each failure also rejects the call that met it; reported there
  try {
    try {
      await redis.connect()
    } catch (e) {
      throw new RunError(`cannot reach the proxy at ${opts.proxy} (--proxy): ${message(e)}`)
    }
    if (password !== undefined && password !== '') {
      try {
        await redis.call('AUTH', [password])
      } catch (e) {
        throw new RunError(
          `the proxy refused the password (--password or RENDEZVOUS_PASSWORD): ${message(e)}`,
        )
      }
    }
    await fn(redis)
  } catch (e) {
    const text = message(e)
    if (/NOAUTH/.test(text)) {
      console.error(
        `rendezvous ${cmd.name()}: the proxy requires a password: give --password or set RENDEZVOUS_PASSWORD (${text})`,
      )
    } else console.error(`rendezvous ${cmd.name()}: ${text}`)
    process.exitCode = e instanceof RunError ? e.exitCode : 1
  } finally {
    redis.disconnect()
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** Decodes a flat `[key, value, ...]` array (a RESP3 map sent as RESP2) into an object. */
function record(reply: unknown): Record<string, unknown> {
  if (!Array.isArray(reply)) throw new RunError(`unexpected reply from the proxy: ${String(reply)}`)
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1]
  return out
}

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v)
}

async function migration(r: Redis, id: number | null): Promise<MigrationState> {
  const m = record(await r.call('PROXY', id === null ? ['MIGRATION'] : ['MIGRATION', id]))
  return {
    state: str(m.state) ?? 'none',
    id: num(m.id),
    op: str(m.op),
    server: str(m.server),
    scanned: num(m.scanned) ?? 0,
    total: num(m.total),
    moved: num(m.moved) ?? 0,
    deleted: num(m.deleted) ?? 0,
    bytes: num(m.bytes) ?? 0,
    errors: num(m.errors) ?? 0,
    elapsedMs: num(m.elapsedMs) ?? 0,
    etaMs: num(m.etaMs),
    rate: num(m.rate) ?? 0,
    next: num(m.next),
  }
}

async function listServers(r: Redis, json: boolean | undefined): Promise<void> {
  const reply = await r.call('PROXY', ['SERVERS'])
  if (!Array.isArray(reply)) throw new RunError(`unexpected reply from the proxy: ${String(reply)}`)
  const rows = reply.map(record)
  const m = await migration(r, null)
  if (json) {
    process.stdout.write(`${JSON.stringify({ servers: rows, migration: m }, null, 2)}\n`)
    return
  }
  const table = [
    ['ID', 'ADDRESS', 'WEIGHT', 'ZONE', 'HEALTH'],
    ...rows.map((s) => [
      String(s.id),
      `${String(s.host)}:${String(s.port)}`,
      String(s.weight),
      str(s.zone) ?? '-',
      String(s.health),
    ]),
  ]
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)))
  const lines = table.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  )
  if (RUNNING.has(m.state)) lines.push('', `migration: ${describe(m)}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** Sends one PROXY change; unless `--no-wait`, follows its migration to the end. */
async function change(r: Redis, args: string[], wait: boolean): Promise<void> {
  try {
    await r.call('PROXY', args)
  } catch (e) {
    // The proxy names the problem (unknown or duplicate id, bad weight or address, a server that does not
    // answer): a bad argument, hence the usage exit code.
    throw new RunError(`the proxy refused the change: ${message(e)}`, USAGE_EXIT)
  }
  const what = `${args[0]!.toLowerCase()} ${args[1]!}`
  if (!wait) {
    process.stdout.write(`${what}: started; follow it with \`rendezvous servers\` (migration line)\n`)
    return
  }
  const end = await follow(r, what)
  const summary =
    `scanned ${fmtInt(end.scanned)} keys, moved ${fmtInt(end.moved)} (${fmtBytes(end.bytes)}), ` +
    `deleted ${fmtInt(end.deleted)}, ${fmtInt(end.errors)} errors, in ${formatDuration(end.elapsedMs)}`
  if (end.state === 'done') {
    process.stdout.write(`${what}: done: ${summary}\n`)
    return
  }
  if (end.state === 'failed') {
    throw new RunError(
      `${what}: the migration failed: ${summary}. The membership change stands; keys that were not copied stay ` +
        'on their previous servers, where reads still find them. See the proxy log and `rendezvous servers`.',
    )
  }
  throw new RunError(
    `${what}: the migration ended ${end.state} (the proxy was closed or reloaded meanwhile): ${summary}`,
  )
}

/**
 * Polls `PROXY MIGRATION` until the migration started by the change ends, following the chain when another
 * change (or a server going down) superseded it: the successor covers the keys it had not moved.
 */
async function follow(r: Redis, what: string): Promise<MigrationState> {
  const line = new ProgressLine({ lineEveryMs: LINE_EVERY_MS })
  const onSignal = () => {
    line.done()
    console.error(
      `rendezvous: stopped waiting; the migration goes on in the proxy (see \`rendezvous servers\`)`,
    )
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  try {
    let m = await migration(r, null)
    for (;;) {
      if (m.state === 'none' || m.id === null) return m
      if (m.state === 'superseded' && m.next !== null) {
        m = await migration(r, m.next)
        continue
      }
      if (!RUNNING.has(m.state)) return m
      const shown = m
      line.update(() => describe(shown))
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      try {
        m = await migration(r, m.id)
      } catch (e) {
        throw new RunError(
          `${what}: lost track of the migration: ${message(e)}; it goes on in the proxy (see \`rendezvous servers\`)`,
        )
      }
    }
  } finally {
    process.off('SIGINT', onSignal)
    line.done()
  }
}

/** One progress line: the bar, keys scanned of total, moved, MB and ETA (or the warm-up). */
function describe(m: MigrationState): string {
  const head = m.op === null ? '' : `${m.op}${m.server === null ? '' : ` ${m.server}`}, `
  if (m.state === 'warm-up') {
    return `${head}warm-up for ${formatDuration(m.elapsedMs)} (misses on new owners ask the previous ones)`
  }
  const frac = m.total === null || m.total === 0 ? 0 : m.scanned / m.total
  const of = m.total === null ? '' : `/${fmtInt(m.total)}`
  const eta = m.etaMs === null ? '' : `, ETA ${formatDuration(m.etaMs)}`
  return (
    `${bar(frac, 24)} ${head}${fmtInt(m.scanned)}${of} keys scanned, ${fmtInt(m.moved)} moved, ` +
    `${fmtBytes(m.bytes)}, ${fmtInt(m.rate)} keys/s${eta}${m.errors > 0 ? `, ${fmtInt(m.errors)} errors` : ''}`
  )
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function fmtBytes(n: number): string {
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`
}
