// Key and hash commands called directly: recorded Redis replies, the EXPIRE family on a fake clock, SCAN, KEYS.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { globMatch } from '../../src/node/glob.js'
import { fieldValueBytes } from '../../src/node/keyspace.js'
import { err, harness, NOT_INT, OK, SYNTAX, status, WRONGTYPE } from './data-harness.js'
import { KEY_HASH_VECTORS } from './redis-vectors.js'

describe('key and hash commands', () => {
  test('answer as redis-server 7 did to the recorded sequence', () => {
    const { run } = harness()
    for (const [cmd, want] of KEY_HASH_VECTORS) assert.deepEqual(run(...cmd), want, cmd.join(' '))
  })

  test('EXPIRE 0 and a past EXPIREAT delete at once; TTL -2/-1', () => {
    const { run, clock } = harness()
    run('SET', 'a', 'v')
    assert.equal(run('TTL', 'a'), -1)
    assert.equal(run('EXPIRE', 'a', '0'), 1)
    assert.equal(run('TTL', 'a'), -2)
    run('SET', 'b', 'v')
    assert.equal(run('PEXPIREAT', 'b', String(clock.now)), 1)
    assert.equal(run('EXISTS', 'b'), 0)
    run('SET', 'c', 'v')
    assert.equal(run('PEXPIRE', 'c', '1500'), 1)
    assert.equal(run('TTL', 'c'), 2, 'seconds round half up')
    clock.now += 1000
    assert.equal(run('PTTL', 'c'), 500)
    clock.now += 501
    assert.equal(run('TTL', 'c'), -2)
    assert.equal(run('EXPIRE', 'missing', '10'), 0)
  })

  test('EXPIRE overflow errors name the command', () => {
    const { run } = harness()
    run('SET', 'a', 'v')
    assert.deepEqual(
      run('EXPIRE', 'a', '9223372036854776'),
      err("ERR invalid expire time in 'expire' command"),
    )
    assert.deepEqual(
      run('PEXPIRE', 'a', '9223372036854775807'),
      err("ERR invalid expire time in 'pexpire' command"),
    )
    assert.deepEqual(
      run('EXPIREAT', 'a', '9223372036854776'),
      err("ERR invalid expire time in 'expireat' command"),
    )
    assert.deepEqual(run('EXPIRE', 'a', '1.5'), NOT_INT)
    assert.deepEqual(run('EXPIRE', 'a', '10', 'bogus'), err('ERR Unsupported option bogus'))
  })

  test('NX XX GT LT on the fake clock', () => {
    const { run } = harness()
    run('SET', 'k', 'v')
    assert.equal(run('EXPIRE', 'k', '100', 'XX'), 0)
    assert.equal(run('EXPIRE', 'k', '100', 'GT'), 0, 'no TTL counts as infinite for GT')
    assert.equal(run('EXPIRE', 'k', '100', 'LT'), 1, 'and for LT')
    assert.equal(run('EXPIRE', 'k', '50', 'NX'), 0)
    assert.equal(run('EXPIRE', 'k', '200', 'GT'), 1)
    assert.equal(run('EXPIRE', 'k', '150', 'GT'), 0)
    assert.equal(run('EXPIRE', 'k', '150', 'LT', 'XX'), 1)
    assert.equal(run('TTL', 'k'), 150)
  })

  test('PERSIST, RENAME keeps the TTL and overwrites any type', () => {
    const { run } = harness()
    run('SET', 'a', 'v', 'EX', '30')
    run('HSET', 'b', 'f', 'v')
    assert.deepEqual(run('RENAME', 'a', 'b'), OK)
    assert.deepEqual(run('TYPE', 'b'), status('string'))
    assert.equal(run('TTL', 'b'), 30)
    assert.equal(run('PERSIST', 'b'), 1)
    assert.equal(run('PERSIST', 'b'), 0)
    assert.deepEqual(run('RENAME', 'zz', 'b'), err('ERR no such key'))
  })

  test('hash commands keep their accounting and drop empty hashes', () => {
    const { run, ks } = harness()
    assert.equal(run('HSET', 'h', 'a', '1', 'b', '2'), 2)
    const used = ks.usedMemory
    assert.equal(run('HSET', 'h', 'a', 'x'.repeat(100)), 0)
    // Field values live in the slab after their 2-byte length: 102 bytes take a 112-byte chunk, 3 a 16-byte one.
    assert.equal(ks.usedMemory, used + fieldValueBytes(100) - fieldValueBytes(1))
    assert.equal(fieldValueBytes(100) - fieldValueBytes(1), 112 - 16)
    assert.deepEqual(run('HGETALL', 'h'), { map: ['a', 'x'.repeat(100), 'b', '2'] })
    assert.equal(run('HDEL', 'h', 'a', 'b'), 2)
    assert.equal(run('EXISTS', 'h'), 0)
    assert.equal(ks.usedMemory, 0)
    run('SET', 's', 'v')
    for (const cmd of [
      ['HSET', 's', 'f', 'v'],
      ['HGET', 's', 'f'],
      ['HMGET', 's', 'f'],
      ['HGETALL', 's'],
      ['HDEL', 's', 'f'],
      ['HEXISTS', 's', 'f'],
      ['HLEN', 's'],
      ['HINCRBY', 's', 'f', '1'],
    ]) {
      assert.deepEqual(run(...cmd), WRONGTYPE, cmd.join(' '))
    }
  })

  test('a hash keeps its TTL while fields change', () => {
    const { run } = harness()
    run('HSET', 'h', 'a', '1')
    run('EXPIRE', 'h', '100')
    run('HSET', 'h', 'b', '2')
    run('HINCRBY', 'h', 'a', '5')
    assert.equal(run('TTL', 'h'), 100)
    assert.equal(run('HGET', 'h', 'a'), '6')
  })

  test('SCAN walks every key once with COUNT, MATCH and TYPE', () => {
    const { run } = harness()
    for (let i = 0; i < 100; i++) run('SET', `k${i}`, 'v')
    for (let i = 0; i < 10; i++) run('HSET', `h${i}`, 'f', 'v')
    const seen: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = run('SCAN', cursor, 'COUNT', '7') as [string, string[]]
      seen.push(...keys)
      cursor = next
    } while (cursor !== '0')
    assert.equal(seen.length, 110)
    assert.equal(new Set(seen).size, 110)
    const hashes = (run('SCAN', '0', 'COUNT', '1000', 'TYPE', 'HASH') as [string, string[]])[1]
    assert.deepEqual(hashes.sort(), Array.from({ length: 10 }, (_, i) => `h${i}`).sort())
    const matched = (run('SCAN', '0', 'COUNT', '1000', 'MATCH', 'k?') as [string, string[]])[1]
    assert.equal(matched.length, 10)
    assert.deepEqual(run('SCAN', 'x'), err('ERR invalid cursor'))
    assert.deepEqual(run('SCAN', '0', 'COUNT', '0'), SYNTAX)
    assert.deepEqual(run('SCAN', '0', 'MATCH'), SYNTAX)
  })

  test('KEYS and RANDOMKEY skip expired keys', () => {
    const { run, clock } = harness()
    run('SET', 'live', 'v')
    run('SET', 'dead', 'v', 'PX', '10')
    clock.now += 11
    assert.deepEqual(run('KEYS', '*'), ['live'])
    for (let i = 0; i < 5; i++) assert.equal(run('RANDOMKEY'), 'live')
    run('DEL', 'live')
    assert.equal(run('RANDOMKEY'), null)
  })
})

