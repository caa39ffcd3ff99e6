// The fast picks decide from part of each draw and must fall back whenever that part cannot decide. Equal
// weights: the top 21 bits first, and servers that tie there are told apart by the whole draw (lane B), as the
// spec's ranking does. Unequal weights on few servers: bounds from the top 12 bits first, and close calls go to
// the exact loop.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { digest, fmix32 } from '../../src/placement/hash.js'
import { HierarchicalRendezvous, Rendezvous } from '../../src/placement/index.js'

/** Server ids whose draws for `key` share their top 21 bits, and ids that score below both. */
function tiedServers(key: string): { pair: [string, string]; lower: string[] } {
  const [ka] = digest(key)
  const top = (id: string) => fmix32(ka ^ digest(id)[0]) >>> 11
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const id = `srv-${i}`
    const t = top(id)
    const other = seen.get(t)
    if (other !== undefined) {
      const lower: string[] = []
      for (let j = 0; lower.length < 40; j++) if (top(`low-${j}`) < t) lower.push(`low-${j}`)
      return { pair: [other, id], lower }
    }
    seen.set(t, id)
  }
}

test('servers tied on the top bits of their draws are ordered by the whole draw, wherever they sit', () => {
  for (const key of ['user:1', 'user:2', 'ключ', '']) {
    const { pair, lower } = tiedServers(key)
    // The reference: the ranking sorts by the full 53-bit draw.
    const winner = new Rendezvous([...pair]).ranking(key)[0]!
    for (let n = 0; n <= lower.length; n += 5) {
      // The pair next to each other and a few slots apart: the fast pick runs over alternate slots in two
      // chains, and a tie must be seen within one chain and across the two.
      for (const [at, gap] of [0, Math.floor(n / 2), n].flatMap((at) => [1, 2, 3].map((gap) => [at, gap]))) {
        const ids = [...lower.slice(0, n)]
        ids.splice(at!, 0, pair[0])
        ids.splice(Math.min(at! + gap!, ids.length), 0, pair[1])
        const p = new Rendezvous(ids)
        assert.equal(
          p.pick(key),
          winner,
          `key ${key}, ${ids.length} servers, pair at ${at} and ${at! + gap!}`,
        )
        assert.equal(p.ranking(key)[0], winner)
        assert.equal(p.pickN(key, 2)[0], winner)
        assert.equal(new Rendezvous([...ids].reverse()).pick(key), winner)
        assert.equal(new HierarchicalRendezvous(ids, { groups: 1 }).pick(key), winner)
      }
    }
  }
})

test('pickN keeps servers tied on the top bits with the last one it keeps, as the ranking orders them', () => {
  for (const key of ['user:1', 'user:2', 'ключ', '']) {
    const { pair, lower } = tiedServers(key)
    const [ka] = digest(key)
    const t = fmix32(ka ^ digest(pair[0])[0]) >>> 11
    // One server above the pair: with pickN(2) the first of the pair is the last one kept when the second comes.
    let high = ''
    for (let j = 0; high === ''; j++) if (fmix32(ka ^ digest(`high-${j}`)[0]) >>> 11 > t) high = `high-${j}`
    for (const ids of [
      [high, pair[0], ...lower.slice(0, 10), pair[1]],
      [pair[1], ...lower.slice(0, 10), pair[0], high],
      [...lower.slice(0, 5), pair[0], high, pair[1]],
    ]) {
      for (const p of [new Rendezvous(ids), new HierarchicalRendezvous(ids, { groups: 1 })]) {
        const ranking = p.ranking(key)
        assert.deepEqual(ranking.slice(0, 3).sort(), [high, ...pair].sort())
        for (const n of [2, 3]) assert.deepEqual(p.pickN(key, n), ranking.slice(0, n), `key ${key}, n ${n}`)
      }
    }
  }
})

test('weighted picks and pickN on few servers agree with the ranking on every key, close calls included', () => {
  const cases: number[][] = [
    [1, 2],
    [1, 1.0000001, 2],
    Array.from({ length: 10 }, (_, i) => 1 + (i % 4)),
    Array.from({ length: 32 }, (_, i) => 0.5 + i / 7),
  ]
  for (const weights of cases) {
    const p = new Rendezvous(weights.map((weight, i) => ({ id: `s${i}`, weight })))
    let differ = 0
    let differN = 0
    for (let i = 0; i < 10_000; i++) {
      const key = `user:${i}`
      const ranking = p.ranking(key)
      if (p.pick(key) !== ranking[0]) differ++
      // pickN passes over servers by bounds too: its close calls are the second and third places.
      if (p.pickN(key, 3).join() !== ranking.slice(0, 3).join()) differN++
    }
    assert.equal(differ, 0, `${weights.length} servers: pick differs from ranking on ${differ} keys`)
    assert.equal(differN, 0, `${weights.length} servers: pickN differs from ranking on ${differN} keys`)
  }
})

test('weighted picks tell apart servers of one weight tied on the top bits of their draws', () => {
  for (const key of ['user:1', 'user:2', 'ключ', '']) {
    const { pair, lower } = tiedServers(key)
    // The pair far heavier than the rest, so that one of them wins; four weights in all, so that the SIMD pick
    // gives each weight a lane of its own and the pair shares one.
    const servers = [
      ...pair.map((id) => ({ id, weight: 100 })),
      ...lower.slice(0, 12).map((id, i) => ({ id, weight: [1, 1.5, 2][i % 3]! })),
    ]
    const p = new Rendezvous(servers)
    assert.equal(p.pick(key), p.ranking(key)[0], `key ${key}`)
    assert.ok(pair.includes(p.pick(key)))
  }
})
