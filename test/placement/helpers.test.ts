// Bounded-load selection and the analysis helpers (balance, movement) against hand-computable cases.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  balance,
  HierarchicalRendezvous,
  movement,
  optimalMoveFraction,
  type Placement,
  pickBounded,
  Rendezvous,
  touchedServers,
} from '../../src/placement/index.js'

const keys = Array.from({ length: 20_000 }, (_, i) => `key:${i}`)

test('pickBounded returns the owner while it has room', () => {
  const p = new Rendezvous(['a', 'b', 'c', 'd'])
  for (const k of keys.slice(0, 200)) assert.equal(pickBounded(p, k, new Map(), 0.25), p.pick(k))
})

test('pickBounded skips overloaded servers in ranking order', () => {
  const p = new Rendezvous(['a', 'b', 'c', 'd'])
  for (const k of keys.slice(0, 200)) {
    const [first, second, third] = p.ranking(k)
    // total load 100 + 1; mean 25.25; cap (1 + 0.1) x 25.25 = 27.8
    const loads = { [first!]: 50, [second!]: 50 }
    assert.equal(pickBounded(p, k, loads, 0.1), third)
    assert.equal(
      pickBounded(p, k, (id) => (id === first ? 40 : 0), 0.1),
      second,
    )
  }
})

test('pickBounded keeps every server within (1 + eps) x mean when placing a stream of requests', () => {
  const p = new Rendezvous(['a', 'b', 'c', 'd', 'e'])
  const loads = new Map<string, number>()
  // A skewed stream: a few hot keys repeated many times.
  for (let i = 0; i < 5000; i++) {
    const k = `hot:${i % 3}`
    const id = pickBounded(p, k, loads, 0.2)
    loads.set(id, (loads.get(id) ?? 0) + 1)
  }
  const mean = 5000 / 5
  for (const [id, l] of loads) assert.ok(l <= Math.ceil(1.2 * mean) + 1, `${id} has ${l}`)
})

test('pickBounded is the first server with room in the whole ranking, however far down it is', () => {
  // The reference walks the whole ranking; pickBounded reads prefixes of it. Loads put most servers over
  // capacity, so that keys spill past the short prefixes (2 to 32) and into the whole ranking.
  const reference = (p: Placement, key: string, loads: Map<string, number>, eps: number) => {
    let total = 1
    let weights = 0
    for (const s of p.servers) {
      total += loads.get(s.id) ?? 0
      weights += s.weight
    }
    const room = (id: string) => (loads.get(id) ?? 0) + 1 <= ((1 + eps) * total * p.get(id)!.weight) / weights
    return p.ranking(key).find(room) ?? p.pick(key)
  }
  let seed = 11
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 2 ** 32
  }
  for (const n of [3, 40, 300]) {
    for (const weighted of [false, true]) {
      const servers = Array.from({ length: n }, (_, i) => ({
        id: `s${i}`,
        weight: weighted ? 1 + (i % 4) : 1,
      }))
      for (const p of [new Rendezvous(servers), new HierarchicalRendezvous(servers)] as Placement[]) {
        for (const k of keys.slice(0, 20)) {
          // The servers before depth `at` of the key's ranking loaded far over their capacity, those after it
          // idle: the answer is the server at `at`. (The loaded ones are over as long as they hold less than
          // 1 / (1 + eps) of the total weight, so the depths stop at two thirds of the ranking.)
          const ranking = p.ranking(k)
          for (const at of [1, 2, 3, 4, 31, 32, 33, 100, 200].filter((d) => d < (2 * n) / 3)) {
            const loads = new Map(ranking.map((id, i) => [id, i < at ? 1e6 * p.get(id)!.weight : 0]))
            assert.equal(pickBounded(p, k, loads, 0.25), ranking[at], `${n} ${k} at ${at}`)
          }
        }
        for (const full of [0.5, 0.9, 0.99, 1]) {
          // A fraction `full` of the servers far over capacity, the others idle (full = 1: all over, the owner).
          const loads = new Map(p.servers.map((s) => [s.id, random() < full ? 1000 : 0]))
          for (const k of keys.slice(0, 100)) {
            assert.equal(pickBounded(p, k, loads, 0.25), reference(p, k, loads, 0.25), `${n} ${full} ${k}`)
          }
        }
      }
    }
  }
})

test('pickBounded respects weights and validates eps and loads', () => {
  const p = new Rendezvous([
    { id: 'big', weight: 3 },
    { id: 'small', weight: 1 },
  ])
  const loads = new Map<string, number>()
  for (let i = 0; i < 4000; i++) {
    const id = pickBounded(p, 'same-key', loads, 0.05)
    loads.set(id, (loads.get(id) ?? 0) + 1)
  }
  assert.ok(loads.get('big')! <= 1.05 * 3000 + 1 && loads.get('small')! <= 1.05 * 1000 + 1)
  assert.throws(() => pickBounded(p, 'k', {}, 0), /eps must be a positive/)
  assert.throws(() => pickBounded(p, 'k', { big: -1 }, 0.1), /load of "big"/)
})

test('balance counts every key and compares with weight shares', () => {
  const p = new Rendezvous([
    { id: 'a', weight: 1 },
    { id: 'b', weight: 3 },
  ])
  const b = balance(p, keys)
  assert.equal(b.keys, keys.length)
  assert.equal(
    [...b.counts.values()].reduce((x, y) => x + y),
    keys.length,
  )
  assert.equal(b.expected.get('b'), 0.75)
  assert.ok(b.maxOverMean >= 1 && b.minOverMean <= 1)
  assert.ok(Math.abs(b.shares.get('b')! - 0.75) < 0.02)
})

test('movement: removal from n servers moves about 1/n, optimally, and nothing between untouched servers', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `s${i}`)
  for (const before of [new Rendezvous(ids), new HierarchicalRendezvous(ids)]) {
    const m = movement(before, before.remove('s3'), keys)
    assert.ok(Math.abs(m.optimalFraction - 0.1) < 1e-12)
    assert.equal(m.betweenUntouched, 0)
    assert.deepEqual([...m.touched], ['s3'])
    assert.deepEqual([...m.flows.keys()], ['s3'])
    assert.ok(Math.abs(m.ratio - 1) < 0.1, `ratio ${m.ratio}`)
  }
})

test('optimalMoveFraction and touchedServers for re-weighting and adding', () => {
  const a = new Rendezvous([
    { id: 'x', weight: 1 },
    { id: 'y', weight: 1 },
  ])
  const b = a.setWeight('x', 3)
  assert.equal(optimalMoveFraction(a, b), 0.25)
  assert.deepEqual([...touchedServers(a, b)], ['x'])
  const c = a.add('z')
  assert.ok(Math.abs(optimalMoveFraction(a, c) - 1 / 3) < 1e-12)
  assert.deepEqual([...touchedServers(a, c)], ['z'])
  assert.ok(Number.isNaN(movement(a, a, keys.slice(0, 10)).ratio))
})
