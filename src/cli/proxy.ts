// `rendezvous proxy`: runs the RESP proxy in the foreground; SIGHUP reloads the config, SIGINT/SIGTERM stop it.
import type { Command } from 'commander'
import type { ServerConfig } from '../cluster/options.js'
import { createDashboard, type Dashboard } from '../dashboard/index.js'
import type { ApplyResult, MembershipChange } from '../dashboard/options.js'
import { loadProxyConfig, type ProxyConfig, parseAddress } from '../proxy/config.js'
import { createProxy, type ProxyOptions } from '../proxy/index.js'
import { closeOnSignals } from './signals.js'

/** Raw option values as commander hands them over. */
interface RawProxyOptions {
  listen?: string
  server: string[]
  config?: string
  mode?: string
  replicas?: string
  requirepass?: string
  timeout?: string
  allowFlush?: boolean
  dashboard?: string
}

function positiveInt(name: string, text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${name}: expected a positive integer, got "${text}"`)
  return n
}

/**
 * Builds the proxy options from the config file (when given) and the command line, which wins field by
 * field; `--server` replaces the file's servers. Errors name the option or the file and field.
 */
export async function proxyOptionsFromCli(raw: RawProxyOptions): Promise<ProxyConfig> {
  const base: ProxyConfig = raw.config === undefined ? { servers: [] } : await loadProxyConfig(raw.config)
  const out: { -readonly [K in keyof ProxyConfig]: ProxyConfig[K] } = { ...base }
  if (raw.listen !== undefined) {
    const { host, port } = parseAddress(raw.listen, '--listen', null, true)
    out.host = host
    out.port = port
  }
  if (raw.server.length > 0) {
    out.servers = raw.server.map((text): ServerConfig => {
      // host:port, optionally followed by ,id=..,weight=..,zone=..,password=..
      const [addr, ...fields] = text.split(',')
      const { host, port } = parseAddress(addr ?? '', '--server', null, false)
      const s: { -readonly [K in keyof ServerConfig]: ServerConfig[K] } = {
        id: `${host}:${port}`,
        host,
        port,
      }
      for (const f of fields) {
        const [k, v] = f.split('=', 2)
        if (v === undefined || v === '') throw new Error(`--server ${text}: expected key=value, got "${f}"`)
        if (k === 'id') s.id = v
        else if (k === 'zone') s.zone = v
        else if (k === 'password') s.password = v
        else if (k === 'weight') {
          const w = Number(v)
          if (!(w > 0) || !Number.isFinite(w))
            throw new Error(`--server ${text}: weight must be a positive number`)
          s.weight = w
        } else throw new Error(`--server ${text}: unknown field "${k}" (id, weight, zone, password)`)
      }
      return s
    })
  }
  if (out.servers.length === 0)
    throw new Error('give at least one --server host:port, or --config FILE with servers')
  if (raw.mode !== undefined) {
    if (raw.mode !== 'cache' && raw.mode !== 'store')
      throw new Error(`--mode: expected cache or store, got "${raw.mode}"`)
    out.mode = raw.mode
  }
  if (raw.replicas !== undefined) out.replicas = positiveInt('--replicas', raw.replicas)
  if (raw.timeout !== undefined) out.timeoutMs = positiveInt('--timeout', raw.timeout)
  if (raw.requirepass !== undefined) {
    if (raw.requirepass === '') throw new Error('--requirepass: expected a password, got ""')
    out.requirepass = raw.requirepass
  }
  if (raw.allowFlush === true) out.allowFlush = true
  return out
}

/** Adds the `proxy` subcommand to the `rendezvous` program. */
export function registerProxyCommand(program: Command): void {
  program
    .command('proxy')
    .description('Run a Redis-protocol proxy over a cluster of servers (any Redis client, any language)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:6400; port 0 picks one)')
    .option(
      '--server <host:port[,id=..,weight=..,zone=..,password=..]>',
      'a backend server (repeat for each)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--config <file>', 'config file (JSON or YAML subset, see docs/proxy.md); reloaded on SIGHUP')
    .option('--mode <mode>', 'cache (one copy, fenced) or store (replicated, versioned)')
    .option('--replicas <n>', 'store mode: copies of each value')
    .option('--timeout <ms>', 'hard timeout of every backend call')
    .option('--requirepass <password>', 'password clients must give with AUTH')
    .option('--allow-flush', 'serve FLUSHALL/FLUSHDB by flushing every backend')
    .option('--dashboard <port>', 'also serve the dashboard on 127.0.0.1:PORT (0 picks a free port)')
    .action(async (raw: RawProxyOptions) => {
      let options = await proxyOptionsFromCli(raw)
      const dashboardPort = raw.dashboard === undefined ? null : Number(raw.dashboard)
      if (dashboardPort !== null && !(/^\d+$/.test(raw.dashboard!) && dashboardPort <= 65535))
        throw new Error(`--dashboard: expected a port from 0 to 65535, got "${raw.dashboard}"`)
      const reload = async (): Promise<ProxyOptions> => proxyOptionsFromCli(raw)
      const proxy = createProxy({ ...options, log: (line) => console.log(line), reload })
      await proxy.listen()
      let dashboard: Dashboard | null = null
      if (dashboardPort !== null) {
        // Changes made on the dashboard go through a reload with the new server list, as `rendezvous up` does.
        const apply = async (
          _change: MembershipChange,
          next: readonly ServerConfig[],
        ): Promise<ApplyResult> => {
          await proxy.reload({ ...options, servers: [...next] })
          options = { ...options, servers: [...next] }
          return { migration: proxy.cluster.migration, servers: [...next] }
        }
        dashboard = createDashboard({ proxy, servers: options.servers, apply, port: dashboardPort })
        try {
          const where = await dashboard.listen()
          console.log(`dashboard on http://${where.host}:${where.port}/`)
        } catch (e) {
          await proxy.close()
          const inUse = (e as NodeJS.ErrnoException).code === 'EADDRINUSE'
          throw inUse ? new Error(`port ${dashboardPort} is already in use (proxy --dashboard)`) : e
        }
      }
      process.on('SIGHUP', () => {
        console.log('SIGHUP: reloading the configuration')
        reload()
          .then((o) => proxy.reload(o))
          .catch((err: unknown) =>
            console.error(`rendezvous: reload failed: ${err instanceof Error ? err.message : String(err)}`),
          )
      })
      closeOnSignals(async () => {
        await dashboard?.close()
        await proxy.close()
      })
    })
}
