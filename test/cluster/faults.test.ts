// Fault tests with real redis-server processes: SIGSTOP/SIGCONT and kill -9 of a server under a running load.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { Cluster, type ClusterOptions } from '../../src/cluster/index.js'
import { haveRedis, type ServerProcess, startRedis, waitForEvent } from './servers.js'

const available = haveRedis()
const procs: ServerProcess[] = []

after(async () => {
  await Promise.all(procs.map((p) => p.kill()))
})

async function three(): Promise<ServerProcess[]> {
  const started = await Promise.all([startRedis(), startRedis(), startRedis()])
  procs.push(...started)
  return started
}

function cluster(servers: ServerProcess[], options: Partial<ClusterOptions>): Cluster {
  return new Cluster({
    servers: servers.map((s, i) => ({ id: `s${i}`, port: s.port })),
    timeoutMs: 300,
    failureThreshold: 3,
    probeMinMs: 50,
    probeMaxMs: 200,
    ...options,
  })
}

/** Runs `body` repeatedly with `workers` concurrent loops until `stop()` returns true. */
async function load(workers: number, stop: () => boolean, body: (n: number) => Promise<void>): Promise<void> {
  let n = 0
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stop()) await body(n++)
    }),
  )
}

const N = 300

describe('faults (real redis-server processes)', {
  skip: available ? false : 'redis-server not installed',
}, () => {
  for (const fault of ['SIGSTOP/SIGCONT', 'kill -9 and restart'] as const) {
    test(`cache mode, ${fault}: no error once the server is down, no stale read after it returns`, async () => {
      const servers = await three()
      const origin = new Map<string, string>()
      const keys = Array.from({ length: N }, (_, i) => `cache:${i}`)
      for (const k of keys) origin.set(k, `${k}@0`)
      const c = cluster(servers, { mode: 'cache', loader: (k) => origin.get(k) ?? null })
      try {
        assert.deepEqual(
          await c.mget(keys),
          keys.map((k) => origin.get(k)),
        )
        const victimId = c.ownerOf(keys[0]!)!
        const victimIndex = Number(victimId.slice(1))
        const victim = servers[victimIndex]!
        let down = false
        let errorsBeforeDown = 0
        let errorsAfterDown = 0
        let staleReads = 0
        let reads = 0
        const wentDown = waitForEvent('rendezvous:cluster:server-down', victimId, 5000).then(() => {
          down = true
        })
        const read = async (n: number) => {
          const k = keys[n % N]!
          try {
            const v = await c.get(k)
            reads++
            if (v !== origin.get(k)) staleReads++
          } catch {
            if (down) errorsAfterDown++
            else errorsBeforeDown++
          }
        }
        // Phase 1: the fault under a running read load, until the server is marked down and a bit after.
        if (fault === 'SIGSTOP/SIGCONT') victim.proc.kill('SIGSTOP')
        else await victim.kill()
        let afterDownReads = 0
        const deadline = Date.now() + 5000
        await load(8, () => (down && ++afterDownReads > 400) || Date.now() > deadline, read)
        await wentDown
        // Phase 2: new values while it is down (origin first, then the cache, as an application does).
        for (const k of keys) {
          origin.set(k, `${k}@1`)
          try {
            await c.set(k, origin.get(k)!)
          } catch {
            errorsAfterDown++
          }
        }
        // Phase 3: it returns; once fenced and back, every key must read its new value.
        const back = waitForEvent('rendezvous:cluster:server-up', victimId, 5000)
        if (fault === 'SIGSTOP/SIGCONT') victim.proc.kill('SIGCONT')
        else {
          const restarted = await startRedis(victim.port)
          servers[victimIndex] = restarted
          procs.push(restarted)
        }
        await back
        for (const k of keys) await read(Number(k.split(':')[1]))
        const got = await c.mget(keys)
        staleReads += got.filter((v, i) => v !== origin.get(keys[i]!)).length
        const st = c.stats().servers.find((x) => x.id === victimId)!
        console.log(
          `cache ${fault}: victim ${victimId} timeouts ${st.timeouts}, errors ${st.errors}, probes ${st.probes}; ` +
            `reads ${reads}, errors before down ${errorsBeforeDown}, errors after down ${errorsAfterDown}, stale reads ${staleReads}`,
        )
        assert.equal(errorsAfterDown, 0)
        assert.equal(staleReads, 0)
        assert.ok(c.stats().fenced >= 1)
      } finally {
        await c.close()
        await Promise.all(servers.map((s) => s.kill()))
      }
    })
  }

  test('store mode, replicas 2: every acknowledged write is read back after kill -9 of one server', async () => {
    const servers = await three()
    // kill -9 fails fast (connection refused): a long timeout only guards against a busy machine.
    const c = cluster(servers, { mode: 'store', replicas: 2, writeConcern: 'majority', timeoutMs: 1000 })
    try {
      // The newest acknowledged write per key (writes of one key may be acknowledged out of order).
      const acked = new Map<string, { n: number; value: string }>()
      let failedWrites = 0
      let writes = 0
      const victim = servers[1]!
      let killed = false
      const write = async (n: number) => {
        const key = `store:${n % 500}`
        const value = `${key}#${n}`
        writes++
        try {
          await c.set(key, value)
          if ((acked.get(key)?.n ?? -1) < n) acked.set(key, { n, value })
        } catch {
          failedWrites++
        }
        if (n === 800 && !killed) {
          killed = true
          await victim.kill()
        }
      }
      await load(8, () => writes >= 3000, write)
      assert.ok(killed)
      // Lost: the value read is older than the newest acknowledged one (a newer, unacknowledged write that
      // reached one replica may legitimately win).
      const seq = (v: string | null) => (v === null ? -1 : Number(v.split('#')[1]))
      let lost = 0
      for (const [k, a] of acked) if (seq(await c.get(k)) < a.n) lost++
      const keys = [...acked.keys()]
      const got = await c.mget(keys)
      lost += got.filter((v, i) => seq(v) < acked.get(keys[i]!)!.n).length
      console.log(
        `store kill -9: writes ${writes}, acknowledged keys ${acked.size}, failed (unacknowledged) ${failedWrites}, writes lost ${lost}`,
      )
      assert.equal(lost, 0)
      assert.equal(c.liveServers.includes('s1'), false)
    } finally {
      await c.close()
      await Promise.all(servers.map((s) => s.kill()))
    }
  })
})
