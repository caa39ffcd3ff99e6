// One contract suite run against every placement strategy: ordering, minimal movement, pickN, validation.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  HierarchicalRendezvous,
  type Placement,
  Rendezvous,
  RendezvousError,
  type ServerSpec,
} from '../../src/placement/index.js'

type Make = (servers: ServerSpec[]) => Placement

// `exactShares`: every server's expected share is exactly weight / total weight. Hierarchical placements with
// tiny groups only approximate it (a server's share depends on its groups' total weights), by design.
const strategies: [string, Make, { exactShares: boolean }][] = [
  ['Rendezvous', (s) => new Rendezvous(s), { exactShares: true }],
  ['HierarchicalRendezvous (default groups)', (s) => new HierarchicalRendezvous(s), { exactShares: true }],
  // Few groups with few memberships: groups are small and some are empty, exercising the flat fallback.
  [
    'HierarchicalRendezvous (groups: 7, memberships: 2)',
    (s) => new HierarchicalRendezvous(s, { groups: 7, memberships: 2 }),
    { exactShares: false },
  ],
]

const idArb = fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' })
// Weights from ordinary to as far apart as binary64 allows: the properties hold for any positive finite weights.
const weightArb = fc.oneof(
  fc.constant(1),
  fc.double({ min: 0.01, max: 100, noNaN: true }),
  fc.constantFrom(5e-324, 1e-300, 1e300, Number.MAX_VALUE),
)
const serversArb = fc.uniqueArray(fc.record({ id: idArb, weight: weightArb }), {
  minLength: 1,
  maxLength: 24,
  selector: (s) => s.id,
})
const keyArb = fc.oneof(fc.string({ maxLength: 20, unit: 'binary' }), fc.uint8Array({ maxLength: 20 }))
const keysArb = fc.array(keyArb, { minLength: 1, maxLength: 40 })
const runs = { numRuns: 60 }

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs]
  let s = seed >>> 0 || 1
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Keys shaped like real cache keys, for statistical checks (deterministic). */
function sampleKeys(n: number, seed = 1): string[] {
  const out: string[] = []
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    out.push(`user:${s.toString(36)}:${i}`)
  }
  return out
}

