// Generates test/vectors/hash-spec-v1.json, the hash spec v1 test vectors, from the TypeScript implementation.
// Run with `npx tsx scripts/gen-vectors.ts`. Output is deterministic (fixed-seed PRNG), so a diff means a change.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { digest, draw53, type Key, weightedScore } from '../src/placement/hash.js'
import { Rendezvous } from '../src/placement/rendezvous.js'

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'vectors', 'hash-spec-v1.json')
const SEED = 0x52445631

/** Servers above this count get only the first RANKING_PREFIX ids of their ranking recorded. */
const FULL_RANKING_MAX = 100
const RANKING_PREFIX = 20
/** Draws and scores are recorded for this many servers of each vector, in listing order. */
const DRAWS_RECORDED = 6
const MAX_DRAW = 2 ** 53 - 1
const TOP_BUCKET = 4095 * 2 ** 41

/**
 * 8-byte keys whose draw against one server is 2^53 - 1, so u = 1, -ln(u) = 0 and the score is +infinity
 * (found by inverting fmix32 and the last block's lane updates, then a 2^32 search over the first block).
 */
const U_ONE_KEYS: Record<string, string> = { t3: '7d6e090062ce8761', b: 'b76379008b2731db' }

/**
 * Two ids with equal 64-bit digests (found by a 2^32 search over the last block; the lane updates are
 * bijective in the block, so both lanes can be made to meet). Every key draws the same `d` for both, so
 * only rule 3 of section 5 (id order by UTF-8 bytes) can order them, and UTF-16 order would get it wrong:
 * U+FF61 < U+1F600 in UTF-8, but the surrogate 0xD83D < 0xFF61 in UTF-16. Any common suffix keeps the
 * collision.
 */
const TIE_IDS = ['\uFF61byxF7Djz[', '\u{1F600}WjyZibE{'] as const

interface ServerRecord {
  id: string
  weight: number
  zone?: string
}

interface Vector {
  name: string
  tags: string[]
  key: { utf8?: string; hex: string }
  keyDigest: [number, number]
  servers: ServerRecord[]
  draws: { id: string; d: string; score: string }[]
  ranking: string[]
  pick: string
  pickN: { n: number; ids: string[] }[]
}

// ---- deterministic randomness (mulberry32) ----

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rng = mulberry32(SEED)
const int = (n: number): number => Math.floor(rng() * n)
const choice = <T>(xs: readonly T[]): T => xs[int(xs.length)]!

type Pool = readonly [number, number]
const PRINTABLE: Pool = [0x20, 0x7e]
const TWO_BYTE: Pool = [0x80, 0x7ff]
const THREE_BYTE: Pool = [0x800, 0xffff]
const ASTRAL: Pool = [0x10000, 0x10ffff]
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

function randomChar(pool: Pool): string {
  for (;;) {
    const cp = pool[0] + int(pool[1] - pool[0] + 1)
    if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp)
  }
}
function randomString(chars: number, pools: readonly Pool[]): string {
  let s = ''
  for (let i = 0; i < chars; i++) s += randomChar(choice(pools))
  return s
}
function alnum(n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += ALNUM[int(ALNUM.length)]
  return s
}
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = int(256)
  return b
}

// ---- helpers ----

const utf8 = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytesOf = (key: Key): Uint8Array => (typeof key === 'string' ? utf8.encode(key) : key)

function keyTags(key: Key): string[] {
  const b = bytesOf(key)
  const tags = [`tail-${b.length % 4}`]
  if (b.length === 0) tags.push('empty-key')
  if (typeof key !== 'string') {
    tags.push('binary')
    try {
      strictDecoder.decode(b)
    } catch {
      tags.push('invalid-utf8')
    }
    return tags
  }
  if (!key.isWellFormed()) tags.push('lone-surrogate')
  let ascii = key.length > 0
  for (const ch of key) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0x80) ascii = false
    if (cp >= 0x80 && cp <= 0x7ff) tags.push('utf8-2byte')
    else if (cp >= 0x800 && cp <= 0xffff && (cp < 0xd800 || cp > 0xdfff)) tags.push('utf8-3byte')
    else if (cp > 0xffff) tags.push('astral')
  }
  if (ascii) tags.push('ascii')
  return tags
}

