// Cluster vs ioredis sharded with hashring over 3 local redis-servers: get, set, mget-100 (ops/s, p50/p99).
import HashRing from 'hashring'
import { Redis } from 'ioredis'
import { Cluster } from '../src/cluster/index.js'
import { startRedis } from '../test/cluster/servers.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1)
const ROUNDS = 3
const CONCURRENCY = 32
const KEYS = 10_000
const VALUE = 'x'.repeat(100)

interface Result {
  opsPerSec: number
  p50: number
  p99: number
}

/** Closed loop: `CONCURRENCY` workers call `op` back to back for `SECONDS`; latency per call in ms. */
async function measure(op: (i: number) => Promise<unknown>, concurrency = CONCURRENCY, seconds = SECONDS) {
  const lat: number[] = []
  let i = 0
  const end = performance.now() + seconds * 1000
  const start = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now()
        await op(i++)
        lat.push(performance.now() - t)
      }
    }),
  )
  const elapsed = (performance.now() - start) / 1000
  lat.sort((a, b) => a - b)
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!
  return { opsPerSec: lat.length / elapsed, p50: q(0.5), p99: q(0.99) } satisfies Result
}

function median(rs: Result[]): Result {
  return [...rs].sort((x, y) => x.opsPerSec - y.opsPerSec)[Math.floor(rs.length / 2)]!
}

const key = (i: number) => `bench:${i % KEYS}`
const batch = (i: number) => Array.from({ length: 100 }, (_, j) => key(i * 100 + j * 37))

async function main(): Promise<void> {
  const servers = await Promise.all([startRedis(), startRedis(), startRedis()])
  const ids = servers.map((_, i) => `r${i}`)
  const cluster = new Cluster({
    servers: servers.map((s, i) => ({ id: ids[i]!, port: s.port })),
    negativeTtlMs: 0,
  })
  // What Node users do today: one ioredis per server (auto-pipelining on, the fastest setting) and a hashring.
  const clients = new Map(
    servers.map((s, i) => [
      ids[i]!,
      new Redis({ port: s.port, enableAutoPipelining: true, lazyConnect: false }),
    ]),
  )
  const ring = new HashRing(ids)
  const via = (k: string) => clients.get(ring.get(k))!
  const ringMget = async (keys: string[]) => {
    const groups = new Map<string, number[]>()
    keys.forEach((k, i) => {
      const id = ring.get(k)
      const g = groups.get(id)
      if (g === undefined) groups.set(id, [i])
      else g.push(i)
    })
    const out = new Array<string | null>(keys.length)
    await Promise.all(
      [...groups].map(async ([id, idx]) => {
        const vals = await clients.get(id)!.mget(idx.map((i) => keys[i]!))
        idx.forEach((i, j) => {
          out[i] = vals[j] ?? null
        })
      }),
    )
    return out
  }
  const single = new Redis({ port: servers[0]!.port, enableAutoPipelining: true })
  try {
    // Preload every key through both clients' routing (they place keys differently), and the single server.
    for (let i = 0; i < KEYS; i += 500) {
      const ks = Array.from({ length: 500 }, (_, j) => key(i + j))
      await cluster.mset(ks.map((k) => [k, VALUE] as const))
      await Promise.all(ks.map((k) => via(k).set(k, VALUE)))
      await single.mset(...ks.flatMap((k) => [k, VALUE]))
    }
    await cluster.get(key(0)) // connect
    const rows: [string, Result, Result][] = []
    const run = async (
      name: string,
      ours: (i: number) => Promise<unknown>,
      theirs: (i: number) => Promise<unknown>,
    ) => {
      await measure(ours, CONCURRENCY, 0.3) // warm-up
      await measure(theirs, CONCURRENCY, 0.3)
      // Alternate three rounds and keep each side's median run: the machine is shared, load comes and goes.
      const a: Result[] = []
      const b: Result[] = []
      for (let r = 0; r < ROUNDS; r++) {
        a.push(await measure(ours))
        b.push(await measure(theirs))
      }
      rows.push([name, median(a), median(b)])
    }
    await run(
      'get',
      (i) => cluster.get(key(i)),
      (i) => via(key(i)).get(key(i)),
    )
    await run(
      'set',
      (i) => cluster.set(key(i), VALUE),
      (i) => via(key(i)).set(key(i), VALUE),
    )
    await run(
      'mget 100',
      (i) => cluster.mget(batch(i)),
      (i) => ringMget(batch(i)),
    )

    // mget of 100 keys over 3 servers vs one MGET of the same 100 keys on one server, one call at a time.
    const seq = 1
    await measure((i) => cluster.mget(batch(i)), seq, 0.3)
    const spread = await measure((i) => cluster.mget(batch(i)), seq)
    await measure((i) => single.mget(batch(i)), seq, 0.3)
    const one = await measure((i) => single.mget(batch(i)), seq)

    const f = (n: number, d = 0) => n.toFixed(d)
    console.log(
      `3 redis-servers on loopback, ${CONCURRENCY} concurrent callers, median of ${ROUNDS} alternating ${SECONDS}s runs`,
    )
    console.log(
      'op        | Cluster ops/s | p50 ms | p99 ms | ioredis+hashring ops/s | p50 ms | p99 ms | ratio | target',
    )
    for (const [name, a, b] of rows) {
      const ratio = a.opsPerSec / b.opsPerSec
      console.log(
        `${name.padEnd(9)} | ${f(a.opsPerSec).padStart(13)} | ${f(a.p50, 3).padStart(6)} | ${f(a.p99, 3).padStart(6)} | ` +
          `${f(b.opsPerSec).padStart(22)} | ${f(b.p50, 3).padStart(6)} | ${f(b.p99, 3).padStart(6)} | ${f(ratio, 2)}x | ` +
          `>= 1.00x ${ratio >= 1 ? 'met' : 'MISSED'}`,
      )
    }
    const lr = spread.p50 / one.p50
    console.log(
      `mget 100, one call at a time: Cluster over 3 servers p50 ${f(spread.p50, 3)} ms p99 ${f(spread.p99, 3)} ms; ` +
        `one MGET on one server p50 ${f(one.p50, 3)} ms p99 ${f(one.p99, 3)} ms; latency ratio ${f(lr, 2)}x ` +
        `(target <= 1.50x ${lr <= 1.5 ? 'met' : 'MISSED'})`,
    )
  } finally {
    await cluster.close()
    for (const c of clients.values()) c.disconnect()
    single.disconnect()
    for (const s of servers) s.proc.kill('SIGKILL')
  }
}

await main()