for (const [name, make, { exactShares }] of strategies) {
  describe(`placement contract: ${name}`, () => {
    test('the result does not depend on the order servers are listed in', () => {
      fc.assert(
        fc.property(serversArb, keysArb, fc.integer(), (servers, keys, seed) => {
          const a = make(servers)
          const b = make(shuffled(servers, seed))
          for (const k of keys) {
            assert.equal(a.pick(k), b.pick(k))
            assert.deepEqual(a.ranking(k), b.ranking(k))
          }
        }),
        runs,
      )
    })

    test('pick is the head of ranking and of pickN; ranking is a permutation of the servers', () => {
      fc.assert(
        fc.property(serversArb, keysArb, (servers, keys) => {
          const p = make(servers)
          for (const k of keys) {
            const r = p.ranking(k)
            assert.deepEqual([...r].sort(), servers.map((s) => s.id).sort())
            assert.equal(p.pick(k), r[0])
            assert.deepEqual(p.pickN(k, 1), [r[0]])
          }
        }),
        runs,
      )
    })

    test('pickN(m) is a prefix of pickN(n) for m < n, with distinct servers', () => {
      fc.assert(
        fc.property(serversArb, keyArb, fc.nat(30), fc.nat(30), (servers, key, x, y) => {
          const p = make(servers)
          const [m, n] = x < y ? [x, y] : [y, x]
          const big = p.pickN(key, n)
          assert.equal(big.length, Math.min(n, servers.length))
          assert.equal(new Set(big).size, big.length)
          assert.deepEqual(p.pickN(key, m), big.slice(0, m))
        }),
        runs,
      )
    })

    test('pickN(n) is the first n of ranking (without zones)', () => {
      fc.assert(
        fc.property(serversArb, keysArb, fc.nat(30), (servers, keys, n) => {
          const p = make(servers)
          for (const k of keys) assert.deepEqual(p.pickN(k, n), p.ranking(k).slice(0, n))
        }),
        runs,
      )
    })

    test('ranking(key, limit) is the first limit of ranking', () => {
      fc.assert(
        fc.property(serversArb, keysArb, fc.nat(30), (servers, keys, limit) => {
          const p = make(servers)
          for (const k of keys) assert.deepEqual(p.ranking(k, limit), p.ranking(k).slice(0, limit))
        }),
        runs,
      )
      // Past the short prefixes kept in one pass (32), with and without zones, equal and unequal weights.
      const keys = sampleKeys(200, 7)
      for (const weight of [
        (_: number) => 1,
        (i: number) => 1 + (i % 4),
        (i: number) => 0.5 + ((i * 7919) % 1009),
      ]) {
        const p = make(
          Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, weight: weight(i), zone: `z${i % 3}` })),
        )
        for (const k of keys) {
          const whole = p.ranking(k)
          for (const limit of [0, 1, 2, 5, 31, 32, 33, 64, 299, 300, 301, Number.POSITIVE_INFINITY]) {
            assert.deepEqual(p.ranking(k, limit), whole.slice(0, limit), `limit ${limit}`)
          }
        }
      }
    })

    test('removing a server moves only its keys', () => {
      fc.assert(
        fc.property(
          serversArb.filter((s) => s.length > 1),
          keysArb,
          fc.nat(),
          (servers, keys, which) => {
            const before = make(servers)
            const gone = servers[which % servers.length]!.id
            const after = before.remove(gone)
            for (const k of keys) {
              const was = before.pick(k)
              if (was !== gone) assert.equal(after.pick(k), was)
              else assert.notEqual(after.pick(k), gone)
            }
          },
        ),
        runs,
      )
    })

    test('adding a server moves only the keys it now wins', () => {
      fc.assert(
        fc.property(serversArb, keysArb, weightArb, (servers, keys, w) => {
          const before = make(servers)
          const id = `new-${servers.length}`
          fc.pre(!servers.some((s) => s.id === id))
          const after = before.add({ id, weight: w })
          for (const k of keys) {
            const now = after.pick(k)
            if (now !== id) assert.equal(now, before.pick(k))
          }
        }),
        runs,
      )
    })

    test('changing one weight moves keys only to or from that server', () => {
      fc.assert(
        fc.property(
          serversArb.filter((s) => s.length > 1),
          keysArb,
          fc.nat(),
          weightArb,
          (servers, keys, which, w) => {
            const before = make(servers)
            const id = servers[which % servers.length]!.id
            const after = before.setWeight(id, w)
            for (const k of keys) {
              const a = before.pick(k)
              const b = after.pick(k)
              if (a !== b) assert.ok(a === id || b === id, `key moved ${a} -> ${b}, neither is ${id}`)
            }
          },
        ),
        runs,
      )
    })

    test('snapshots are immutable: changes return new objects and leave the old one as it was', () => {
      const p = make([{ id: 'a' }, { id: 'b' }])
      const q = p.add('c')
      assert.equal(p.size, 2)
      assert.equal(q.size, 3)
      assert.throws(() => (p.servers as ServerSpec[]).push({ id: 'x' }), TypeError)
    })

    test('strings hash as their UTF-8 bytes; lone surrogates as U+FFFD', () => {
      const p = make(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id })))
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
          assert.equal(p.pick(s), p.pick(new TextEncoder().encode(s)))
        }),
      )
      assert.equal(p.pick('x\ud800y'), p.pick('x\ufffdy'))
    })

    if (exactShares)
      test('weighted shares follow the weights', () => {
        const servers = [
          { id: 'a', weight: 1 },
          { id: 'b', weight: 2 },
          { id: 'c', weight: 3 },
          { id: 'd', weight: 4 },
        ]
        const p = make(servers)
        const keys = sampleKeys(40_000)
        const counts = new Map<string, number>()
        for (const k of keys) counts.set(p.pick(k), (counts.get(p.pick(k)) ?? 0) + 1)
        for (const s of servers) {
          const expected = (keys.length * s.weight) / 10
          const sd = Math.sqrt(expected * (1 - s.weight / 10))
          // 5 standard deviations: fails for a biased hash, essentially never by chance.
          assert.ok(
            Math.abs(counts.get(s.id)! - expected) < 5 * sd,
            `${s.id}: ${counts.get(s.id)} vs ${expected}`,
          )
        }
      })

    test('bad input is refused with a TypeError that names it', () => {
      assert.throws(() => make([{ id: '' }]), /id must be a non-empty string/)
      assert.throws(() => make([{ id: 'a' }, { id: 'a' }]), /duplicate id "a"/)
      for (const w of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(
          () => make([{ id: 'a', weight: w }]),
          (e: unknown) => e instanceof TypeError && /weight/.test(String(e)),
        )
      }
      const p = make([{ id: 'a' }])
      for (const k of [1, null, undefined, {}, ['a']]) {
        assert.throws(
          () => p.pick(k as never),
          (e: unknown) => e instanceof TypeError && /key must be/.test(String(e)),
        )
      }
      assert.throws(() => p.pickN('k', -1), TypeError)
      for (const limit of [-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY]) {
        assert.throws(
          () => p.ranking('k', limit),
          (e: unknown) => e instanceof TypeError && /limit must be a non-negative integer/.test(String(e)),
        )
      }
      assert.throws(() => p.remove('zz'), /no server with id "zz"/)
    })

    test('an empty placement gives a clear error on pick', () => {
      const p = make([])
      for (const f of [() => p.pick('k'), () => p.ranking('k'), () => p.pickN('k', 2)]) {
        assert.throws(f, (e: unknown) => e instanceof RendezvousError && e.code === 'ERR_NO_SERVERS')
      }
    })

    test('pickN with zones takes the best of each zone in ranking order, then the best of the rest', () => {
      // The reference reads the whole ranking; pickN reads only as much of it as it needs.
      const zonedArb = fc.uniqueArray(
        fc.record({
          id: idArb,
          weight: weightArb,
          zone: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 40, selector: (s) => s.id },
      )
      fc.assert(
        fc.property(zonedArb, keysArb, fc.nat(12), (servers, keys, n) => {
          const p = make(servers)
          const zoneOf = new Map(servers.map((s) => [s.id, s.zone ?? `own:${s.id}`]))
          for (const k of keys) {
            const ranking = p.ranking(k)
            const want: string[] = []
            for (const id of ranking) {
              if (want.length < n && !want.some((w) => zoneOf.get(w) === zoneOf.get(id))) want.push(id)
            }
            for (const id of ranking) if (want.length < n && !want.includes(id)) want.push(id)
            assert.deepEqual(p.pickN(k, n), want)
          }
        }),
        runs,
      )
    })

    test('pickN spreads replicas over distinct zones first', () => {
      const servers = [
        { id: 'a1', zone: 'a' },
        { id: 'a2', zone: 'a' },
        { id: 'a3', zone: 'a' },
        { id: 'b1', zone: 'b' },
        { id: 'b2', zone: 'b' },
        { id: 'c1', zone: 'c' },
        { id: 'x' },
      ]
      const p = make(servers)
      const zoneOf = new Map(servers.map((s) => [s.id, s.zone ?? s.id]))
      for (const k of sampleKeys(300)) {
        const three = p.pickN(k, 3)
        assert.equal(new Set(three.map((id) => zoneOf.get(id))).size, 3)
        const all = p.pickN(k, 7)
        assert.equal(new Set(all.slice(0, 4).map((id) => zoneOf.get(id))).size, 4)
        assert.deepEqual([...all].sort(), servers.map((s) => s.id).sort())
      }
    })
  })
}
