// Placement hot path: lookups/s, balance, movement and memory of our strategies against hashring, skeleton-rendezvous and jump hash.
import { createRequire } from 'node:module'
import HashRing from 'hashring'
import { idealCounts, maxOverMean, sampleKeyArray, sampleKeys } from '../src/cli/sample.js'
import { digestInto, lastA, lastB } from '../src/placement/hash.js'
import { HierarchicalRendezvous } from '../src/placement/hierarchical.js'
import { Rendezvous } from '../src/placement/rendezvous.js'
import { simd } from '../src/placement/simd.js'

const KEYS = 1_000_000
const SIZES = [10, 100, 1000, 10000]
const SEED = 20240601
/**
 * Balance of ours over all keys is judged on this many key sets of KEYS keys (the timed set and fresh ones): the
 * largest share of one set varies from set to set by about 40% of the 1% the target allows at N = 100.
 */
const BALANCE_SETS = 5
/** Timing: median of this many runs, after one warm-up run. */
const RUNS = 5
/**
 * Wall-clock budgets in seconds, [ours, baselines]: one timed run, and one placement pass (balance, add,
 * remove). A strategy too slow to do all keys within them uses fewer, and the output says so.
 */
const RUN_BUDGET = [0.4, 0.2] as const
const PASS_BUDGET = [2.5, 1] as const
/** Key counts used when a strategy is too slow for all 1M keys within the budget. */
const NICE_COUNTS = [1_000_000, 500_000, 200_000, 100_000, 50_000, 20_000, 10_000]

interface Srv {
  readonly id: string
  readonly weight: number
}

/** One built placement. `loop` is written out per strategy so that each timed call site stays monomorphic. */
interface Instance {
  pick(key: string): string
  loop(keys: readonly string[], count: number): number
  add(s: Srv): Instance
  remove(id: string): Instance
}

interface Strategy {
  readonly name: string
  /** Ours (held to the targets) or a baseline. */
  readonly ours: boolean
  /** Server i's weight; absent: equal weights. */
  readonly weight?: (i: number) => number
  build(servers: readonly Srv[]): Instance
  /** Which server the remove test takes out. */
  victim(servers: readonly Srv[]): string
  readonly note?: string
}

const middle = (servers: readonly Srv[]) => servers[Math.floor(servers.length / 2)]!.id

function flat(p: Rendezvous): Instance {
  return {
    pick: (k) => p.pick(k),
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) x += p.pick(keys[i]!).length
      return x
    },
    add: (s) => flat(p.add(s)),
    remove: (id) => flat(p.remove(id)),
  }
}

function weighted(p: Rendezvous): Instance {
  return {
    pick: (k) => p.pick(k),
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) x += p.pick(keys[i]!).length
      return x
    },
    add: (s) => weighted(p.add(s)),
    remove: (id) => weighted(p.remove(id)),
  }
}

function hierarchical(p: HierarchicalRendezvous): Instance {
  return {
    pick: (k) => p.pick(k),
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) x += p.pick(keys[i]!).length
      return x
    },
    add: (s) => hierarchical(p.add(s)),
    remove: (id) => hierarchical(p.remove(id)),
  }
}

function ring(servers: readonly Srv[]): Instance {
  const r = new HashRing(servers.map((s) => s.id))
  return {
    pick: (k) => r.get(k),
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) x += r.get(keys[i]!).length
      return x
    },
    add: (s) => ring([...servers, s]),
    remove: (id) => ring(servers.filter((s) => s.id !== id)),
  }
}

interface SkeletonHasher {
  findSite(key: string): string
}
const require = createRequire(import.meta.url)
const Skeleton = require('skeleton-rendezvous') as new (options: { sites: string[] }) => SkeletonHasher

function skeleton(servers: readonly Srv[]): Instance {
  const h = new Skeleton({ sites: servers.map((s) => s.id) })
  return {
    pick: (k) => h.findSite(k),
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) x += h.findSite(keys[i]!).length
      return x
    },
    add: (s) => skeleton([...servers, s]),
    remove: (id) => skeleton(servers.filter((s) => s.id !== id)),
  }
}