describe('glob matching (Redis stringmatchlen)', () => {
  // Checked against redis-server's KEYS on 2,000 random patterns; these are the interesting rules.
  const cases: Array<[string, string, boolean]> = [
    ['h?llo', 'hello', true],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hbllo', true],
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['[abc', 'c', true],
    ['[abc', 'd', false],
    ['a*', 'a', true],
    ['*a', 'a', true],
    ['**b', 'ab', true],
    ['a\\', 'a\\', true],
    ['[^', 'x', true],
    ['*', '', false],
  ]
  for (const [pattern, str, want] of cases) {
    test(`${JSON.stringify(pattern)} ~ ${JSON.stringify(str)} is ${want}`, () =>
      assert.equal(globMatch(pattern, str), want))
  }
})

test('RDV.RESTORE writes each key unless it holds a value at least as new', () => {
  const { run, clock } = harness()
  // An envelope: 0xD5 0x01, two bytes, a 6-byte version and a 2-byte counter, four more bytes, then the value.
  const env = (version: number, value: string): string =>
    Buffer.concat([
      Buffer.from([0xd5, 0x01, 0, 0]),
      Buffer.from(version.toString(16).padStart(12, '0'), 'hex'),
      Buffer.from([0, 0, 0, 0, 0, 0]),
      Buffer.from(value),
    ]).toString('latin1')
  assert.deepEqual(run('rdv.restore', 'k', env(5, 'new'), '0'), [1])
  assert.deepEqual(run('rdv.restore', 'k', env(4, 'old'), '0'), [0], 'an older copy must not overwrite')
  assert.equal(run('get', 'k'), env(5, 'new'))
  assert.deepEqual(run('rdv.restore', 'k', env(6, 'newer'), '1000', 'plain', 'x', '0'), [1, 1])
  assert.equal(run('pttl', 'k'), 1000)
  assert.deepEqual(run('rdv.restore', 'plain', 'x', '0'), [0], 'an equal copy changes nothing')
  run('hset', 'h', 'f', 'v')
  assert.deepEqual(run('rdv.restore', 'h', 'x', '0'), [1], 'a key of another type is replaced')
  clock.now += 1001
  assert.equal(run('get', 'k'), null)
  assert.deepEqual(
    run('rdv.restore', 'k', 'v'),
    err("ERR wrong number of arguments for 'rdv.restore' command"),
  )
  assert.deepEqual(
    run('rdv.restore', 'k', 'v', '0', 'k2'),
    err("ERR wrong number of arguments for 'rdv.restore' command"),
  )
  assert.deepEqual(run('rdv.restore', 'k', 'v', '-1'), NOT_INT)
})
