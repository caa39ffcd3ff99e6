// Hash spec v1 conformance: the TypeScript and the independent Python implementation reproduce every vector.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { digest, draw53, type Key, weightedScore } from '../../src/placement/hash.js'
import { Rendezvous } from '../../src/placement/rendezvous.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FILE = join(ROOT, 'test', 'vectors', 'hash-spec-v1.json')

interface Vector {
  name: string
  tags: string[]
  key: { utf8?: string; hex: string }
  keyDigest: [number, number]
  servers: { id: string; weight: number; zone?: string }[]
  draws: { id: string; d: string; score: string }[]
  ranking: string[]
  pick: string
  pickN: { n: number; ids: string[] }[]
}
interface VectorFile {
  version: number
  vectorCount: number
  categories: Record<string, number>
  idDigests: { id: string; hex: string; digest: [number, number] }[]
  vectors: Vector[]
}

const data = JSON.parse(readFileSync(FILE, 'utf8')) as VectorFile
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))

/** Every way the TypeScript implementation disagrees with one vector (empty when it conforms). */
function mismatches(v: Vector): string[] {
  const out: string[] = []
  const bytes = fromHex(v.key.hex)
  const key: Key = v.key.utf8 ?? bytes
  if (
    v.key.utf8 !== undefined &&
    Buffer.from(new TextEncoder().encode(v.key.utf8)).toString('hex') !== v.key.hex
  ) {
    out.push('TextEncoder bytes of key.utf8 differ from key.hex')
  }
  for (const [how, k] of [
    ['key', key],
    ['key bytes', bytes],
  ] as const) {
    const d = digest(k)
    if (d[0] !== v.keyDigest[0] || d[1] !== v.keyDigest[1])
      out.push(`digest of ${how} ${d} != ${v.keyDigest}`)
  }
  const [ka, kb] = v.keyDigest
  for (const rec of v.draws) {
    const [sa, sb] = digest(rec.id)
    const d = draw53(ka, kb, sa, sb)
    if (String(d) !== rec.d) out.push(`draw for ${rec.id}: ${d} != ${rec.d}`)
    const w = v.servers.find((s) => s.id === rec.id)!.weight
    const score = String(weightedScore(Math.log(w), d))
    if (score !== rec.score) out.push(`score for ${rec.id}: ${score} != ${rec.score}`)
  }
  const r = new Rendezvous(v.servers)
  const ranking = r.ranking(key).slice(0, v.ranking.length)
  if (ranking.join('\n') !== v.ranking.join('\n')) out.push(`ranking ${ranking} != ${v.ranking}`)
  if (r.pick(key) !== v.pick) out.push(`pick ${r.pick(key)} != ${v.pick}`)
  for (const p of v.pickN) {
    const ids = r.pickN(key, p.n)
    if (ids.join('\n') !== p.ids.join('\n')) out.push(`pickN(${p.n}) ${ids} != ${p.ids}`)
  }
  // The other entry points agree with ranking().
  const scored = r.scores(key).map((s) => s.id)
  if (scored.slice(0, v.ranking.length).join('\n') !== v.ranking.join('\n'))
    out.push('scores() order != ranking')
  return out
}

test('hash-spec-v1: the TypeScript implementation reproduces every vector', () => {
  const failures = data.vectors.flatMap((v) => mismatches(v).map((m) => `${v.name}: ${m}`))
  assert.deepEqual(
    failures.slice(0, 20),
    [],
    `${failures.length} mismatches (placement changed? see docs/hash-spec.md §6)`,
  )
})

test('hash-spec-v1: server id digests', () => {
  for (const rec of data.idDigests) {
    assert.equal(Buffer.from(new TextEncoder().encode(rec.id)).toString('hex'), rec.hex, rec.id)
    assert.deepEqual(digest(rec.id), rec.digest, rec.id)
    assert.deepEqual(digest(fromHex(rec.hex)), rec.digest, rec.id)
  }
})

test('hash-spec-v1: the Python implementation reproduces every vector', (t) => {
  const res = spawnSync('python3', [join(ROOT, 'python', 'check_vectors.py'), FILE], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  if ((res.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    const why = 'python3 is not installed: the independent Python check of the hash spec vectors did not run'
    if (process.env.CI === 'true') assert.fail(`${why} (required in CI)`)
    t.skip(why)
    return
  }
  assert.ifError(res.error)
  const line = /hash-spec-v1: (\d+) vectors, (\d+) passed, (\d+) failed/.exec(res.stdout)
  assert.ok(line, `no summary line from check_vectors.py:\n${res.stdout}\n${res.stderr}`)
  assert.equal(res.status, 0, `check_vectors.py failed:\n${res.stdout}\n${res.stderr}`)
  assert.equal(Number(line[1]), data.vectors.length)
  assert.equal(Number(line[2]), data.vectors.length)
  assert.equal(Number(line[3]), 0)
})

test('hash-spec-v1: the vector file is large enough and covers every category', () => {
  assert.equal(data.version, 1)
  assert.equal(data.vectorCount, data.vectors.length)
  assert.ok(data.vectors.length >= 200, `only ${data.vectors.length} vectors`)
  const counted: Record<string, number> = {}
  for (const v of data.vectors) for (const tag of v.tags) counted[tag] = (counted[tag] ?? 0) + 1
  assert.deepEqual(counted, data.categories, 'categories must match the tags of the vectors')
  const minimum: Record<string, number> = {
    ascii: 20,
    'utf8-2byte': 10,
    'utf8-3byte': 10,
    astral: 10,
    'lone-surrogate': 10,
    'empty-key': 3,
    binary: 20,
    'invalid-utf8': 10,
    'tail-0': 20,
    'tail-1': 20,
    'tail-2': 20,
    'tail-3': 20,
    'servers-1': 3,
    'servers-2': 5,
    'servers-3': 5,
    'servers-10': 20,
    'servers-100': 10,
    'servers-1000': 3,
    'unicode-ids': 10,
    'equal-weights': 20,
    'unequal-weights': 20,
    'tiny-weights': 5,
    'huge-weights': 5,
    'mixed-tiny-huge': 5,
    'extreme-weight-ratio': 3,
    zones: 20,
    'zones-partial': 5,
    'pickN-over': 20,
    'id-tie': 3,
    'u-one': 1,
    'draw-top-bucket': 5,
  }
  for (const [tag, min] of Object.entries(minimum)) {
    assert.ok(
      (counted[tag] ?? 0) >= min,
      `category ${tag}: ${counted[tag] ?? 0} vectors, want at least ${min}`,
    )
  }
  const lengths = new Set(data.vectors.map((v) => fromHex(v.key.hex).length))
  for (let n = 0; n <= 40; n++) assert.ok(lengths.has(n), `no key of ${n} bytes`)
})