// Jump consistent hash (Lamping and Veach, 2014) over the 64-bit key digest of hash spec v1. The 64-bit LCG
// step key = key * 2862933555777941757 + 1 is done on two 32-bit halves.
const M_HI = 0x27bb2ee6
const M_LO = 0x87b0b0fd

/** Bucket in [0, buckets) for the 64-bit key (hi, lo). */
function jumpHash(hi: number, lo: number, buckets: number): number {
  let b = -1
  let j = 0
  while (j < buckets) {
    b = j
    // (hi, lo) = (hi, lo) * M + 1 (mod 2^64), with the 32x32 -> 64 product of the low words in 16-bit pieces.
    const a0 = lo & 0xffff
    const a1 = lo >>> 16
    const p00 = a0 * (M_LO & 0xffff)
    const p01 = a0 * (M_LO >>> 16)
    const p10 = a1 * (M_LO & 0xffff)
    const p11 = a1 * (M_LO >>> 16)
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)
    const low = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0
    hi = (Math.imul(hi, M_LO) + Math.imul(lo, M_HI) + carry) | 0
    lo = (low + 1) >>> 0
    if (lo === 0) hi = (hi + 1) | 0
    // j = (b + 1) * (2^31 / ((key >>> 33) + 1)), in doubles as in the paper
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)))
  }
  return b
}

function jump(servers: readonly Srv[]): Instance {
  const ids = servers.map((s) => s.id)
  const n = ids.length
  const pick = (k: string): string => {
    digestInto(k)
    return ids[jumpHash(lastA(), lastB(), n)]!
  }
  return {
    pick,
    loop(keys, count) {
      let x = 0
      for (let i = 0; i < count; i++) {
        digestInto(keys[i]!)
        x += ids[jumpHash(lastA(), lastB(), n)]!.length
      }
      return x
    },
    add: (s) => jump([...servers, s]),
    // Jump hash numbers its buckets: only the last one can leave without renumbering the others.
    remove: (id) => {
      if (id !== ids[n - 1]) throw new Error('jump hash can only remove its last bucket')
      return jump(servers.slice(0, -1))
    },
  }
}

// Adding a strategy is one line here.
const STRATEGIES: Strategy[] = [
  { name: 'flat', ours: true, build: (s) => flat(new Rendezvous(s)), victim: middle },
  {
    name: 'weighted 1..4',
    ours: true,
    weight: (i) => 1 + (i % 4),
    build: (s) => weighted(new Rendezvous(s)),
    victim: middle,
  },
  {
    // A different weight for every server (10007 is prime): the picks cannot group servers of equal weight.
    name: 'weighted distinct',
    ours: true,
    weight: (i) => 0.5 + ((i * 7919) % 10007) / 1000,
    build: (s) => weighted(new Rendezvous(s)),
    victim: middle,
  },
  {
    name: 'hierarchical',
    ours: true,
    build: (s) => hierarchical(new HierarchicalRendezvous(s)),
    victim: middle,
  },
  { name: 'hashring', ours: false, build: ring, victim: middle },
  { name: 'skeleton-rdv', ours: false, build: skeleton, victim: middle },
  {
    name: 'jump hash',
    ours: false,
    build: jump,
    victim: (s) => s[s.length - 1]!.id,
    note: 'jump hash: remove takes out the last bucket (it cannot remove any other)',
  },
]

interface Row {
  strategy: Strategy
  n: number
  rate: number
  timedKeys: number
  sampleKeys: number
  maxOverMean: number
  /** max/mean averaged over the balance key sets, and how many sets (1: the timed set alone). */
  balanceMean: number
  balanceSets: number
  ideal: number
  idealSd: number
  /** Pearson's chi-square of the counts against the weight shares, divided by its degrees of freedom. */
  chi2: number
  addRatio: number
  addSd: number
  removeSd: number
  addUntouched: number
  removeRatio: number
  removeUntouched: number
}

