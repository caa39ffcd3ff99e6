// Our cache node against redis-server in the same run: redis-benchmark throughput, then memory for 1M keys. A third
// server, the floor (resp-floor.mjs: fixed replies on Node's net API, no decoder or keyspace), shows what Node's own
// socket layer allows.
// Environment: BENCH_N (requests per redis-benchmark run, default 200000), BENCH_ROUNDS (alternating rounds per
// pipeline depth, default 5; the targets are judged on the median of the rounds' ratios), BENCH_KEYS (keys for the
// memory comparison, default 1000000).
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import { encodeCommand } from '../src/resp/encoder.js'
import { freePort } from '../test/cluster/servers.js'
import { cpuMicros, pairedMedian } from './proc.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_N ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000)
const MAXMEMORY = '1gb'
const POLICY = 'allkeys-lru'
const CLI = 'dist/cli/main.js'

for (const tool of ['redis-server', 'redis-benchmark']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.log(`${tool} is not installed (apt-get install redis-server redis-tools): skipping node-vs-redis`)
    process.exit(process.env.CI === 'true' ? 1 : 0)
  }
}
if (!existsSync(CLI)) {
  console.log(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`)
  process.exit(1)
}

interface Server {
  name: string
  port: number
  child: ChildProcess
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.end(encodeCommand(['PING']))
        s.once('data', () => resolve(true))
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nothing answers on port ${port}`)
}

async function startOurs(): Promise<Server> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [CLI, 'node', '--port', String(port), '--maxmemory', MAXMEMORY, '--maxmemory-policy', POLICY],
    { stdio: 'ignore' },
  )
  await waitReady(port)
  return { name: 'rendezvous', port, child }
}

async function startFloor(): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, ['bench/resp-floor.mjs', String(port)], { stdio: 'ignore' })
  await waitReady(port)
  return { name: 'node floor', port, child }
}

async function startRedis(): Promise<Server> {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory',
      MAXMEMORY,
      '--maxmemory-policy',
      POLICY,
    ],
    { stdio: 'ignore' },
  )
  await waitReady(port)
  return { name: 'redis-server', port, child }
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return
  const exited = new Promise((r) => s.child.once('exit', r))
  s.child.kill('SIGTERM')
  await exited
}

interface Result {
  /** Requests per second by test name (SET, GET). */
  rps: Record<string, number>
  /** Server CPU microseconds per request over the whole run (both tests). */
  cpuPerRequest: number
}

/** Runs redis-benchmark against `server`, measuring the server's CPU time meanwhile. */
async function benchmark(server: Server, pipeline: number): Promise<Result> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(server.port),
    '-c',
    '50',
    '-n',
    String(N),
    '-r',
    '100000',
    '-d',
    '64',
  ]
  const cpu0 = cpuMicros(server.child.pid!)
  const { stdout } = await run(
    'redis-benchmark',
    [...args, '-t', 'get,set', '-P', String(pipeline), '--csv'],
    {
      maxBuffer: 1 << 24,
    },
  )
  const cpu = cpuMicros(server.child.pid!) - cpu0
  const rps: Record<string, number> = {}
  for (const line of stdout.split('\n')) {
    const m = /^"([A-Z]+)","([\d.]+)"/.exec(line)
    if (m) rps[m[1]!] = Number(m[2])
  }
  return { rps, cpuPerRequest: cpu / (2 * N) }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? Number.NaN)
}

/** Loads KEYS distinct keys (`key:000000000042`, 64-byte values) with a pipelined loader; returns DBSIZE. */
async function load(port: number): Promise<number> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise((r) => socket.once('connect', r))
  const value = 'x'.repeat(64)
  const BATCH = 1000
  let pendingReplies = 0
  let received = ''
  let wake: (() => void) | null = null
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1')
    // Replies are `+OK\r\n` (or a final `:<n>\r\n`): count line ends.
    let idx = received.lastIndexOf('\n')
    if (idx === -1) return
    const done = received.slice(0, idx + 1).split('\n').length - 1
    received = received.slice(idx + 1)
    idx = 0
    pendingReplies -= done
    if (pendingReplies <= 0 && wake) wake()
  })
  for (let i = 0; i < KEYS; i += BATCH) {
    const parts: Buffer[] = []
    for (let j = i; j < Math.min(KEYS, i + BATCH); j++) {
      parts.push(encodeCommand(['SET', `key:${String(j).padStart(12, '0')}`, value]))
    }
    pendingReplies += parts.length
    const done = new Promise<void>((r) => {
      wake = r
    })
    socket.write(Buffer.concat(parts))
    await done
  }
  let dbsize = ''
  socket.removeAllListeners('data')
  socket.write(encodeCommand(['DBSIZE']))
  await new Promise<void>((r) =>
    socket.on('data', (d: Buffer) => {
      dbsize += d.toString()
      if (dbsize.endsWith('\r\n')) r()
    }),
  )
  socket.destroy()
  return Number(dbsize.slice(1))
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10)
const ratio = (a: number, b: number) => (a / b).toFixed(2).padStart(6)