function serverTags(servers: readonly ServerRecord[]): string[] {
  const tags = [`servers-${servers.length}`]
  const weights = servers.map((s) => s.weight)
  const wmax = Math.max(...weights)
  tags.push(weights.every((w) => w === wmax) ? 'equal-weights' : 'unequal-weights')
  const tiny = weights.some((w) => w < 1e-290)
  const huge = weights.some((w) => w > 1e290)
  if (tiny) tags.push('tiny-weights')
  if (huge) tags.push('huge-weights')
  if (tiny && huge) tags.push('mixed-tiny-huge')
  if (wmax / Math.min(...weights) > 2 ** 1000) tags.push('extreme-weight-ratio')
  if (servers.some((s) => /[^\x20-\x7e]/.test(s.id))) tags.push('unicode-ids')
  const zoned = servers.filter((s) => s.zone !== undefined).length
  if (zoned > 0) tags.push('zones')
  if (zoned > 0 && zoned < servers.length) tags.push('zones-partial')
  const ids = new Set(servers.map((s) => s.id))
  if (TIE_IDS.every((id) => ids.has(id))) tags.push('id-tie')
  return tags
}

function pickNSizes(servers: readonly ServerRecord[]): number[] {
  const c = servers.length
  const zones = servers.some((s) => s.zone !== undefined)
  const ns = c > FULL_RANKING_MAX ? [1, 2, 3, 5, 12] : [1, 2, 3, 5, c, c + 1, c + 3]
  if (zones && c <= FULL_RANKING_MAX) ns.push(4, 6, 8)
  return [...new Set(ns.filter((n) => n >= 1 && (c > FULL_RANKING_MAX || n <= c + 3)))].sort((a, b) => a - b)
}

// ---- vectors ----

const vectors: Vector[] = []

function addVector(name: string, key: Key, servers: readonly ServerRecord[], extraTags: string[] = []): void {
  const r = new Rendezvous(servers)
  const [ka, kb] = digest(key)
  const full = r.ranking(key)
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`vector ${name}: the TypeScript implementation is inconsistent: ${what}`)
  }
  check(digest(bytesOf(key)).join() === [ka, kb].join(), 'string and byte digests differ')
  check(r.pick(key) === full[0], `pick() = ${r.pick(key)} but ranking()[0] = ${full[0]}`)
  const pickN = pickNSizes(servers).map((n) => ({ n, ids: r.pickN(key, n) }))
  for (const { n, ids } of pickN) {
    check(ids.length === Math.min(n, servers.length), `pickN(${n}) has ${ids.length} ids`)
    check(new Set(ids).size === ids.length, `pickN(${n}) repeats an id`)
    check(
      pickN.every((p) => p.n > n || ids.slice(0, p.n).join() === p.ids.join()),
      `pickN(${n}) not a prefix`,
    )
  }
  check(pickN[0]!.n !== 1 || pickN[0]!.ids[0] === full[0], 'pickN(1) differs from ranking()[0]')
  const draws = servers.slice(0, DRAWS_RECORDED).map((s) => {
    const [sa, sb] = digest(s.id)
    const d = draw53(ka, kb, sa, sb)
    return { id: s.id, d: String(d), score: String(weightedScore(Math.log(s.weight), d)) }
  })
  const b = bytesOf(key)
  const tags = [...keyTags(key), ...serverTags(servers), ...extraTags]
  const drawOf = (id: string): number => {
    const [sa, sb] = digest(id)
    return draw53(ka, kb, sa, sb)
  }
  // The winner's u above 4095/4096: the last bucket of any table that bounds scores by the draw's top bits.
  if (drawOf(full[0]!) >= TOP_BUCKET) tags.push('draw-top-bucket')
  if (servers.some((s) => drawOf(s.id) === MAX_DRAW)) tags.push('u-one')
  if (pickN.some((p) => p.n > servers.length)) tags.push('pickN-over')
  vectors.push({
    name,
    tags: [...new Set(tags)].sort(),
    key: typeof key === 'string' ? { utf8: key, hex: hex(b) } : { hex: hex(b) },
    keyDigest: [ka, kb],
    servers: servers.map((s) => ({ ...s })),
    draws,
    ranking: servers.length > FULL_RANKING_MAX ? full.slice(0, RANKING_PREFIX) : full,
    pick: full[0]!,
    pickN,
  })
}