async function main(): Promise<void> {
  const started = performance.now()
  // First, while the heap holds nothing else: garbage left by the timed runs made this figure wander by 20%. Then
  // its own garbage is collected and its SIMD blocks freed (finalizers run on a later turn) before any timing.
  const memory = measureMemory()
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  await new Promise((resolve) => setTimeout(resolve, 200))
  gc?.()
  const keys = sampleKeyArray(KEYS, SEED)
  console.log(
    `placement bench: ${fmtInt(KEYS)} keys "user:" + 8-12 random characters; N = ${SIZES.join(', ')}; ` +
      `lookups/s = median of ${RUNS} rounds (each times every strategy once) after a warm-up; node ${process.version}`,
  )
  console.log(
    [
      'columns: x <baseline> = lookups/s ratio; max/mean = most loaded server / its fair share; ideal = the same for',
      '  a uniform random assignment of as many keys (mean±sd over 10 seeds); chi2/df = 1±sqrt(2/df) if as good as',
      '  random; moved/opt = keys moved / least possible (w/W), ±1 standard error of sampling; untouched = keys moved',
      '  between two servers the change did not touch. The table shows the timed key set; the balance targets of ours',
      `  over all keys use the mean of max/mean over ${BALANCE_SETS} key sets of that size (its standard error: sd/sqrt(${BALANCE_SETS}))`,
    ].join('\n'),
  )
  const rows: Row[] = []
  for (const n of SIZES) {
    const prepared = STRATEGIES.map((strategy) =>
      prepare(
        strategy,
        Array.from({ length: n }, (_, i) => ({ id: `s${i}`, weight: strategy.weight?.(i) ?? 1 })),
        keys,
      ),
    )
    const rates = timeAll(prepared, keys)
    rows.push(...prepared.map((p, i) => measure(p, rates[i]!, keys)))
    printBlock(n, rows)
  }
  printMemory(memory)
  printTargets(rows, memory)
  console.log(`\ntotal bench time ${((performance.now() - started) / 1000).toFixed(0)}s`)
}

/** A built strategy, warmed up, with the number of keys each timed run looks up. */
interface Prepared {
  strategy: Strategy
  servers: readonly Srv[]
  inst: Instance
  timedKeys: number
}

/**
 * Times every strategy at one N: RUNS rounds, each running every strategy once, so that all of them see the same
 * spells of the machine (its speed drifts from minute to minute, which skewed ratios timed one strategy after
 * another). Returns lookups/s (median of the rounds) by strategy, in order.
 */
function timeAll(prepared: readonly Prepared[], keys: readonly string[]): number[] {
  const times = prepared.map((): number[] => [])
  for (let r = 0; r < RUNS; r++) {
    prepared.forEach((p, i) => {
      const t = performance.now()
      p.inst.loop(keys, p.timedKeys)
      times[i]!.push(performance.now() - t)
    })
  }
  return prepared.map((p, i) => {
    const sorted = times[i]!.sort((a, b) => a - b)
    return p.timedKeys / (sorted[Math.floor(RUNS / 2)]! / 1000)
  })
}

function prepare(strategy: Strategy, servers: readonly Srv[], keys: readonly string[]): Prepared {
  const n = servers.length
  const inst = strategy.build(servers)
  // Warm-up, which also sizes the runs: as many keys as fit the budgets, at most all of them.
  let warm = Math.min(keys.length, 2000)
  let t0 = performance.now()
  inst.loop(keys, warm)
  let rate = warm / ((performance.now() - t0) / 1000)
  const budget = strategy.ours ? 0 : 1
  warm = Math.min(keys.length, Math.max(2000, Math.floor(rate * RUN_BUDGET[budget])))
  t0 = performance.now()
  inst.loop(keys, warm)
  rate = warm / ((performance.now() - t0) / 1000)
  // Ours at N <= 100 always run over all keys: those are the figures the targets are about.
  const timedKeys = strategy.ours && n <= 100 ? keys.length : niceCount(rate * RUN_BUDGET[budget])
  return { strategy, servers, inst, timedKeys }
}

