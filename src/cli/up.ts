// `rendezvous up`: a local cluster (embedded nodes or real servers), the proxy and the dashboard, in one command.
import type { Command } from 'commander'
import type { ServerConfig } from '../cluster/options.js'
import { createDashboard, type Dashboard } from '../dashboard/index.js'
import type { ApplyResult, MembershipChange } from '../dashboard/options.js'
import { createNode, type NodeServer } from '../node/index.js'
import type { ProxyConfig } from '../proxy/config.js'
import { createProxy, type ProxyOptions, type RendezvousProxy } from '../proxy/index.js'
import { parseSize } from './node.js'
import { proxyOptionsFromCli } from './proxy.js'

/** Raw option values as commander hands them over. */
interface RawUpOptions {
  nodes: string
  port?: string
  dashboard: string
  mode?: string
  replicas?: string
  server: string[]
  config?: string
  maxmemory: string
}

/** A startup failure with the exit code to use (2: a port is taken or the command line is wrong). */
class UpError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode = 2) {
    super(message)
    this.exitCode = exitCode
  }
}

const HOST = '127.0.0.1'

function integerOption(name: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UpError(`${name}: expected an integer from ${min} to ${max}, got "${text}"`)
  }
  return n
}

/** Turns a listen error into a message naming the port and the option that chose it. */
function listenError(e: unknown, port: number, what: string): UpError {
  const code = (e as NodeJS.ErrnoException | null)?.code
  if (code === 'EADDRINUSE') return new UpError(`port ${port} is already in use (${what})`)
  if (code === 'EACCES') return new UpError(`port ${port} needs privileges to listen on (${what})`)
  return new UpError(`cannot listen on port ${port} (${what}): ${e instanceof Error ? e.message : String(e)}`)
}

/** Everything `up` started, so that it can all be stopped, in reverse order. */
class Running {
  readonly nodes = new Map<string, NodeServer>()
  proxy: RendezvousProxy | null = null
  dashboard: Dashboard | null = null

  async close(): Promise<void> {
    await this.dashboard?.close().catch(() => {})
    await this.proxy?.close().catch(() => {})
    await Promise.all([...this.nodes.values()].map((n) => n.close().catch(() => {})))
  }
}

/** Starts one embedded node on a free loopback port. */
async function startNode(maxmemory: number): Promise<NodeServer> {
  const node = createNode({ host: HOST, port: 0, maxmemory })
  await node.listen()
  return node
}