async function main(): Promise<void> {
  console.log(
    `redis-benchmark -c 50 -n ${N} -r 100000 -d 64 -t get,set -P {1,16}; maxmemory ${MAXMEMORY} ${POLICY}`,
  )
  console.log(
    `${ROUNDS} alternating rounds per depth; req/s: best round; ratios: median over rounds of the two servers' ratio ` +
      'in that round (best/best beside it); cpu = server CPU time per request (median)',
  )
  const redis = await startRedis()
  const ours = await startOurs()
  const floor = await startFloor()
  const servers = { redis, ours, floor }
  type Who = keyof typeof servers
  const rows: Array<{
    name: string
    rps: Record<Who, number>
    cpu: Record<Who, number>
    /** Median over rounds of ours/redis and floor/redis. */
    paired: { ours: number; floor: number }
  }> = []
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  try {
    // A warm-up run, so that the JIT and the keyspace's first 100,000 keys are not measured.
    for (const s of [ours, redis, floor]) await benchmark(s, 16)
    for (const pipeline of [1, 16]) {
      const results: Record<Who, Result[]> = { redis: [], ours: [], floor: [] }
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate who goes first so that a noisy neighbour on the machine hurts all alike.
        const order: Who[] = ['redis', 'ours', 'floor']
        for (let i = 0; i < 3; i++) {
          const who = order[(round + i) % 3]!
          results[who].push(await benchmark(servers[who], pipeline))
        }
      }
      for (const t of ['SET', 'GET']) {
        const best = (who: Who) => Math.max(...results[who].map((r) => r.rps[t] ?? 0))
        const cpu = (who: Who) => median(results[who].map((r) => r.cpuPerRequest))
        const rps = (who: Who) => results[who].map((r) => r.rps[t] ?? 0)
        rows.push({
          name: `${t} -P ${pipeline}`,
          rps: { redis: best('redis'), ours: best('ours'), floor: best('floor') },
          cpu: { redis: cpu('redis'), ours: cpu('ours'), floor: cpu('floor') },
          paired: {
            ours: pairedMedian(rps('ours'), rps('redis')),
            floor: pairedMedian(rps('floor'), rps('redis')),
          },
        })
      }
    }
  } finally {
    for (const s of [redis, ours, floor]) await stop(s)
  }
  console.log(
    '\n| test      | rendezvous req/s | redis-server req/s | ours/redis | best/best | target      | node floor req/s | floor/redis | cpu us/req ours, redis, floor |',
  )
  console.log(
    '|-----------|------------------|--------------------|------------|-----------|-------------|------------------|-------------|-------------------------------|',
  )
  for (const r of rows) {
    const target = r.name.endsWith('-P 1') ? 0.9 : 0.6
    const verdict = r.paired.ours >= target ? 'met   ' : 'MISSED'
    const cpu = `${r.cpu.ours.toFixed(1)}, ${r.cpu.redis.toFixed(1)}, ${r.cpu.floor.toFixed(1)}`.padEnd(29)
    console.log(
      `| ${r.name.padEnd(9)} | ${fmt(r.rps.ours)}       | ${fmt(r.rps.redis)}         | ${r.paired.ours.toFixed(3).padStart(6)}     | ${ratio(r.rps.ours, r.rps.redis)}    | ${target}x ${verdict} | ${fmt(r.rps.floor)}       | ${r.paired.floor.toFixed(3).padStart(6)}      | ${cpu} |`,
    )
  }
  console.log(
    "node floor: fixed replies on Node's net API, no decoder or keyspace (bench/resp-floor.mjs); cpu counts all threads",
  )

  console.log(
    `\nmemory: ${KEYS.toLocaleString('en-US')} keys, 64-byte values, VmRSS after loading minus VmRSS at start`,
  )
  const mem: Array<[string, number, number]> = []
  for (const start of [startRedis, startOurs]) {
    const s = await start()
    try {
      await new Promise((r) => setTimeout(r, 300))
      const before = rssKb(s.child.pid!)
      const dbsize = await load(s.port)
      await new Promise((r) => setTimeout(r, 1000))
      const after = rssKb(s.child.pid!)
      if (dbsize !== KEYS) console.log(`  warning: ${s.name} holds ${dbsize} keys, expected ${KEYS}`)
      mem.push([s.name, before, after])
    } finally {
      await stop(s)
    }
  }
  for (const [name, before, after] of mem) {
    const mb = (after - before) / 1024
    console.log(
      `  ${name.padEnd(13)} baseline ${(before / 1024).toFixed(1)} MB, after ${(after / 1024).toFixed(1)} MB, data ${mb.toFixed(1)} MB (${((mb * 1024 * 1024) / KEYS).toFixed(0)} B/key)`,
    )
  }
  const [r, o] = mem
  const memRatio = (o![2] - o![1]) / (r![2] - r![1])
  console.log(`  ours/redis: ${memRatio.toFixed(2)}x (target <= 2x: ${memRatio <= 2 ? 'met' : 'MISSED'})`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
