// The `route` and `simulate` commands, run as child processes and checked against the library.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { sampleKeyArray } from '../../src/cli/sample.js'
import { balance, movement } from '../../src/placement/analysis.js'
import { HierarchicalRendezvous } from '../../src/placement/hierarchical.js'
import { Rendezvous } from '../../src/placement/rendezvous.js'

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function cli(...args: string[]): Run {
  const res = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8' })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr }
}

function ok(...args: string[]): Run {
  const res = cli(...args)
  assert.equal(res.status, 0, `rendezvous ${args.join(' ')} failed:\n${res.stderr}`)
  return res
}

interface SimJson {
  keys: number
  balance: {
    maxOverMean: number
    minOverMean: number
    servers: { id: string; keys: number; share: number; expected: number }[]
  }
  after?: { maxOverMean: number; servers: { id: string; keys: number }[] }
  movement?: {
    moved: number
    fraction: number
    optimalFraction: number
    ratio: number
    betweenUntouched: number
    touched: string[]
    flows: { from: string; to: string; keys: number }[]
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'rendezvous-cli-'))
after(() => rmSync(tmp, { recursive: true, force: true }))

describe('rendezvous route', () => {
  const servers = [
    { id: 'a' },
    { id: 'b', weight: 2 },
    { id: 'c', zone: 'z1' },
    { id: 'δ', weight: 0.5, zone: 'z2' },
  ]
  const list = 'a,b:2,c@z1,δ:0.5@z2'

  test('prints the ranking in the order of Rendezvous.ranking, with aligned columns', () => {
    const placement = new Rendezvous(servers)
    for (const key of ['user:42', '', 'ключ', '😀 emoji']) {
      const { stdout } = ok('route', key, '--servers', list)
      const lines = stdout.trimEnd().split('\n')
      assert.match(lines[1]!, /^rank\s+id\s+weight\s+zone\s+u\s+score$/)
      const rows = lines.slice(2).map((l) => l.trim().split(/\s+/))
      assert.deepEqual(
        rows.map((r) => r[1]),
        placement.ranking(key),
      )
      assert.deepEqual(
        rows.map((r) => r[0]),
        ['1', '2', '3', '4'],
      )
      // Right-aligned numeric columns end at the same offset on every line.
      const ends = lines.slice(1).map((l) => l.length)
      assert.equal(new Set(ends).size, 1, stdout)
    }
  })

  test('--json gives rank, id, weight, zone, u and score; --hex reads bytes', () => {
    const placement = new Rendezvous(servers)
    const bytes = new Uint8Array([0, 255, 16, 1])
    const { stdout } = ok('route', '00ff1001', '--hex', '--json', '--servers', list)
    const out = JSON.parse(stdout) as {
      keyHex: string
      bytes: number
      ranking: { rank: number; id: string; weight: number; zone: string | null; u: number; score: number }[]
    }
    assert.equal(out.keyHex, '00ff1001')
    assert.equal(out.bytes, 4)
    assert.deepEqual(
      out.ranking.map((r) => r.id),
      placement.ranking(bytes),
    )
    assert.deepEqual(
      out.ranking.map((r) => r.rank),
      [1, 2, 3, 4],
    )
    const expected = placement.scores(bytes)
    out.ranking.forEach((r, i) => {
      assert.equal(r.u, expected[i]!.u)
      assert.equal(r.score, expected[i]!.score)
      assert.equal(r.weight, placement.get(r.id)!.weight)
      assert.equal(r.zone, placement.get(r.id)!.zone ?? null)
    })
  })
})

