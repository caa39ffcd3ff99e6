// `rendezvous node`: runs one cache node in the foreground until SIGINT or SIGTERM.
import type { Command } from 'commander'
import { createNode } from '../node/index.js'
import type { MaxmemoryPolicy, NodeOptions } from '../node/options.js'
import { closeOnSignals } from './signals.js'

/** Raw option values as commander hands them over (strings until validated here). */
interface RawNodeOptions {
  port: string
  bind: string
  maxmemory: string
  maxmemoryPolicy: string
  requirepass?: string
  maxclients: string
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
}

/**
 * Parses a memory size the way redis.conf does: `1k` = 1000, `1kb` = 1024, `1m`, `1mb`, `1g`, `1gb`, or plain
 * bytes; case-insensitive. Returns null when `text` is not such a size.
 */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([kmg]?b?)$/i.exec(text.trim())
  if (m === null) return null
  const unit = UNITS[m[2]!.toLowerCase()]
  if (unit === undefined) return null
  const n = Number(m[1]) * unit
  return Number.isSafeInteger(n) ? n : null
}

function integerOption(name: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`${name}: expected an integer from ${min} to ${max}, got "${text}"`)
  }
  return n
}

/** Turns the command line into {@link NodeOptions}; errors name the option, e.g. `--maxmemory: ...`. */
export function nodeOptionsFromCli(raw: RawNodeOptions): NodeOptions {
  const maxmemory = parseSize(raw.maxmemory)
  if (maxmemory === null) throw new Error(`--maxmemory: expected a size like 256mb, got "${raw.maxmemory}"`)
  if (raw.maxmemoryPolicy !== 'allkeys-lru' && raw.maxmemoryPolicy !== 'noeviction') {
    throw new Error(`--maxmemory-policy: expected allkeys-lru or noeviction, got "${raw.maxmemoryPolicy}"`)
  }
  if (raw.bind.trim() === '') throw new Error('--bind: expected an address, got ""')
  if (raw.requirepass !== undefined && raw.requirepass === '') {
    throw new Error('--requirepass: expected a password, got ""')
  }
  return {
    port: integerOption('--port', raw.port, 0, 65535),
    host: raw.bind,
    maxmemory,
    maxmemoryPolicy: raw.maxmemoryPolicy as MaxmemoryPolicy,
    // The environment keeps the secret out of `ps` output; the flag wins when both are given.
    requirepass: raw.requirepass ?? (process.env.RENDEZVOUS_REQUIREPASS || null),
    maxclients: integerOption('--maxclients', raw.maxclients, 1, 1_000_000),
  }
}

/** Adds the `node` subcommand to the `rendezvous` program. */
export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description(
      'Run a cache node speaking the Redis protocol (redis-cli, ioredis, node-redis work unchanged)',
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', '7379')
    .option('--bind <address>', 'address to listen on; only loopback by default', '127.0.0.1')
    .option('--maxmemory <size>', 'memory limit for the data, e.g. 256mb, 1gb (0 = no limit)', '256mb')
    .option('--maxmemory-policy <policy>', 'allkeys-lru or noeviction', 'allkeys-lru')
    .option('--requirepass <password>', 'require AUTH with this password (or set RENDEZVOUS_REQUIREPASS)')
    .option('--maxclients <n>', 'most simultaneous clients', '10000')
    .action(async (raw: RawNodeOptions) => {
      const options = nodeOptionsFromCli(raw)
      const node = createNode({ ...options, log: (line) => console.log(line) })
      await node.listen()
      closeOnSignals(() => node.close())
    })
}
