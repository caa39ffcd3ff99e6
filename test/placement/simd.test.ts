// The SIMD picks (pick.wat) give the same owner as the JavaScript loops and as the spec's ranking, for equal and
// unequal weights, flat and hierarchical, whatever the number of servers; and their memory is reused.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import fc from 'fast-check'
import { digest, laneAInto, lastA } from '../../src/placement/hash.js'
import { HierarchicalRendezvous, Rendezvous } from '../../src/placement/index.js'
import { digestServers, type Placement } from '../../src/placement/rendezvous.js'
import { normalizeServers, type ServerInput } from '../../src/placement/server.js'
import { setSimdEnabled, simd } from '../../src/placement/simd.js'
import { precheckSteps, ScoreTable } from '../../src/placement/table.js'

/** The same placement built with the SIMD picks and without them. */
function both<P extends Placement>(build: () => P): [P, P] {
  const on = build()
  setSimdEnabled(false)
  try {
    return [on, build()]
  } finally {
    setSimdEnabled(true)
  }
}

function agree(name: string, [on, off]: [Placement, Placement], keys: number, ranked: number): void {
  let differ = 0
  for (let i = 0; i < keys; i++) {
    const key = `user:${i}:${name}`
    const owner = on.pick(key)
    if (owner !== off.pick(key) || (i < ranked && owner !== on.ranking(key)[0])) differ++
  }
  assert.equal(differ, 0, `${name}: ${differ} of ${keys} keys differ`)
}

test('the SIMD picks are available on this runtime', () => {
  // Node 20 has WebAssembly SIMD: without it, the tests below would compare JavaScript with itself.
  assert.notEqual(simd, null)
})

test('pick-wasm.ts holds pick.wat compiled', () => {
  const res = spawnSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' })
  assert.equal(res.status, 0, res.stderr)
})

test('equal weights: SIMD and JavaScript picks agree for every server count', () => {
  for (const n of [
    1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 64, 100, 257, 1023, 1024, 1025, 2048, 2051, 5000,
  ]) {
    const ids = Array.from({ length: n }, (_, i) => `node-${i}`)
    agree(
      `flat ${n}`,
      both(() => new Rendezvous(ids)),
      n > 300 ? 1000 : 3000,
      200,
    )
  }
})

test('unequal weights: SIMD and JavaScript picks agree, close calls and wide spreads included', () => {
  const weightings: [string, (i: number) => number][] = [
    ['1..4', (i) => 1 + (i % 4)],
    ['one in 7 heavier', (i) => (i % 7 === 0 ? 3 : 1)],
    ['random', (i) => 0.1 + ((i * 7919) % 1000) / 100],
    ['nearly equal', (i) => 1 + (i % 2) * 1e-7],
    ['one heavy', (i) => (i === 3 ? 1000 : 1)],
    ['spread 2^90', (i) => 2 ** ((i % 10) * 10 - 45)],
    ['spread 2^200', (i) => 2 ** ((i % 5) * 50 - 100)],
  ]
  for (const [name, weight] of weightings) {
    for (const n of [2, 4, 5, 7, 10, 11, 33, 100, 1000, 1025, 3001, 4099]) {
      const servers: ServerInput[] = Array.from({ length: n }, (_, i) => ({
        id: `w-${i}`,
        weight: weight(i),
      }))
      agree(
        `${name} ${n}`,
        both(() => new Rendezvous(servers)),
        n > 300 ? 1000 : 3000,
        300,
      )
    }
  }
})

test('hierarchical groups (ranges of one table) agree too', () => {
  const ids = Array.from({ length: 700 }, (_, i) => `h-${i}`)
  agree(
    'hierarchical',
    both(() => new HierarchicalRendezvous(ids)),
    5000,
    300,
  )
  const weighted = ids.map((id, i) => ({ id, weight: 1 + (i % 3) }))
  agree(
    'hierarchical weighted',
    both(() => new HierarchicalRendezvous(weighted)),
    5000,
    300,
  )
})