/** Balance and movement of a prepared strategy timed at `measuredRate`. */
function measure(
  { strategy, servers, inst, timedKeys }: Prepared,
  measuredRate: number,
  keys: readonly string[],
): Row {
  const n = servers.length
  const budget = strategy.ours ? 0 : 1
  // Balance and movement over as many keys as fit one pass budget.
  const count = niceCount(measuredRate * PASS_BUDGET[budget])
  const index = new Map(servers.map((s, i) => [s.id, i]))
  const base = owners(inst, keys, count, index)
  const counts = new Float64Array(n)
  for (let k = 0; k < count; k++) counts[base[k]!]!++
  const weights = servers.map((s) => s.weight)
  const observed = maxOverMean(counts, weights)
  // Ours over all keys: the same figure on more key sets of the same size, averaged.
  let balanceSum = observed
  const balanceSets = strategy.ours && count === keys.length ? BALANCE_SETS : 1
  for (let set = 1; set < balanceSets; set++) {
    const c = new Float64Array(n)
    for (const key of sampleKeys(count, SEED + 1000 * set)) c[index.get(inst.pick(key))!]!++
    balanceSum += maxOverMean(c, weights)
  }
  // The reference: ideal random assignments of as many keys, averaged over 10 seeds to steady it; their spread
  // tells how much max/mean itself varies from one key set to another.
  const ideals = Array.from({ length: 10 }, (_, s) =>
    maxOverMean(idealCounts(weights, count, SEED + s), weights),
  )
  const ideal = ideals.reduce((a, b) => a + b, 0) / ideals.length
  const idealSd = Math.sqrt(ideals.reduce((a, b) => a + (b - ideal) ** 2, 0) / (ideals.length - 1))
  const totalW = weights.reduce((a, b) => a + b, 0)

  const added: Srv = { id: `s${n}`, weight: strategy.weight === undefined ? 1 : 2 }
  index.set(added.id, n)
  const addMoves = moves(base, owners(inst.add(added), keys, count, index), n)
  const victim = strategy.victim(servers)
  const victimIndex = index.get(victim)!
  const removeMoves = moves(base, owners(inst.remove(victim), keys, count, index), victimIndex)
  const addOptimal = added.weight / (totalW + added.weight)
  const removeOptimal = servers[victimIndex]!.weight / totalW
  return {
    strategy,
    n,
    rate: measuredRate,
    timedKeys,
    sampleKeys: count,
    maxOverMean: observed,
    balanceMean: balanceSum / balanceSets,
    balanceSets,
    chi2: chiSquare(counts, weights),
    ideal,
    idealSd,
    addRatio: addMoves.moved / count / addOptimal,
    // Binomial sampling error of moved/optimal: about 1 / sqrt(expected moved keys).
    addSd: Math.sqrt((1 - addOptimal) / (count * addOptimal)),
    removeSd: Math.sqrt((1 - removeOptimal) / (count * removeOptimal)),
    addUntouched: addMoves.betweenUntouched,
    removeRatio: removeMoves.moved / count / removeOptimal,
    removeUntouched: removeMoves.betweenUntouched,
  }
}

/** Chi-square / degrees of freedom: about 1 ± sqrt(2 / df) for a placement as good as random. */
function chiSquare(counts: Float64Array, weights: readonly number[]): number {
  let total = 0
  let wsum = 0
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!
    wsum += weights[i]!
  }
  let chi = 0
  for (let i = 0; i < counts.length; i++) {
    const e = (total * weights[i]!) / wsum
    chi += (counts[i]! - e) ** 2 / e
  }
  return chi / (counts.length - 1)
}

function niceCount(x: number): number {
  return NICE_COUNTS.find((c) => c <= x) ?? NICE_COUNTS[NICE_COUNTS.length - 1]!
}

function owners(
  inst: Instance,
  keys: readonly string[],
  count: number,
  index: Map<string, number>,
): Int32Array {
  const out = new Int32Array(count)
  for (let k = 0; k < count; k++) out[k] = index.get(inst.pick(keys[k]!))!
  return out
}

/** Keys whose owner changed, and those that moved between two servers other than `touched`. */
function moves(
  before: Int32Array,
  after: Int32Array,
  touched: number,
): { moved: number; betweenUntouched: number } {
  let moved = 0
  let betweenUntouched = 0
  for (let k = 0; k < before.length; k++) {
    const a = before[k]!
    const b = after[k]!
    if (a === b) continue
    moved++
    if (a !== touched && b !== touched) betweenUntouched++
  }
  return { moved, betweenUntouched }
}