/** Starts everything; on any failure stops what already started and throws an {@link UpError}. */
async function up(raw: RawUpOptions, log: (line: string) => void): Promise<Running> {
  const external = raw.server.length > 0 || raw.config !== undefined
  const nodes = integerOption('--nodes', raw.nodes, 1, 64)
  const dashboardPort = integerOption('--dashboard', raw.dashboard, 0, 65535)
  const maxmemory = parseSize(raw.maxmemory)
  if (maxmemory === null) throw new UpError(`--maxmemory: expected a size like 64mb, got "${raw.maxmemory}"`)
  if (raw.mode !== undefined && raw.mode !== 'cache' && raw.mode !== 'store') {
    throw new UpError(`--mode: expected cache or store, got "${raw.mode}"`)
  }
  const replicas = raw.replicas === undefined ? undefined : integerOption('--replicas', raw.replicas, 1, 64)
  let config: ProxyConfig
  if (external) {
    try {
      config = await proxyOptionsFromCli({
        server: raw.server,
        ...(raw.config === undefined ? {} : { config: raw.config }),
        ...(raw.mode === undefined ? {} : { mode: raw.mode }),
        ...(raw.replicas === undefined ? {} : { replicas: raw.replicas }),
      })
    } catch (e) {
      throw new UpError(e instanceof Error ? e.message : String(e))
    }
  } else {
    config = {
      servers: [],
      ...(raw.mode === undefined ? {} : { mode: raw.mode as 'cache' | 'store' }),
      ...(replicas === undefined ? {} : { replicas: Math.min(replicas, nodes) }),
    }
  }
  const port = raw.port === undefined ? (config.port ?? 6400) : integerOption('--port', raw.port, 0, 65535)
  const portWhat =
    raw.port === undefined && config.port !== undefined ? 'proxy, "listen" in --config' : 'proxy --port'

  const running = new Running()
  try {
    let servers: ServerConfig[] = [...config.servers]
    if (!external) {
      for (let i = 1; i <= nodes; i++) {
        const node = await startNode(maxmemory)
        const id = `node-${i}`
        running.nodes.set(id, node)
        servers.push({ id, host: HOST, port: node.address!.port })
      }
    }
    let options: ProxyOptions = { ...config, servers, host: config.host ?? HOST, port }
    const proxy = createProxy({ ...options, log: () => {} })
    running.proxy = proxy
    try {
      await proxy.listen()
    } catch (e) {
      throw listenError(e, port, portWhat)
    }

    const apply = async (change: MembershipChange, next: readonly ServerConfig[]): Promise<ApplyResult> => {
      let target = [...next]
      let started: NodeServer | null = null
      if (change.op === 'add' && change.port === undefined) {
        if (external) throw new UpError('port: required to add a server in front of real servers')
        started = await startNode(maxmemory)
        const addr = started.address!
        target = target.map((s) => (s.id === change.id ? { ...s, host: HOST, port: addr.port } : s))
      }
      try {
        await proxy.reload({ ...options, servers: target })
      } catch (e) {
        await started?.close()
        throw e
      }
      options = { ...options, servers: target }
      servers = target
      if (started !== null) running.nodes.set(change.id, started)
      const migration = proxy.cluster.migration
      log(`dashboard: ${change.op} ${change.id}${migration === null ? '' : ` (migration #${migration.id})`}`)
      const leaving = change.op === 'remove' ? running.nodes.get(change.id) : undefined
      if (leaving !== undefined) {
        // Stop the embedded node once its keys are drained (a failed drain keeps it, keys stay readable).
        const stopWhenDrained = async () => {
          const r = migration === null ? null : await migration.done
          if (r !== null && r.status !== 'done') return
          if (servers.some((s) => s.id === change.id)) return
          running.nodes.delete(change.id)
          await leaving.close()
        }
        void stopWhenDrained().catch(() => {})
      }
      return { migration, servers: target }
    }

    const dashboard = createDashboard({
      proxy,
      servers,
      apply,
      canAddWithoutAddress: !external,
      host: HOST,
      port: dashboardPort,
    })
    running.dashboard = dashboard
    try {
      await dashboard.listen()
    } catch (e) {
      throw listenError(e, dashboardPort, 'dashboard --dashboard')
    }
    return running
  } catch (e) {
    await running.close()
    throw e instanceof UpError ? e : new UpError(e instanceof Error ? e.message : String(e), 1)
  }
}

/** What `up` prints once everything listens. */
function banner(running: Running, mode: string): string[] {
  const proxy = running.proxy!.address!
  const dash = running.dashboard!.address!
  const lines = [`rendezvous up: ${running.proxy!.cluster.servers.length} servers, ${mode} mode`, '']
  for (const [id, node] of running.nodes) {
    const a = node.address!
    lines.push(`  node       ${id.padEnd(10)} ${a.host}:${a.port}`)
  }
  if (running.nodes.size === 0) {
    for (const id of running.proxy!.cluster.servers) lines.push(`  server     ${id}`)
  }
  lines.push(
    `  proxy      ${proxy.host}:${proxy.port}`,
    `  dashboard  ${dash.url}`,
    `  metrics    ${dash.url}metrics`,
    '',
    `Connect with any Redis client:  redis-cli -p ${proxy.port}`,
    'Press Ctrl-C to stop.',
  )
  return lines
}

/** Adds the `up` subcommand to the `rendezvous` program. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Start a local cluster (embedded nodes, or --server real ones), the proxy and the dashboard')
    .option('--nodes <n>', 'embedded cache nodes to start', '3')
    .option('--port <port>', 'proxy port (default 6400; 0 picks a free one)')
    .option('--dashboard <port>', 'dashboard port (0 picks a free one)', '8080')
    .option('--mode <mode>', 'cache (one copy, fenced) or store (replicated, versioned)')
    .option('--replicas <n>', 'store mode: copies of each value')
    .option(
      '--server <host:port[,id=..,weight=..,zone=..,password=..]>',
      'front a real Redis/Valkey server instead of embedded nodes (repeat for each)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--config <file>', 'proxy config file with the servers (see docs/proxy.md)')
    .option('--maxmemory <size>', 'memory limit of each embedded node, e.g. 64mb', '64mb')
    .action(async (raw: RawUpOptions) => {
      let running: Running
      try {
        running = await up(raw, (line) => console.log(line))
      } catch (e) {
        console.error(`rendezvous up: ${e instanceof Error ? e.message : String(e)}`)
        process.exit(e instanceof UpError ? e.exitCode : 1)
      }
      for (const line of banner(running, running.proxy!.cluster.mode)) console.log(line)
      let stopping = false
      const stop = (signal: string) => {
        if (stopping) {
          console.log(`${signal} again: exiting now`)
          process.exit(1)
        }
        stopping = true
        console.log(`${signal}: stopping the dashboard, the proxy and the nodes`)
        running.close().then(
          () => {
            console.log('rendezvous up: stopped')
            process.exit(0)
          },
          (err: unknown) => {
            console.error(
              `rendezvous up: shutdown failed: ${err instanceof Error ? err.message : String(err)}`,
            )
            process.exit(1)
          },
        )
      }
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
    })
}