test('memory of placements that are gone is reused', () => {
  // In a child with --expose-gc: build and drop many placements, collecting between rounds.
  const script = `
    import { Rendezvous } from './src/placement/index.ts'
    import { simd } from './src/placement/simd.ts'
    const ids = Array.from({ length: 1000 }, (_, i) => 'srv-' + i)
    const sizes = []
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) new Rendezvous(ids).pick('k' + i)
      globalThis.gc()
      await new Promise((resolve) => setTimeout(resolve, 20))
      globalThis.gc()
      sizes.push(simd.usage.end)
    }
    const kept = new Rendezvous(ids)
    console.log(JSON.stringify({ sizes, pick: kept.pick('some key') }))
  `
  const res = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  )
  assert.equal(res.status, 0, res.stderr)
  const { sizes, pick } = JSON.parse(res.stdout) as { sizes: number[]; pick: string }
  // 50 live tables of 1000 servers take about 200 kB; without reuse ten rounds would take ten times that.
  const one = 1000 * 4 + 32
  assert.ok(sizes.at(-1)! <= 60 * one, `memory in use after 10 rounds: ${sizes.join(', ')} bytes`)
  assert.equal(pick, new Rendezvous(Array.from({ length: 1000 }, (_, i) => `srv-${i}`)).pick('some key'))
})

test('the SIMD pick of a whole table decides most keys, and every key it decides as the JavaScript loops do', () => {
  // Over 1024 slots the table picks in blocks merged in pick.wat: a wrong merge gives a wrong owner, and one
  // that never decides (always -1) would leave every key to JavaScript and still agree, so both are checked.
  const weightings: [string, (i: number) => number][] = [
    ['equal', () => 1],
    ['1..4', (i) => 1 + (i % 4)],
    // Classes of unequal sizes: lanes that run out at different rows, past which they are masked.
    ['one in 7 heavier', (i) => (i % 7 === 0 ? 3 : 1)],
    ['three classes', (i) => [1, 2, 2, 5, 5, 5, 5][i % 7]!],
    ['random', (i) => 0.1 + ((i * 7919) % 1000) / 100],
  ]
  for (const [name, weight] of weightings) {
    for (const n of [10, 100, 1000, 1024, 1025, 2049, 4100, 9001]) {
      const servers = normalizeServers(
        Array.from({ length: n }, (_, i) => ({ id: `t-${i}`, weight: weight(i) })),
      )
      const table = new ScoreTable(servers, digestServers(servers), [...servers.keys()])
      const keys = 2000
      let decided = 0
      for (let i = 0; i < keys; i++) {
        const key = `key:${i}`
        laneAInto(key)
        const ka = lastA()
        const r = table.pickSimd(ka)
        if (r < 0) continue
        decided++
        assert.equal(r, table.pickExact(ka, key, 0, n), `${name} ${n}: key ${key}`)
      }
      assert.ok(decided >= 0.95 * keys, `${name} ${n}: SIMD decided ${decided} of ${keys} keys`)
    }
  }
})

test('keys the SIMD weighted pick leaves undecided are settled among the servers its bounds name, as JavaScript settles them', () => {
  // Those keys go to simd.close, which names the servers whose lower bound reaches the winner's upper bound; a
  // bound too tight there would leave the true winner out. The names it gives are recorded on the way.
  const close = simd!.close
  let named: number[] | null = null
  simd!.close = function (this: typeof simd, ...args: Parameters<typeof close>) {
    const near = close.apply(this, args)
    named = near === null ? null : [...near]
    return near
  }
  try {
    for (const n of [40, 1000, 5000]) {
      const servers = normalizeServers(
        Array.from({ length: n }, (_, i) => ({ id: `c-${i}`, weight: 0.5 + ((i * 7919) % 10007) / 1000 })),
      )
      const digests = digestServers(servers)
      const slots = [...servers.keys()]
      const on = new ScoreTable(servers, digests, slots)
      setSimdEnabled(false)
      const off = new ScoreTable(servers, digests, slots)
      setSimdEnabled(true)
      let undecided = 0
      for (let i = 0; i < 200_000 && undecided < 30; i++) {
        const key = `close:${i}`
        laneAInto(key)
        const ka = lastA()
        if (on.pickSimd(ka) >= 0) continue
        undecided++
        named = null
        const got = on.pickExact(ka, key, 0, n)
        const exact = off.pickExact(ka, key, 0, n)
        assert.ok(named !== null, `${n}: key ${key}: simd.close named no servers`)
        assert.ok((named as number[]).includes(exact), `${n}: key ${key}: winner ${exact} not in ${named}`)
        assert.equal(got, exact, `${n}: key ${key}`)
      }
      assert.equal(undecided, 30, `${n}: only ${undecided} undecided keys found`)
    }
  } finally {
    simd!.close = close
  }
})