describe('rendezvous simulate', () => {
  test('balance matches the library helpers on the same keys', () => {
    const keys = sampleKeyArray(20_000, 7)
    const sim = JSON.parse(
      ok('simulate', '--servers', 'a,b:2,c:3,d@z', '--keys', '20000', '--seed', '7', '--json').stdout,
    )
    const expected = balance(new Rendezvous(['a', { id: 'b', weight: 2 }, { id: 'c', weight: 3 }, 'd']), keys)
    const b = (sim as SimJson).balance
    assert.equal(b.maxOverMean, expected.maxOverMean)
    assert.equal(b.minOverMean, expected.minOverMean)
    for (const s of b.servers) {
      assert.equal(s.keys, expected.counts.get(s.id))
      assert.equal(s.share, expected.shares.get(s.id))
      assert.equal(s.expected, expected.expected.get(s.id))
    }
  })

  test('--remove moves only the removed server keys, matching movement()', () => {
    const keys = sampleKeyArray(30_000, 3)
    const sim = JSON.parse(
      ok('simulate', '--servers', '12', '--keys', '30000', '--seed', '3', '--remove', 's5', '--json').stdout,
    ) as SimJson
    const before = new Rendezvous(Array.from({ length: 12 }, (_, i) => `s${i}`))
    const expected = movement(before, before.remove('s5'), keys)
    const m = sim.movement!
    assert.equal(m.betweenUntouched, 0)
    assert.deepEqual(m.touched, ['s5'])
    assert.equal(m.moved, expected.moved)
    assert.equal(m.fraction, expected.fraction)
    assert.equal(m.optimalFraction, expected.optimalFraction)
    assert.equal(m.ratio, expected.ratio)
    assert.ok(m.flows.every((f) => f.from === 's5'))
    assert.equal(
      m.flows.reduce((n, f) => n + f.keys, 0),
      expected.moved,
    )
    for (const f of m.flows) assert.equal(f.keys, expected.flows.get(f.from)?.get(f.to))
    // The text output says the same.
    const text = ok('simulate', '--servers', '12', '--keys', '30000', '--seed', '3', '--remove', 's5').stdout
    assert.match(text, /between untouched servers\s+0 keys/)
    assert.match(text, new RegExp(`moved\\s+${expected.moved.toLocaleString('en-US')} of 30,000 keys`))
  })

  test('--add with a weight and --reweight touch only the named servers', () => {
    for (const change of [
      ['--add', 'new:3'],
      ['--reweight', 's2=0.25'],
    ]) {
      const sim = JSON.parse(
        ok('simulate', '--servers', '8', '--keys', '20000', ...change, '--json').stdout,
      ) as SimJson
      const m = sim.movement!
      assert.equal(m.betweenUntouched, 0)
      assert.ok(m.moved > 0)
      assert.ok(Math.abs(m.ratio - 1) < 0.1, `ratio ${m.ratio}`)
    }
  })

  test('--weights random:1-4 is deterministic per seed, and --hierarchical uses HierarchicalRendezvous', () => {
    const args = [
      'simulate',
      '--servers',
      '40',
      '--weights',
      'random:1-4',
      '--keys',
      '5000',
      '--seed',
      '9',
      '--json',
    ]
    const a = JSON.parse(ok(...args).stdout) as SimJson
    const b = JSON.parse(ok(...args).stdout) as SimJson
    assert.deepEqual(a.balance, b.balance)
    assert.ok(a.balance.servers.some((s) => s.expected !== a.balance.servers[0]!.expected))
    const h = JSON.parse(
      ok('simulate', '--servers', '50', '--keys', '5000', '--hierarchical', '--json').stdout,
    ) as SimJson
    const ids = Array.from({ length: 50 }, (_, i) => `s${i}`)
    const expected = balance(new HierarchicalRendezvous(ids), sampleKeyArray(5000, 1))
    assert.equal(h.balance.maxOverMean, expected.maxOverMean)
  })

  test('summarises beyond 20 servers and writes nothing to stderr when it is not a terminal', () => {
    const res = ok('simulate', '--servers', '300', '--keys', '20000', '--remove', 's1')
    assert.equal(res.stderr, '')
    assert.match(res.stdout, /share\/expected over 300 servers: min/)
    assert.ok(res.stdout.split('\n').length < 100)
  })

  test('--html writes a self-contained report', () => {
    const file = join(tmp, 'report.html')
    const res = ok('simulate', '--servers', 'a,b:2,c', '--keys', '5000', '--add', 'd', '--html', file)
    assert.match(res.stdout, /HTML report written to/)
    const html = readFileSync(file, 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.match(html, /<svg/)
    assert.doesNotMatch(html, /<script|<link|@import|url\(/i)
    const refs = html.match(/https?:[^"'\s)]*/g) ?? []
    assert.deepEqual(
      refs.filter((r) => r !== 'http://www.w3.org/2000/svg'),
      [],
    )
  })
})

describe('bad input', () => {
  const cases: [string[], RegExp][] = [
    [['simulate', '--keys', 'abc'], /--keys: expected a positive integer, got "abc"/],
    [['simulate', '--keys', '0'], /--keys: expected a positive integer, got "0"/],
    [['simulate', '--servers', '2.5'], /--servers: expected a positive integer, got "2.5"/],
    [['simulate', '--servers', '-3'], /--servers: expected a positive integer, got "-3"/],
    [['simulate', '--servers', 'a,b,a'], /--servers: duplicate id "a"/],
    [['simulate', '--servers', 'a,b:0'], /--servers: weight of "b": expected a positive number, got "0"/],
    [['simulate', '--servers', 'a,b:NaN'], /weight of "b": expected a positive number, got "NaN"/],
    [['simulate', '--servers', 'a,,b'], /--servers: empty entry/],
    [['simulate', '--weights', 'random:x-4'], /--weights: .*got "x"/],
    [['simulate', '--weights', '1,2,3'], /--weights: expected 1 or 10 weights, got 3/],
    [['simulate', '--remove', 'nope'], /--remove: no server with id "nope"/],
    [['simulate', '--add', 's3'], /--add: server "s3" is already present/],
    [['simulate', '--reweight', 's3'], /--reweight: expected ID=WEIGHT, got "s3"/],
    [['simulate', '--reweight', 's3=-2'], /--reweight: weight of "s3": expected a positive number, got "-2"/],
    [['simulate', '--seed', '1.5'], /--seed: expected a non-negative integer, got "1.5"/],
    [['simulate', '--frobnicate'], /unknown option '--frobnicate'/],
    [['route', 'k'], /--servers/],
    [['route', 'zz', '--hex', '--servers', 'a'], /expected hex bytes.*got "zz"/],
  ]
  for (const [args, message] of cases) {
    test(args.join(' '), () => {
      const res = cli(...args)
      assert.equal(res.status, 2, res.stderr)
      assert.match(res.stderr, message)
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace')
      assert.equal(res.stdout, '')
    })
  }
})