// Server sets. Weights are given explicitly everywhere (the default is 1).
const eq = (ids: readonly string[], weight = 1): ServerRecord[] => ids.map((id) => ({ id, weight }))
const named = (prefix: string, n: number, width = 1): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`)
const randomWeights = (ids: readonly string[]): ServerRecord[] =>
  ids.map((id) => ({ id, weight: choice([0.5, 1, 2, 3, 0.25, 10, 1 / 3, Math.PI, 1 + int(1000) / 100]) }))

const UNICODE_IDS = [
  'é', // U+00E9
  'e\u0301', // e + combining acute: a different id (no normalisation)
  'ß',
  'Ωμέγα',
  'сервер-1',
  '東京-1',
  '東京-2',
  '\uFF61', // halfwidth ideographic full stop: sorts before astral ids in UTF-8, after them in UTF-16
  '😀',
  '\u{10FFFF}z',
]
const TINY = [
  1e-300, 5e-324, 2e-300, 1e-310, 3e-320, 1e-308, 2.2250738585072014e-308, 4.9e-322, 1e-299, 7e-301,
]
const HUGE = [
  1e300,
  1.7e308,
  Number.MAX_VALUE,
  1e308,
  5e307,
  1.0000000000000002e300,
  3e305,
  9e307,
  1e299,
  2e300,
]
const ZONES3 = ['us-east-1a', 'us-east-1b', 'us-east-1c']

const sets: Record<string, ServerRecord[]> = {
  one: eq(['only']),
  'one-tiny': [{ id: 'solo', weight: 5e-324 }],
  'two-equal': eq(['a', 'b']),
  'two-unequal': [
    { id: 'a', weight: 1 },
    { id: 'b', weight: 3 },
  ],
  'three-equal': eq(['alpha', 'beta', 'gamma'], 2.5),
  'three-unequal': [
    { id: 'x', weight: 0.5 },
    { id: 'y', weight: 1 },
    { id: 'z', weight: 2.25 },
  ],
  'ten-equal': eq(named('node-', 10)),
  'ten-unequal': randomWeights(named('cache-', 10)),
  'ten-unicode': eq(UNICODE_IDS),
  'ten-unicode-weighted': randomWeights(UNICODE_IDS),
  'ten-tiny': named('t', 10).map((id, i) => ({ id, weight: TINY[i]! })),
  'four-tiny-equal': eq(named('t', 4), 5e-324),
  'ten-huge': named('h', 10).map((id, i) => ({ id, weight: HUGE[i]! })),
  'three-huge-equal': eq(named('h', 3), 1.7e308),
  'ten-mixed': named('m', 10).map((id, i) => ({ id, weight: [1e-300, 1e300, 5e-324, 1.7e308, 1][i % 5]! })),
  'three-mixed': [
    { id: 'big', weight: 1.7e308 },
    { id: 'one', weight: 1 },
    { id: 'small', weight: 5e-324 },
  ],
  'twelve-zones': named('z', 12, 2).map((id, i) =>
    i < 9 ? { id, weight: 1, zone: ZONES3[i % 3]! } : { id, weight: 1 },
  ),
  'nine-zones-all': named('r', 9).map((id, i) => ({ id, weight: 1, zone: ZONES3[Math.floor(i / 3)]! })),
  'six-zones-weighted': [
    { id: 'a1', weight: 1, zone: 'a' },
    { id: 'a2', weight: 4, zone: 'a' },
    { id: 'b1', weight: 2, zone: 'b' },
    { id: 'b2', weight: 0.5, zone: 'b' },
    { id: 'solo', weight: 1 },
    { id: 'c1', weight: 3, zone: 'c' },
  ],
  'five-zones-unicode': [
    { id: 'α', weight: 1, zone: 'ゾーン1' },
    { id: 'β', weight: 1, zone: 'ゾーン1' },
    { id: '😀', weight: 1, zone: '🌍' },
    { id: 'γ', weight: 1 },
    { id: 'δ', weight: 1, zone: '🌍' },
  ],
  'two-one-zone': [
    { id: 'p', weight: 1, zone: 'only-zone' },
    { id: 'q', weight: 1, zone: 'only-zone' },
  ],
  'hundred-equal': eq(Array.from({ length: 100 }, (_, i) => `10.0.${i >> 4}.${i & 15}:6379`)),
  'hundred-unequal': randomWeights(named('shard-', 100, 3)),
  'hundred-zones': named('srv-', 100, 2).map((id, i) =>
    i % 10 === 9 ? { id, weight: 1 + (i % 4) } : { id, weight: 1 + (i % 4), zone: `zone-${i % 7}` },
  ),
  'hundred-mixed': named('w', 100, 2).map((id, i) => ({ id, weight: [1, 1e-300, 1e300, 2, 5e-324][i % 5]! })),
  'thousand-equal': eq(named('node-', 1000, 4)),
  'thousand-unequal': randomWeights(named('node-', 1000, 4)),
  'thousand-zones': named('node-', 1000, 4).map((id, i) =>
    i % 50 === 49 ? { id, weight: 1 } : { id, weight: 1, zone: `dc-${i % 16}` },
  ),
  'tie-equal': eq([...TIE_IDS, `${TIE_IDS[0]}/x`, `${TIE_IDS[1]}/x`, 'p', 'q']),
  'tie-weighted': [
    { id: TIE_IDS[1], weight: 2 },
    { id: TIE_IDS[0], weight: 2 },
    { id: 'p', weight: 1 },
    { id: 'q', weight: 3 },
  ],
  'tie-zones': [
    { id: TIE_IDS[0], weight: 1, zone: 'z1' },
    { id: TIE_IDS[1], weight: 1, zone: 'z1' },
    { id: 'p', weight: 1, zone: 'z2' },
  ],
}
const set = (name: string): ServerRecord[] => {
  const s = sets[name]
  if (s === undefined) throw new Error(`no server set ${name}`)
  return s
}

/** Adds each key against server sets taken in turn from `setNames`. */
function addKeys(prefix: string, keys: readonly Key[], setNames: readonly string[]): void {
  keys.forEach((key, i) => {
    const name = setNames[i % setNames.length]!
    addVector(`${prefix}-${String(i).padStart(2, '0')}/${name}`, key, set(name))
  })
}

const SMALL = ['ten-equal', 'three-unequal', 'two-equal', 'ten-unequal', 'one', 'three-equal', 'two-unequal']

// Keys of every length 0..40 (every tail length), ASCII and multi-byte.
const base = alnum(40)
addKeys(
  'length-ascii',
  Array.from({ length: 41 }, (_, n) => base.slice(0, n)),
  ['ten-equal', 'ten-unequal'],
)
addKeys(
  'length-utf8',
  Array.from({ length: 14 }, (_, n) => randomString(n, [PRINTABLE, TWO_BYTE, THREE_BYTE, ASTRAL])),
  ['three-unequal', 'ten-equal'],
)
addKeys(
  'length-binary',
  Array.from({ length: 41 }, (_, n) => randomBytes(n)),
  ['three-unequal', 'ten-equal', 'two-unequal'],
)

const asciiKeys: string[] = [
  'a',
  'hello',
  'user:12345678',
  'The quick brown fox jumps over the lazy dog',
  ' ',
  '\u0000',
  '\u007f',
  'key\twith\ncontrol',
]
for (let i = 0; i < 16; i++) asciiKeys.push(`user:${alnum(8 + int(5))}`)
for (let i = 0; i < 8; i++) asciiKeys.push(randomString(1 + int(60), [PRINTABLE]))
addKeys('ascii', asciiKeys, SMALL)

const twoByte = ['é', 'ß', 'café', 'Ωμέγα', 'привет', '\u00ff', '\u0080', '\u07ff']
for (let i = 0; i < 6; i++) twoByte.push(randomString(1 + int(12), [TWO_BYTE, PRINTABLE]))
addKeys('utf8-2byte', twoByte, [...SMALL, 'ten-unicode'])

const threeByte = ['€', '日本語', '\u0800', '\ufffd', '\ufeff', '\uffff', '中文key', 'ｶﾀｶﾅ']
for (let i = 0; i < 6; i++) threeByte.push(randomString(1 + int(12), [THREE_BYTE, PRINTABLE]))
addKeys('utf8-3byte', threeByte, [...SMALL, 'ten-unicode-weighted'])

const astral = ['😀', '𝄞', '\u{10000}', '\u{10ffff}', '👨‍👩‍👧', 'a😀b', '😀😀😀😀', 'key:🔑']
for (let i = 0; i < 6; i++) astral.push(randomString(1 + int(10), [ASTRAL, PRINTABLE, THREE_BYTE]))
addKeys('astral', astral, [...SMALL, 'ten-unicode'])

const lone = [
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  'a\ud800',
  '\ud800a',
  '\udc00\ud800',
  '\ud83dx',
  '😀\ude00',
  '\ud83d\ud83d\ude00',
  'abc\udfffdef',
  'abc\ud800',
  'user:\udead:beef',
  '\ud800\ud800\ud800\ud800',
]
addKeys('lone-surrogate', lone, [...SMALL, 'ten-unicode'])

addKeys(
  'empty',
  ['', new Uint8Array(0), '', new Uint8Array(0), ''],
  ['ten-equal', 'ten-unequal', 'one', 'twelve-zones'],
)

const invalid = [
  [0xff],
  [0xc0, 0x80],
  [0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xfe, 0xff, 0x00, 0x01],
  [0xf0, 0x9f, 0x98],
  [0x61, 0x62, 0x63, 0xff, 0x64],
  Array.from({ length: 256 }, (_, i) => i),
  Array.from({ length: 16 }, () => 0xff),
].map((b) => Uint8Array.from(b))
const binary: Uint8Array[] = [...invalid, utf8.encode('hello'), utf8.encode('😀'), Uint8Array.of(0)]
for (let i = 0; i < 6; i++) binary.push(randomBytes(1 + int(40)))
addKeys('binary', binary, [...SMALL, 'ten-mixed'])

const mixedKeys = (n: number): Key[] =>
  Array.from({ length: n }, (_, i) =>
    i % 3 === 2 ? randomBytes(int(20)) : randomString(int(16), i % 3 ? [PRINTABLE, ASTRAL] : [PRINTABLE]),
  )
addKeys('unicode-ids', mixedKeys(12), ['ten-unicode', 'ten-unicode-weighted', 'five-zones-unicode'])
addKeys('tiny', mixedKeys(10), ['ten-tiny', 'four-tiny-equal', 'one-tiny'])
addKeys('huge', mixedKeys(10), ['ten-huge', 'three-huge-equal'])
addKeys('mixed', mixedKeys(12), ['ten-mixed', 'three-mixed'])
addKeys('zones', mixedKeys(24), [
  'twelve-zones',
  'nine-zones-all',
  'six-zones-weighted',
  'five-zones-unicode',
  'two-one-zone',
])
addKeys('tie', mixedKeys(9), ['tie-equal', 'tie-weighted', 'tie-zones'])
addKeys('hundred', mixedKeys(20), ['hundred-equal', 'hundred-unequal', 'hundred-zones', 'hundred-mixed'])
addKeys('thousand', mixedKeys(6), ['thousand-equal', 'thousand-unequal', 'thousand-zones'])

// Edge cases: a key whose draw against one server is 2^53 - 1 (score +infinity, even for a tiny weight) ...
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
sets['u-one-vs-huge'] = [
  { id: 't3', weight: 1e-300 },
  { id: 'big', weight: 1.7e308 },
  { id: 'mid', weight: 1 },
]
addKeys('u-one', [fromHex(U_ONE_KEYS.t3!)], ['ten-tiny'])
addKeys('u-one', [fromHex(U_ONE_KEYS.t3!)], ['four-tiny-equal'])
addKeys('u-one', [fromHex(U_ONE_KEYS.t3!)], ['u-one-vs-huge'])
addKeys('u-one', [fromHex(U_ONE_KEYS.b!)], ['two-unequal'])
// ... and keys whose winner draws u > 4095/4096 (the top bucket of the weighted loop's pruning table).
for (const name of ['three-unequal', 'ten-unequal', 'hundred-unequal', 'six-zones-weighted', 'ten-equal']) {
  const r = new Rendezvous(set(name))
  const found: string[] = []
  for (let i = 0; found.length < 2; i++) {
    const key = `edge:${i}`
    const [ka, kb] = digest(key)
    const [sa, sb] = digest(r.ranking(key)[0]!)
    if (draw53(ka, kb, sa, sb) >= TOP_BUCKET) found.push(key)
  }
  addKeys(`top-bucket-${name}`, found, [name])
}

// Every server id used, with its UTF-8 bytes and digest.
const ids = [...new Set(vectors.flatMap((v) => v.servers.map((s) => s.id)))].sort((a, b) =>
  Buffer.compare(utf8.encode(a), utf8.encode(b)),
)
const idDigests = ids.map((id) => ({ id, hex: hex(utf8.encode(id)), digest: digest(id) }))

const categories: Record<string, number> = {}
for (const v of vectors) for (const t of v.tags) categories[t] = (categories[t] ?? 0) + 1

const file = {
  spec: 'docs/hash-spec.md',
  version: 1,
  generator: 'scripts/gen-vectors.ts',
  notes: [
    'key.hex is the exact byte string hashed; key.utf8 (absent for byte-string keys) is the string it came from.',
    'keyDigest and idDigests[].digest are [A, B], unsigned 32-bit lanes (section 2).',
    'draws: the draw d (section 3, a decimal integer below 2^53) and score (section 4, JavaScript number text)',
    'of the first servers in listing order. ranking is the whole priority list, or its first 20 ids when there',
    'are more than 100 servers. pick is ranking[0]; pickN[].ids is pickN(key, n) (section 5).',
    'categories counts the vectors carrying each tag.',
  ],
  vectorCount: vectors.length,
  categories: Object.fromEntries(Object.entries(categories).sort(([a], [b]) => (a < b ? -1 : 1))),
  idDigests,
  vectors,
}

// One vector or id digest per line: diffable, and far smaller than fully indented JSON.
const { idDigests: idd, vectors: vs, ...head } = file
const body = JSON.stringify(head, null, 2).slice(0, -2)
const list = (xs: unknown[]): string => `[\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`
const text = `${body},\n  "idDigests": ${list(idd)},\n  "vectors": ${list(vs)}\n}\n`
mkdirSync(dirname(OUT), { recursive: true })
writeFileSync(OUT, text)
console.log(
  `wrote ${OUT}: ${vectors.length} vectors, ${ids.length} ids, ${(text.length / 1024).toFixed(0)} KiB`,
)