test('the steps of the quick weighted decision hold for the worst winners: B that many bits above A is above the upper bound', () => {
  // The claim of precheckSteps, checked against pick.wat's arithmetic: a winner with draw distance D (x = D - 1)
  // and factor iw packs A (f32 steps as in `weighted`, low 10 bits dropped); `$upper` is 1.000004 iw (D +
  // D^2/2^22 + D^3 / (3 * 2^42) + D^4 / (4 (2^21 - D) 2^42)). The least B the step lets through must be above it.
  const f32 = new Float32Array(1)
  const u32 = new Uint32Array(f32.buffer)
  const bitsOf = (x: number) => {
    f32[0] = x
    return u32[0]!
  }
  const ofBits = (b: number) => {
    u32[0] = b
    return f32[0]!
  }
  let seed = 7
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 2 ** 32
  }
  let checked = 0
  for (const iwMax of [1, 2, 21, 1000, 2 ** 40, 2 ** 99]) {
    const steps = precheckSteps(Math.fround(iwMax))
    for (let i = 0; i < 60_000; i++) {
      // iw: often the largest or the smallest factor, else log-uniform; A: near the bottom of its binade or anywhere
      const r = rnd()
      const iw = Math.fround(
        r < 0.3 ? iwMax : r < 0.5 ? 1 - 2 ** -20 : Math.max(1 - 2 ** -20, iwMax ** rnd()),
      )
      const target = 2 ** Math.floor(rnd() * 21) * (rnd() < 0.5 ? 1 + rnd() * 2 ** -10 : 1 + rnd())
      const x = Math.min(2 ** 21 - 2, Math.max(0, Math.floor(target / iw)))
      for (const tight of [0, 1]) {
        let p = Math.fround(x)
        if (tight) {
          // 0x1555554 * 2^-68: pick.wat's f32 constant 0x1.555554p-44, 2^-42 / 3 rounded down
          const cubic = Math.fround(2 ** -22 + Math.fround(p * 0x1555554 * 2 ** -68))
          p = Math.fround(p + Math.fround(Math.fround(p * p) * cubic))
        }
        p = Math.fround(p * iw)
        const ab = (bitsOf(p) & -1024) >>> 0
        const e = (ab >>> 20) - 1016
        if (e < 0 || e >= 168) continue
        const k = steps[tight * 168 + e]!
        // Steps past the largest finite float let through only a second bound of +Infinity (no other server).
        if (ab + k + 1 >= 0x7f800000) continue
        const d = x + 1
        const upper =
          1.000004 *
          iw *
          (d + d ** 2 / 2 ** 22 + d ** 3 / (3 * 2 ** 42) + d ** 4 / (4 * (2 ** 21 - d) * 2 ** 42))
        const b = ofBits(ab + k + 1)
        assert.ok(
          b * (1 - 2 ** -22) > upper,
          `iwMax ${iwMax}, iw ${iw}, x ${x}, tight ${tight}: B ${b} <= ${upper}`,
        )
        checked++
      }
    }
  }
  assert.ok(checked > 300_000, `only ${checked} cases had a step`)
})

test('weighted picks the SIMD pick decides from the two smallest bounds alone agree with JavaScript, close calls included', () => {
  // Its steps (table.ts, precheckSteps) are worked out from worst cases; a step too small decides close calls
  // wrongly, and close calls are what many keys over few servers, some of nearly equal weight, bring.
  const weightings: [string, (i: number) => number][] = [
    ['distinct', (i) => 0.5 + ((i * 7919) % 10007) / 1000],
    ['pairs nearly equal', (i) => 1 + (i >> 1) + (i % 2) * 1e-6],
    ['wide', (i) => 2 ** ((i * 13) % 40)],
  ]
  for (const [name, weight] of weightings) {
    for (const n of [5, 10, 33, 100]) {
      const servers = normalizeServers(
        Array.from({ length: n }, (_, i) => ({ id: `p-${i}`, weight: weight(i) })),
      )
      const table = new ScoreTable(servers, digestServers(servers), [...servers.keys()])
      for (let i = 0; i < 40_000; i++) {
        const key = `pre:${i}`
        laneAInto(key)
        const ka = lastA()
        const r = table.pickSimd(ka)
        if (r >= 0) assert.equal(r, table.pickExact(ka, key, 0, n), `${name} ${n}: key ${key}`)
      }
    }
  }
})

test('laneAInto computes lane A of the full digest, for any bytes and any string', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 30 })),
      (key) => {
        laneAInto(key)
        assert.equal(lastA(), digest(key)[0])
      },
    ),
  )
})
