// Migration throughput (keys/s, MB/s) over local redis-servers, and origin load during a cache-mode join.
import { Cluster } from '../src/cluster/index.js'
import { startRedis } from '../test/cluster/servers.js'

const KEYS = Number(process.env.BENCH_MIGRATION_KEYS ?? 1_000_000)
const VALUE = 'x'.repeat(100)
const CACHE_KEYS = 20_000

/** Store mode, 3 servers -> 4: load `KEYS` keys, add a server, time the migration. */
async function throughput(replicas: number, ports: number[]) {
  const cluster = new Cluster({
    servers: ports.slice(0, 3).map((port, i) => ({ id: `m${i}`, port })),
    mode: 'store',
    replicas,
    timeoutMs: 10_000,
    migrationRate: Number.POSITIVE_INFINITY,
    migrationBatchSize: 1000,
  })
  const t0 = performance.now()
  const BATCH = 5000
  const inflight: Promise<void>[] = []
  for (let i = 0; i < KEYS; i += BATCH) {
    const n = Math.min(BATCH, KEYS - i)
    inflight.push(cluster.mset(Array.from({ length: n }, (_, j) => [`mk:${i + j}`, VALUE] as const)))
    if (inflight.length >= 4) await inflight.shift()
  }
  await Promise.all(inflight)
  const loadS = (performance.now() - t0) / 1000
  const m = cluster.addServer({ id: 'm3', port: ports[3]! })
  const r = await m.done
  const s = r.elapsedMs / 1000
  await cluster.close()
  return {
    replicas,
    loadS,
    status: r.status,
    seconds: s,
    scanned: r.scanned,
    moved: r.moved,
    deleted: r.deleted,
    scannedPerS: r.scanned / s,
    movedPerS: r.moved / s,
    mbPerS: r.bytes / s / 1e6,
  }
}

/** Cache mode: steady reads over 3 servers, then a 4th joins; peak loader calls per 100 ms window, as calls/s. */
async function originLoad(warmUpMs: number, ports: number[]) {
  const windows = new Map<number, number>()
  const start = performance.now()
  let calls = 0
  const cluster = new Cluster({
    servers: ports.slice(0, 3).map((port, i) => ({ id: `c${i}`, port })),
    mode: 'cache',
    warmUpMs,
    timeoutMs: 5000,
    loader: async (k) => {
      calls++
      const w = Math.floor((performance.now() - start) / 100)
      windows.set(w, (windows.get(w) ?? 0) + 1)
      return `origin:${k}`
    },
  })
  const keys = Array.from({ length: CACHE_KEYS }, (_, i) => `ck:${i}`)
  for (let i = 0; i < keys.length; i += 2000) await cluster.mget(keys.slice(i, i + 2000))
  const before = calls
  let stop = false
  let reads = 0
  const readers = Promise.all(
    Array.from({ length: 32 }, async (_, w) => {
      for (let n = 0; !stop; n++) {
        await cluster.get(keys[(w * 7919 + n * 104_729) % keys.length]!)
        reads++
      }
    }),
  )
  await new Promise((r) => setTimeout(r, 300))
  const joinWindow = Math.floor((performance.now() - start) / 100)
  const m = cluster.addServer({ id: 'c3', port: ports[3]! })
  await new Promise((r) => setTimeout(r, 3000))
  stop = true
  await readers
  m.abort()
  await m.done
  let peak = 0
  for (const [w, n] of windows) if (w >= joinWindow) peak = Math.max(peak, n * 10)
  await cluster.close()
  return { warmUpMs, peak, callsAfterJoin: calls - before, reads }
}

async function flushAll(ports: number[]) {
  const { Redis } = await import('ioredis')
  await Promise.all(
    ports.map(async (port) => {
      const c = new Redis({ port })
      await c.flushall()
      c.disconnect()
    }),
  )
}

async function main(): Promise<void> {
  const servers = await Promise.all([startRedis(), startRedis(), startRedis(), startRedis()])
  const ports = servers.map((s) => s.port)
  try {
    console.log(
      `migration throughput: ${KEYS} keys of ${VALUE.length} bytes, store mode, 3 -> 4 redis-servers`,
    )
    const rows = []
    for (const r of [1, 2]) {
      rows.push(await throughput(r, ports))
      await flushAll(ports)
    }
    console.table(
      rows.map((x) => ({
        replicas: x.replicas,
        'load s': x.loadS.toFixed(1),
        status: x.status,
        'migration s': x.seconds.toFixed(1),
        scanned: x.scanned,
        'copies written': x.moved,
        deleted: x.deleted,
        'scanned keys/s': Math.round(x.scannedPerS),
        'moved keys/s': Math.round(x.movedPerS),
        'MB/s': x.mbPerS.toFixed(2),
      })),
    )
    console.log(`origin load during a cache-mode join (${CACHE_KEYS} keys, 32 readers, 3 -> 4 redis-servers)`)
    const cold = await originLoad(0, ports)
    await flushAll(ports)
    const warm = await originLoad(60_000, ports)
    console.table(
      [cold, warm].map((x) => ({
        'warm-up': x.warmUpMs > 0 ? 'on' : 'off',
        'peak origin calls/s (100 ms windows)': x.peak,
        'origin calls after join': x.callsAfterJoin,
        reads: x.reads,
      })),
    )
    const ratio = warm.peak === 0 ? Number.POSITIVE_INFINITY : cold.peak / warm.peak
    console.log(
      `warm-up cuts the peak origin load by ${ratio === Number.POSITIVE_INFINITY ? 'all of it' : `${ratio.toFixed(1)}x`} (target: at least 2x)`,
    )
  } finally {
    for (const s of servers) s.proc.kill('SIGKILL')
  }
}

await main()
