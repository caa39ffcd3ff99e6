// Unit tests of the Cluster over memory and fake failing backends: options, routing, failover, cache, store.
import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  Cluster,
  ClusterError,
  type ClusterOptions,
  HEADER_BYTES,
  SingleFlight,
} from '../../src/cluster/index.js'
import { Limiter } from '../../src/cluster/limiter.js'
import { Rendezvous } from '../../src/placement/index.js'
import { FakeClock, Flaky } from './fakes.js'
import { sleep } from './servers.js'

const IDS = ['a', 'b', 'c', 'd']

function make(options: Partial<ClusterOptions> = {}, ids = IDS) {
  const clock = new FakeClock()
  const backends = new Map<string, Flaky>()
  const cluster = new Cluster({
    servers: ids.map((id) => ({ id })),
    backendFactory: (s) => {
      const b = new Flaky(s.id, clock.fn)
      backends.set(s.id, b)
      return b
    },
    clock: clock.fn,
    timeoutMs: 50,
    probeMinMs: 5,
    probeMaxMs: 20,
    ...options,
  })
  const be = (id: string) => backends.get(id)!
  return { cluster, clock, be, backends: [...backends.values()] }
}

/** Waits (bounded) until `cond` holds; fails the test otherwise. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return
    await sleep(5)
  }
  assert.fail(`timed out waiting for ${what}`)
}

function events(name: string): { seen: { id: string; epoch: number }[]; stop: () => void } {
  const seen: { id: string; epoch: number }[] = []
  const fn = (m: unknown) => seen.push(m as { id: string; epoch: number })
  dc.subscribe(name, fn)
  return { seen, stop: () => dc.unsubscribe(name, fn) }
}

async function fail(cluster: Cluster, key: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await cluster.get(key).catch(() => {})
}

describe('options', () => {
  const base = { servers: [{ id: 'a', port: 1 }] }
  const cases: [string, Partial<ClusterOptions> & Record<string, unknown>, RegExp][] = [
    ['no servers', { servers: [] }, /servers/],
    [
      'duplicate ids',
      {
        servers: [
          { id: 'a', port: 1 },
          { id: 'a', port: 2 },
        ],
      },
      /servers.*duplicate id "a"/,
    ],
    ['unknown mode', { mode: 'lru' as 'cache' }, /option mode/],
    ['replicas > servers', { mode: 'store', replicas: 2 }, /option replicas \(2\) exceeds/],
    ['bad writeConcern', { mode: 'store', writeConcern: 3 }, /option writeConcern/],
    ['bad timeoutMs', { timeoutMs: 0 }, /option timeoutMs/],
    ['bad failureThreshold', { failureThreshold: 0 }, /option failureThreshold/],
    ['missing port', { servers: [{ id: 'a' }] }, /servers\[0\]\.port/],
    ['bad weight', { servers: [{ id: 'a', port: 1, weight: -1 }] }, /weight/],
    ['loader in store mode', { mode: 'store', loader: () => null }, /option loader/],
    ['bad maxConcurrentLoads', { maxConcurrentLoads: 0 }, /option maxConcurrentLoads/],
  ]
  for (const [name, opts, re] of cases) {
    test(`rejects ${name} with a TypeError naming the option`, () => {
      assert.throws(
        () => new Cluster({ ...base, ...opts } as ClusterOptions),
        (e: unknown) => e instanceof TypeError && re.test(e.message),
      )
    })
  }
  test('accepts a minimal configuration (no connection is made before the first call)', async () => {
    const c = new Cluster(base)
    assert.equal(c.mode, 'cache')
    await c.close()
  })
})

describe('SingleFlight and Limiter', () => {
  test('concurrent calls share one execution; a later call starts a new one', async () => {
    const sf = new SingleFlight<string, number>()
    let runs = 0
    const fn = async () => {
      runs++
      await sleep(1)
      return runs
    }
    const calls = Array.from({ length: 50 }, () => sf.do('k', fn))
    assert.equal(calls.filter((c) => c.shared).length, 49)
    assert.deepEqual(new Set(await Promise.all(calls.map((c) => c.promise))), new Set([1]))
    assert.equal(await sf.do('k', fn).promise, 2)
    assert.equal(sf.size, 0)
  })
  test('errors are shared and not remembered', async () => {
    const sf = new SingleFlight<string, number>()
    const a = sf.do('k', async () => Promise.reject(new Error('x')))
    const b = sf.do('k', async () => 1)
    await assert.rejects(a.promise, /x/)
    await assert.rejects(b.promise, /x/)
    assert.equal(await sf.do('k', async () => 1).promise, 1)
  })
  test('Limiter never runs more than max tasks at once', async () => {
    const lim = new Limiter(3)
    let active = 0
    let peak = 0
    await Promise.all(
      Array.from({ length: 20 }, () =>
        lim.run(async () => {
          peak = Math.max(peak, ++active)
          await sleep(1)
          active--
        }),
      ),
    )
    assert.equal(peak, 3)
    assert.equal(lim.active, 0)
  })
})

describe('routing', () => {
  test('each key lives only on its rendezvous owner; get returns what set wrote', async () => {
    const { cluster, be, backends } = make()
    const place = new Rendezvous(IDS)
    for (let i = 0; i < 200; i++) await cluster.set(`k${i}`, `v${i}`)
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`
      assert.equal(cluster.ownerOf(key), place.pick(key))
      assert.equal(await cluster.get(key), `v${i}`)
      assert.deepEqual(await be(place.pick(key)).inner.get(key), Buffer.from(`v${i}`))
      const holders = backends.filter((b) => b.inner.size > 0 && b.id !== place.pick(key))
      for (const h of holders) assert.equal(await h.inner.get(key), null)
    }
  })

  test('hash tags place related keys together', () => {
    const { cluster } = make()
    const owners = new Set(Array.from({ length: 50 }, (_, i) => cluster.ownerOf(`{user:42}:field${i}`)))
    assert.equal(owners.size, 1)
    assert.equal(cluster.ownerOf('{user:42}:x'), new Rendezvous(IDS).pick('user:42'))
    assert.equal(cluster.ownerOf('{}x'), new Rendezvous(IDS).pick('{}x'))
    const off = make({ hashTags: false }).cluster
    assert.equal(off.ownerOf('{user:42}:x'), new Rendezvous(IDS).pick('{user:42}:x'))
    // A key given as its UTF-8 bytes has the same owner, its hash tag read the same way.
    const piece = fc.constantFrom('{', '}', 'a', 'b', 'é', '🙂', 'user:42')
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), (pieces, tags) => {
        const c = tags ? cluster : off
        const key = pieces.join('')
        assert.equal(c.ownerOf(Buffer.from(key)), c.ownerOf(key), JSON.stringify(key))
      }),
    )
  })

  test('mget/mset/del/exists split per server, one command each, results in caller order', async () => {
    const { cluster, backends } = make()
    const keys = Array.from({ length: 100 }, (_, i) => `m${i}`)
    await cluster.mset(keys.map((k) => [k, `${k}!`] as const))
    const owners = new Set(keys.map((k) => cluster.ownerOf(k)))
    assert.equal(
      backends.reduce((n, b) => n + b.count('mset'), 0),
      owners.size,
    )
    const ask = [...keys].reverse().concat(['missing'])
    const got = await cluster.mget(ask)
    assert.deepEqual(got, [...keys.map((k) => `${k}!`).reverse(), null])
    assert.ok(backends.reduce((n, b) => n + b.count('mget'), 0) <= owners.size + 1)
    assert.equal(await cluster.exists(...keys.slice(0, 10), 'missing'), 10)
    assert.equal(await cluster.del(...keys.slice(0, 10), 'missing'), 10)
    assert.equal(await cluster.exists(...keys.slice(0, 10)), 0)
  })

  test('incr, expire and ttl go to the owner', async () => {
    const { cluster, clock } = make()
    assert.equal(await cluster.incr('n'), 1)
    assert.equal(await cluster.incr('n', 41), 42)
    assert.equal(await cluster.get('n'), '42')
    assert.equal(await cluster.ttl('n'), -1)
    assert.equal(await cluster.expire('n', 1000), true)
    assert.equal(await cluster.ttl('n'), 1000)
    assert.equal(await cluster.expire('nope', 1000), false)
    assert.equal(await cluster.ttl('nope'), -2)
    await cluster.set('t', 'v', { ttlMs: 100 })
    clock.advance(101)
    assert.equal(await cluster.get('t'), null)
  })
})

describe('failures', () => {
  test('a server is marked down after failureThreshold failures; live traffic never reaches it again', async () => {
    const { cluster, be } = make()
    const down = events('rendezvous:cluster:server-down')
    const key = 'victim'
    const owner = cluster.ownerOf(key)!
    const next = new Rendezvous(IDS).ranking(key)[1]!
    be(owner).mode = 'fail'
    be(owner).inner.set(key, Buffer.from('old'))
    for (let i = 0; i < 3; i++) await assert.rejects(cluster.get(key))
    assert.deepEqual(
      down.seen.map((e) => e.id),
      [owner],
    )
    down.stop()
    assert.deepEqual(cluster.liveServers.includes(owner), false)
    assert.equal(cluster.ownerOf(key), next)
    const before = be(owner).total - be(owner).count('ping')
    await cluster.set(key, 'new')
    assert.equal(await cluster.get(key), 'new')
    await cluster.mget(Array.from({ length: 50 }, (_, i) => `x${i}`))
    assert.equal(be(owner).total - be(owner).count('ping'), before, 'live traffic reached a down server')
    assert.equal(cluster.stats().servers.find((s) => s.id === owner)!.up, false)
    await cluster.close()
  })

  test('a hanging server times out every call (ERR_TIMEOUT), then goes down', async () => {
    const { cluster, be } = make()
    const key = 'frozen'
    const owner = cluster.ownerOf(key)!
    be(owner).mode = 'hang'
    for (let i = 0; i < 3; i++) await assert.rejects(cluster.get(key), { code: 'ERR_TIMEOUT' })
    assert.notEqual(cluster.ownerOf(key), owner)
    assert.equal(cluster.stats().servers.find((s) => s.id === owner)!.timeouts, 3)
    await cluster.close()
  })

  test('a command the server refuses (ReplyError) does not count as a failure', async () => {
    const { cluster } = make()
    await cluster.set('s', 'abc')
    const owner = cluster.ownerOf('s')
    for (let i = 0; i < 5; i++) await assert.rejects(cluster.incr('s'), /not an integer/)
    assert.equal(cluster.ownerOf('s'), owner)
  })

  test('fencing: a returning server is probed, flushed, then re-enters with a new epoch', async () => {
    const { cluster, be } = make()
    const up = events('rendezvous:cluster:server-up')
    const fenced = events('rendezvous:cluster:fenced')
    const key = 'fence'
    const owner = cluster.ownerOf(key)!
    await cluster.set(key, 'v1')
    be(owner).mode = 'fail'
    await fail(cluster, key, 3)
    const epochDown = cluster.epoch
    await cluster.set(key, 'v2') // written to the next server while the owner is down
    be(owner).mode = 'ok' // it comes back still holding v1
    await until(() => up.seen.length > 0, 'server-up')
    up.stop()
    fenced.stop()
    assert.deepEqual(
      fenced.seen.map((e) => e.id),
      [owner],
    )
    assert.ok(cluster.epoch > epochDown)
    assert.equal(cluster.ownerOf(key), owner)
    assert.equal(be(owner).count('flush'), 1)
    assert.equal(await be(owner).inner.get(key), null, 'the stale copy survived the fence')
    assert.notEqual(await cluster.get(key), 'v1')
    const st = cluster.stats()
    assert.equal(st.fenced, 1)
    const s = st.servers.find((x) => x.id === owner)!
    assert.equal(s.up, true)
    assert.equal(s.downCount, 1)
    assert.ok(s.probes >= 1)
    await cluster.close()
  })

  test('probes back off while the server stays down and never bring it back unflushed', async () => {
    const { cluster, be } = make({ probeMinMs: 2, probeMaxMs: 8 })
    const owner = cluster.ownerOf('p')!
    be(owner).mode = 'fail'
    await fail(cluster, 'p', 3)
    await until(() => be(owner).count('ping') >= 4, 'probes')
    assert.equal(cluster.liveServers.includes(owner), false)
    const st = cluster.stats().servers.find((x) => x.id === owner)!
    assert.ok(st.probeFailures >= 3)
    await cluster.close()
  })

  test('all servers down: cache get falls back to the loader; set reports ERR_ALL_SERVERS_DOWN', async () => {
    const { cluster, backends } = make({ loader: (k) => `origin:${k}` }, ['a'])
    backends[0]!.mode = 'fail'
    for (let i = 0; i < 3; i++) assert.equal(await cluster.get('k'), 'origin:k')
    await until(() => cluster.liveServers.length === 0, 'down')
    assert.equal(await cluster.get('k'), 'origin:k')
    await assert.rejects(cluster.set('k', 'v'), { code: 'ERR_ALL_SERVERS_DOWN' })
    await cluster.close()
  })

  test('mget partial failure is reported per key (ClusterError), never as misses', async () => {
    const { cluster, be } = make({ failureThreshold: 100 })
    const keys = Array.from({ length: 40 }, (_, i) => `pf${i}`)
    await cluster.mset(keys.map((k) => [k, k] as const))
    const bad = cluster.ownerOf(keys[0]!)!
    be(bad).mode = 'fail'
    const err = await cluster.mget(keys).then(
      () => assert.fail('mget succeeded'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ClusterError)
    assert.equal(err.code, 'ERR_PARTIAL_FAILURE')
    const failed = keys.filter((k) => cluster.ownerOf(k) === bad)
    assert.deepEqual(
      err.failures.map((f) => f.key),
      failed,
    )
    assert.ok(err.failures.every((f) => f.server === bad))
    keys.forEach((k, i) => {
      assert.equal(err.partial[i], failed.includes(k) ? undefined : k)
    })
  })

  test('after close, calls reject with ERR_CLOSED', async () => {
    const { cluster } = make()
    await cluster.close()
    await assert.rejects(cluster.get('k'), { code: 'ERR_CLOSED' })
  })
})

describe('cache mode', () => {
  test('1,000 concurrent gets of a cold key call the loader once', async () => {
    let calls = 0
    const { cluster } = make({
      loader: async (k) => {
        calls++
        await sleep(5)
        return `loaded:${k}`
      },
    })
    const got = await Promise.all(Array.from({ length: 1000 }, () => cluster.get('cold')))
    assert.equal(calls, 1)
    assert.ok(got.every((v) => v === 'loaded:cold'))
    assert.equal(await cluster.get('cold'), 'loaded:cold')
    assert.equal(calls, 1)
    const st = cluster.stats()
    assert.equal(st.loaderCalls, 1)
    assert.equal(st.coalescedWaits, 999)
  })

  test('misses are remembered for negativeTtlMs; loader errors reach the caller and are not cached', async () => {
    let calls = 0
    let fail = true
    const { cluster, clock } = make({
      negativeTtlMs: 1000,
      loader: async (k) => {
        calls++
        if (k === 'err' && fail) throw new Error('origin down')
        return k === 'none' ? null : 'v'
      },
    })
    assert.equal(await cluster.get('none'), null)
    assert.equal(await cluster.get('none'), null)
    assert.equal(calls, 1)
    assert.equal(await cluster.exists('none'), 0)
    clock.advance(1001)
    assert.equal(await cluster.get('none'), null)
    assert.equal(calls, 2)
    await assert.rejects(cluster.get('err'), /origin down/)
    await assert.rejects(cluster.get('err'), /origin down/)
    assert.equal(calls, 4)
    fail = false
    assert.equal(await cluster.get('err'), 'v')
    assert.equal(cluster.stats().loaderErrors, 2)
  })

  test('set wins over a load in flight (the write-back uses NX)', async () => {
    let release: () => void = () => {}
    const { cluster } = make({
      loader: () =>
        new Promise((resolve) => {
          release = () => resolve('old')
        }),
    })
    const reading = cluster.get('race')
    await sleep(1)
    await cluster.set('race', 'new')
    release()
    assert.equal(await reading, 'old')
    assert.equal(await cluster.get('race'), 'new')
  })

  test('maxConcurrentLoads caps loader concurrency', async () => {
    let active = 0
    let peak = 0
    const { cluster } = make({
      maxConcurrentLoads: 2,
      loader: async (k) => {
        peak = Math.max(peak, ++active)
        await sleep(2)
        active--
        return k
      },
    })
    const keys = Array.from({ length: 12 }, (_, i) => `c${i}`)
    assert.deepEqual(await cluster.mget(keys), keys)
    assert.equal(peak, 2)
  })

  test('stale-while-revalidate serves the stale value once and refreshes it in the background', async () => {
    let version = 1
    const { cluster, clock } = make({
      loadTtlMs: 1000,
      staleWhileRevalidateMs: 5000,
      loader: async () => `v${version}`,
    })
    assert.equal(await cluster.get('s'), 'v1')
    version = 2
    clock.advance(1500)
    assert.equal(await cluster.get('s'), 'v1') // stale, served, refresh started
    await until(() => cluster.stats().loaderCalls === 2, 'refresh')
    await sleep(5)
    assert.equal(await cluster.get('s'), 'v2')
    assert.equal(cluster.stats().staleHits, 1)
    clock.advance(7000)
    assert.equal(await cluster.get('s'), 'v2') // expired for good: a plain miss and load
  })

  test('when the owner fails, get serves the origin value without error and without caching it', async () => {
    const { cluster, be } = make({ loader: (k) => `o:${k}`, failureThreshold: 100 })
    const owner = cluster.ownerOf('f')!
    be(owner).mode = 'fail'
    assert.equal(await cluster.get('f'), 'o:f')
    assert.deepEqual(await cluster.mget(['f']), ['o:f'])
    be(owner).mode = 'ok'
    assert.equal(await be(owner).inner.get('f'), null)
  })

  test('values that look like a header round-trip unchanged', async () => {
    const { cluster } = make()
    const tricky = Buffer.alloc(HEADER_BYTES + 3, 0)
    tricky[0] = 0xd5
    tricky[1] = 1
    await cluster.set('h', tricky)
    assert.deepEqual(await cluster.getBuffer('h'), tricky)
  })
})

describe('store mode', () => {
  const store = (o: Partial<ClusterOptions> = {}, ids = IDS) => make({ mode: 'store', ...o }, ids)

  test('a value lives on exactly `replicas` servers, zones spread', async () => {
    const { cluster, backends } = make(
      { mode: 'store', replicas: 2, servers: IDS.map((id, i) => ({ id, zone: i < 2 ? 'z1' : 'z2' })) },
      IDS,
    )
    const zone = (id: string) => (IDS.indexOf(id) < 2 ? 'z1' : 'z2')
    for (let i = 0; i < 50; i++) {
      const key = `r${i}`
      await cluster.set(key, 'v')
      const holders = []
      for (const b of backends) if ((await b.inner.get(key)) !== null) holders.push(b.id)
      assert.equal(holders.length, 2)
      assert.deepEqual(holders.sort(), cluster.replicasOf(key).sort())
      assert.notEqual(zone(holders[0]!), zone(holders[1]!))
    }
  })

  test('writeConcern all fails when a replica fails; majority of 3 survives one', async () => {
    const all = store({ writeConcern: 'all', failureThreshold: 100 })
    all.be(all.cluster.replicasOf('w')[1]!).mode = 'fail'
    await assert.rejects(all.cluster.set('w', 'v'), { code: 'ERR_WRITE_CONCERN' })
    const maj = store({ replicas: 3, writeConcern: 'majority', failureThreshold: 100 })
    maj.be(maj.cluster.replicasOf('w')[0]!).mode = 'fail'
    await maj.cluster.set('w', 'v')
    assert.equal(await maj.cluster.get('w'), 'v')
  })

  test('reads return the newest version and repair replicas that are behind', async () => {
    const { cluster, be, clock } = store()
    const [r1, r2] = cluster.replicasOf('k') as [string, string]
    await cluster.set('k', 'v1')
    clock.advance(10)
    await cluster.set('k', 'v2')
    // r2 lost its copy, r1 went back to the old version: the read must still answer v2 and fix both.
    const v2bytes = (await be(r1).inner.get('k'))!
    await be(r2).inner.del(['k'])
    assert.equal(await cluster.get('k'), 'v2')
    await until(() => cluster.stats().repairs >= 1, 'repair')
    await sleep(5)
    assert.deepEqual(await be(r2).inner.get('k'), v2bytes)
    assert.equal(v2bytes.length, HEADER_BYTES + 2)
  })

  test('deletes write tombstones that win over a replica that missed them', async () => {
    const { cluster, be } = store({ writeConcern: 1, replicas: 2, failureThreshold: 100 })
    await cluster.set('d', 'v')
    const [r1, r2] = cluster.replicasOf('d') as [string, string]
    be(r2).mode = 'fail'
    assert.equal(await cluster.del('d'), 1)
    be(r2).mode = 'ok'
    assert.equal((await be(r2).inner.get('d'))?.subarray(HEADER_BYTES).toString(), 'v')
    assert.equal(await cluster.get('d'), null)
    assert.equal(await cluster.exists('d'), 0)
    assert.ok(r1)
  })

  test('replica failover: after a server goes down, acknowledged writes are still read', async () => {
    const { cluster, be } = store({ writeConcern: 'all' })
    const keys = Array.from({ length: 60 }, (_, i) => `f${i}`)
    await cluster.mset(keys.map((k) => [k, k] as const))
    const victim = cluster.replicasOf(keys[0]!)[0]!
    be(victim).mode = 'fail'
    // Reads before the server is marked down still succeed (one answer is enough with writeConcern all).
    assert.deepEqual(await cluster.mget(keys), keys)
    await fail(cluster, keys[0]!, 3)
    await until(() => !cluster.liveServers.includes(victim), 'down')
    assert.deepEqual(await cluster.mget(keys), keys)
    for (const k of keys) assert.ok(!cluster.replicasOf(k).includes(victim))
  })

  test('expire and ttl work on replicas; incr is refused', async () => {
    const { cluster } = store()
    await cluster.set('e', 'v')
    assert.equal(await cluster.ttl('e'), -1)
    assert.equal(await cluster.expire('e', 5000), true)
    assert.equal(await cluster.ttl('e'), 5000)
    assert.equal(await cluster.get('e'), 'v')
    assert.equal(await cluster.expire('none', 5000), false)
    await assert.rejects(cluster.incr('e'), { code: 'ERR_UNSUPPORTED' })
  })

  test('read quorum: with writeConcern 1 of 2, a read needs both replicas', async () => {
    const { cluster, be } = store({ writeConcern: 1, failureThreshold: 100 })
    await cluster.set('q', 'v')
    be(cluster.replicasOf('q')[0]!).mode = 'fail'
    await assert.rejects(cluster.get('q'), { code: 'ERR_READ_QUORUM' })
  })
})