function printBlock(n: number, all: Row[]): void {
  const rows = all.filter((r) => r.n === n)
  const byName = (name: string) => rows.find((r) => r.strategy.name === name)
  const ring = byName('hashring')
  const skel = byName('skeleton-rdv')
  const jmp = byName('jump hash')
  const head = [
    'strategy',
    'lookups/s',
    'x hashring',
    'x skeleton',
    'x jump',
    'max/mean',
    'ideal',
    'vs ideal',
    'chi2/df',
    'add moved/opt',
    'add untouched',
    'remove moved/opt',
    'remove untouched',
  ]
  const body = rows.map((r) => [
    r.strategy.name,
    `${fmtRate(r.rate)}${r.timedKeys < KEYS ? '*' : ''}`,
    ratio(r.rate, ring?.rate),
    ratio(r.rate, skel?.rate),
    ratio(r.rate, jmp?.rate),
    `${r.maxOverMean.toFixed(4)}${r.sampleKeys < KEYS ? '†' : ''}`,
    `${r.ideal.toFixed(4)}±${r.idealSd.toFixed(4)}`,
    `${((r.maxOverMean / r.ideal - 1) * 100).toFixed(2)}%`,
    r.chi2.toFixed(2),
    `${r.addRatio.toFixed(4)}±${r.addSd.toFixed(3)}`,
    fmtInt(r.addUntouched),
    `${r.removeRatio.toFixed(4)}±${r.removeSd.toFixed(3)}`,
    fmtInt(r.removeUntouched),
  ])
  console.log(`\nN = ${n}`)
  console.log(table(head, body))
  const sampled = rows.filter((r) => r.timedKeys < KEYS || r.sampleKeys < KEYS)
  for (const r of sampled) {
    console.log(
      `  ${r.strategy.name}: ${r.timedKeys < KEYS ? `* timed over ${fmtInt(r.timedKeys)} keys per run` : ''}` +
        `${r.timedKeys < KEYS && r.sampleKeys < KEYS ? '; ' : ''}` +
        `${r.sampleKeys < KEYS ? `† balance and movement over the first ${fmtInt(r.sampleKeys)} keys (ideal too)` : ''}`,
    )
  }
  for (const note of new Set(rows.flatMap((r) => (r.strategy.note ? [r.strategy.note] : [])))) {
    console.log(`  ${note}`)
  }
}

interface Memory {
  flat: number | undefined
  hierarchical: number | undefined
}

/** Heap (plus array buffer) bytes per server of a built placement at N = 10000, ids excluded. */
function measureMemory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return { flat: undefined, hierarchical: undefined }
  const n = 10000
  const ids = Array.from({ length: n }, (_, i) => `server-${i}`)
  const per = (build: () => unknown): number => {
    const copies = 5
    const keep: unknown[] = []
    gc()
    gc()
    const m0 = process.memoryUsage()
    const w0 = simdBytes()
    for (let c = 0; c < copies; c++) keep.push(build())
    gc()
    gc()
    const m1 = process.memoryUsage()
    // The SIMD picks' copies of the tables live in WebAssembly memory, which arrayBuffers does not count.
    const bytes = m1.heapUsed - m0.heapUsed + (m1.arrayBuffers - m0.arrayBuffers) + (simdBytes() - w0)
    if (keep.length !== copies) throw new Error('unreachable')
    return bytes / (copies * n)
  }
  const simdBytes = () => (simd === null ? 0 : simd.usage.end - simd.usage.free)
  const flatBytes = per(() => new Rendezvous(ids))
  const hierarchicalBytes = per(() => new HierarchicalRendezvous(ids))
  return { flat: flatBytes, hierarchical: hierarchicalBytes }
}

function printMemory(memory: Memory): void {
  if (memory.flat === undefined || memory.hierarchical === undefined) return
  console.log(
    `\nmemory at N = 10000 (heap + array buffers + SIMD copies after gc, ids excluded): flat ${memory.flat.toFixed(1)} bytes/server, ` +
      `hierarchical ${memory.hierarchical.toFixed(1)} bytes/server`,
  )
}

function printTargets(rows: Row[], memory: Memory): void {
  const get = (name: string, n: number) => rows.find((r) => r.strategy.name === name && r.n === n)
  // undefined: not measured; 'noise': the sample cannot decide: its standard error is larger than the
  // margin the target allows, or the figure is over the limit by less than 3 standard errors. Checks that do
  // not depend on sample size (0 keys between untouched servers) still fail outright.
  const lines: [boolean | 'noise' | undefined, string][] = []
  const rate = (name: string, n: number, min: number) => {
    const r = get(name, n)
    lines.push([
      r && r.rate >= min,
      `${name} at N=${n}: ${r ? fmtRate(r.rate) : 'n/a'} lookups/s >= ${fmtRate(min)}`,
    ])
  }
  rate('flat', 10, 15e6)
  rate('flat', 100, 3e6)
  for (const name of ['weighted 1..4', 'weighted distinct']) {
    for (const n of SIZES) {
      const w = get(name, n)
      const f = get('flat', n)
      const x = w && f ? w.rate / f.rate : Number.NaN
      lines.push([x >= 0.7, `${name} at N=${n}: ${x.toFixed(2)}x flat >= 0.70x`])
    }
  }
  rate('hierarchical', 1000, 3e6)
  rate('hierarchical', 10000, 2e6)
  for (const r of rows.filter((row) => row.strategy.ours)) {
    // The mean of `balanceSets` sets varies less than one set: its standard error is idealSd / sqrt(sets).
    const d = r.balanceMean / r.ideal - 1
    const sd = r.idealSd / Math.sqrt(r.balanceSets)
    const sets =
      r.balanceSets > 1
        ? `mean of ${r.balanceSets} sets of ${fmtInt(r.sampleKeys)} keys; the timed set alone ${r.maxOverMean.toFixed(4)}`
        : `${fmtInt(r.sampleKeys)} keys`
    lines.push([
      sd > 0.01 * r.ideal || (d > 0.01 && r.balanceMean <= r.ideal + 3 * sd) ? 'noise' : d <= 0.01,
      `balance ${r.strategy.name} at N=${r.n}: max/mean ${r.balanceMean.toFixed(4)} within 1% of ideal ` +
        `${r.ideal.toFixed(4)}±${r.idealSd.toFixed(4)} (${(d * 100).toFixed(2)}%, ${sets})`,
    ])
  }
  for (const r of rows.filter((row) => row.strategy.ours)) {
    const limit = r.strategy.name === 'hierarchical' ? 1.1 : 1.02
    const untouched = r.addUntouched + r.removeUntouched
    const within = (x: number, sd: number) =>
      sd > limit - 1 || (x > limit && x <= limit + 3 * sd) ? 'noise' : x <= limit
    const a = within(r.addRatio, r.addSd)
    const b = within(r.removeRatio, r.removeSd)
    const exact = limit > 1.02 || untouched === 0
    lines.push([
      !exact || a === false || b === false ? false : a === 'noise' || b === 'noise' ? 'noise' : true,
      `movement ${r.strategy.name} at N=${r.n}: add ${r.addRatio.toFixed(4)}±${r.addSd.toFixed(3)}, ` +
        `remove ${r.removeRatio.toFixed(4)}±${r.removeSd.toFixed(3)} ` +
        `<= ${limit.toFixed(2)}${limit > 1.02 ? '' : `, ${untouched} keys between untouched = 0`}`,
    ])
  }
  lines.push([
    memory.flat === undefined ? undefined : memory.flat <= 100,
    `memory flat: ${memory.flat === undefined ? 'n/a (run node with --expose-gc)' : `${memory.flat.toFixed(1)} bytes/server`} <= 100`,
  ])
  console.log('\nTARGETS (timings are noisy on a shared machine; ±: one standard error of sampling)')
  const label = (ok: boolean | 'noise' | undefined) =>
    ok === undefined ? 'SKIP  ' : ok === 'noise' ? 'UNSURE' : ok ? 'PASS  ' : 'FAIL  '
  for (const [ok, text] of lines) console.log(`  ${label(ok)}  ${text}`)
  const count = (v: boolean | 'noise' | undefined) => lines.filter(([ok]) => ok === v).length
  console.log(
    `  ${count(true)} pass, ${count(false)} fail, ${count('noise')} undecided by this sample ` +
      `(more keys needed to decide), ${count(undefined)} skipped`,
  )
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  return [head, ...rows].map(line).join('\n')
}

function ratio(a: number, b: number | undefined): string {
  return b === undefined ? '-' : `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : `${(r / 1e3).toFixed(1)}k`
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US')
}

await main()
