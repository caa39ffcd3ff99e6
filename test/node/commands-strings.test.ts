// String commands called directly: recorded Redis replies, TTL options on a fake clock, counters, INCRBYFLOAT.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { incrByFloat } from '../../src/node/commands/numbers.js'
import { err, harness, NOT_INT, OK, SYNTAX, WRONGTYPE } from './data-harness.js'
import { STRING_VECTORS } from './redis-vectors.js'

describe('string commands', () => {
  test('answer as redis-server 7 did to the recorded sequence', () => {
    const { run } = harness()
    for (const [cmd, want] of STRING_VECTORS) assert.deepEqual(run(...cmd), want, cmd.join(' '))
  })

  test('GET/SET round-trip arbitrary bytes, short and long values', () => {
    const { run, ks } = harness()
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1')
    const long = 'x'.repeat(5000)
    assert.deepEqual(run('SET', bytes, bytes), OK)
    assert.equal(run('GET', bytes), bytes)
    assert.deepEqual(run('SET', 'long', long), OK)
    assert.equal(run('GET', 'long'), long)
    assert.equal(run('APPEND', 'long', 'yz'), 5002)
    assert.equal(run('GETRANGE', 'long', '-3', '-1'), 'xyz')
    assert.equal(ks.size, 2)
  })

  test('SET EX/PX/EXAT/PXAT and expiry on the fake clock (alive while now <= expiry)', () => {
    const { run, clock } = harness()
    const t0 = clock.now
    assert.deepEqual(run('SET', 'px', 'v', 'PX', '1'), OK)
    assert.equal(run('PTTL', 'px'), 1)
    clock.now += 1
    assert.equal(run('GET', 'px'), 'v', 'Redis keeps a key until now > expiry')
    clock.now += 1
    assert.equal(run('GET', 'px'), null)
    assert.equal(run('EXISTS', 'px'), 0)
    run('SET', 'ex', 'v', 'EX', '10')
    assert.equal(run('TTL', 'ex'), 10)
    run('SET', 'exat', 'v', 'EXAT', String(Math.floor(t0 / 1000) + 100))
    assert.equal(run('EXPIRETIME', 'exat'), Math.floor(t0 / 1000) + 100)
    run('SET', 'pxat', 'v', 'PXAT', String(clock.now + 5))
    assert.equal(run('PEXPIRETIME', 'pxat'), clock.now + 5)
    run('SET', 'past', 'v', 'PXAT', String(clock.now - 1))
    assert.equal(run('GET', 'past'), null)
  })

  test('SET without KEEPTTL clears the TTL, with KEEPTTL keeps it', () => {
    const { run } = harness()
    run('SET', 'k', 'v', 'EX', '100')
    run('SET', 'k', 'w', 'KEEPTTL')
    assert.equal(run('TTL', 'k'), 100)
    run('SET', 'k', 'x')
    assert.equal(run('TTL', 'k'), -1)
    assert.deepEqual(run('SET', 'k', 'v', 'KEEPTTL', 'PX', '5'), SYNTAX)
  })

  test('SET expiry errors name the command', () => {
    const { run } = harness()
    assert.deepEqual(run('SET', 'k', 'v', 'EX', '0'), err("ERR invalid expire time in 'set' command"))
    assert.deepEqual(run('SETEX', 'k', '-1', 'v'), err("ERR invalid expire time in 'setex' command"))
    assert.deepEqual(run('PSETEX', 'k', '0', 'v'), err("ERR invalid expire time in 'psetex' command"))
    run('SET', 'k', 'v')
    assert.deepEqual(run('GETEX', 'k', 'EX', '0'), err("ERR invalid expire time in 'getex' command"))
    assert.deepEqual(run('SET', 'k', 'v', 'EX', '1.5'), NOT_INT)
    assert.deepEqual(
      run('SET', 'k', 'v', 'PX', String(2n ** 63n - 1n)),
      err("ERR invalid expire time in 'set' command"),
    )
  })

  test('GETEX sets, persists, and deletes on a past EXAT', () => {
    const { run, clock } = harness()
    run('SET', 'k', 'v')
    assert.equal(run('GETEX', 'k', 'PX', '500'), 'v')
    assert.equal(run('PTTL', 'k'), 500)
    assert.equal(run('GETEX', 'k', 'PERSIST'), 'v')
    assert.equal(run('TTL', 'k'), -1)
    assert.equal(run('GETEX', 'k', 'EXAT', String(Math.floor(clock.now / 1000) - 1)), 'v')
    assert.equal(run('EXISTS', 'k'), 0)
    assert.equal(run('GETEX', 'k'), null)
  })

  test('SET GET returns the old value and refuses a non-string without writing', () => {
    const { run } = harness()
    run('HSET', 'h', 'f', 'v')
    assert.deepEqual(run('SET', 'h', 'x', 'GET'), WRONGTYPE)
    assert.deepEqual(run('TYPE', 'h'), { status: 'hash' })
    assert.equal(run('SET', 'k', 'a', 'GET'), null)
    assert.equal(run('SET', 'k', 'b', 'NX', 'GET'), 'a')
    assert.equal(run('GET', 'k'), 'a')
  })

  test('INCRBY near int64 limits uses exact integers', () => {
    const { run } = harness()
    run('SET', 'n', '9223372036854775800')
    assert.equal(run('INCRBY', 'n', '7'), 9223372036854775807n)
    assert.deepEqual(run('INCR', 'n'), err('ERR increment or decrement would overflow'))
    assert.equal(run('GET', 'n'), '9223372036854775807')
    assert.deepEqual(run('DECRBY', 'n', '-9223372036854775808'), err('ERR decrement would overflow'))
    assert.equal(run('DECRBY', 'm', '5'), -5)
    assert.deepEqual(run('INCRBY', 'm', '9223372036854775808'), NOT_INT)
    for (const bad of ['+1', ' 1', '1 ', '01', '-0', '', '1e3', '0x10']) {
      assert.deepEqual(run('INCRBY', 'm', bad), NOT_INT, JSON.stringify(bad))
    }
  })

  test('INCR keeps the TTL', () => {
    const { run } = harness()
    run('SET', 'n', '1', 'EX', '100')
    run('INCR', 'n')
    assert.equal(run('TTL', 'n'), 100)
  })

  test('SETRANGE pads with zero bytes and checks the size limit', () => {
    const { run } = harness({ protoMaxBulkLen: 100 })
    assert.equal(run('SETRANGE', 'k', '3', 'ab'), 5)
    assert.equal(run('GET', 'k'), '\0\0\0ab')
    assert.deepEqual(
      run('SETRANGE', 'k', '99', 'ab'),
      err('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
    )
    assert.deepEqual(run('SETRANGE', 'k', '-1', 'ab'), err('ERR offset is out of range'))
    assert.deepEqual(
      run('APPEND', 'k', 'x'.repeat(96)),
      err('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
    )
    assert.equal(run('APPEND', 'k', 'x'.repeat(95)), 100)
  })

  test('WRONGTYPE for every string command on a hash', () => {
    const { run } = harness()
    run('HSET', 'h', 'f', 'v')
    for (const cmd of [
      ['GET', 'h'],
      ['GETDEL', 'h'],
      ['GETEX', 'h'],
      ['APPEND', 'h', 'x'],
      ['STRLEN', 'h'],
      ['GETRANGE', 'h', '0', '1'],
      ['SETRANGE', 'h', '0', 'x'],
      ['INCR', 'h'],
      ['DECRBY', 'h', '2'],
      ['INCRBYFLOAT', 'h', '1.5'],
    ]) {
      assert.deepEqual(run(...cmd), WRONGTYPE, cmd.join(' '))
    }
    assert.deepEqual(run('MGET', 'h'), [null])
  })

  test('MSET/MSETNX check their pairing', () => {
    const { run } = harness()
    assert.deepEqual(run('MSET', 'a', '1', 'b'), err("ERR wrong number of arguments for 'mset' command"))
    assert.deepEqual(run('MSETNX', 'a', '1', 'b'), err("ERR wrong number of arguments for 'msetnx' command"))
  })
})

describe('INCRBYFLOAT', () => {
  // Pairs (current, increment) and redis-server 7.0.15's reply, including its long double artefacts.
  const vectors: Array<[string, string, string]> = [
    ['1234.1', '0.1', '1234.19999999999999996'],
    ['0.1', '0.2', '0.3'],
    ['10.5', '0.1', '10.6'],
    ['123456789.123', '0.001', '123456789.12399999999615829'],
    ['3.0e3', '2.0e2', '3200'],
    ['3200', '0x10', '3216'],
    ['3216', '+1', '3217'],
    ['5', '1e20', '100000000000000000008'],
    ['100000000000000000008', '-0.0000001', '100000000000000000008'],
    ['0.3', '-0.3', '0'],
    ['-0.1', '0.1', '0'],
    ['1', '1.5e-17', '1.00000000000000001'],
    ['1', '5.', '6'],
    ['1', '.5', '1.5'],
    ['1', '0x1.8p3', '13'],
    ['0', '-0.000000000000000001', '0'],
    ['0', '0.000000000000000015', '0.00000000000000002'],
  ]
  for (const [a, b, want] of vectors) {
    test(`${a} + ${b} = ${want}`, () => assert.deepEqual(incrByFloat(a, b), { ok: true, text: want }))
  }

  test('rejects what strtold rejects and infinite results', () => {
    for (const bad of [' 1', '1 ', '', 'nan', '1e', '.', 'abc', '1e-5000', '1e5000', 'x'.repeat(6000)]) {
      assert.deepEqual(incrByFloat('1', bad), { ok: false, error: 'ERR value is not a valid float' }, bad)
    }
    for (const [a, b] of [
      ['1', 'inf'],
      ['1', '-infinity'],
      ['1e4932', '1e4932'],
    ]) {
      assert.deepEqual(
        incrByFloat(a!, b!),
        { ok: false, error: 'ERR increment would produce NaN or Infinity' },
        `${a} + ${b}`,
      )
    }
  })

  test('through the command: stores the formatted value and keeps the TTL', () => {
    const { run } = harness()
    run('SET', 'f', '10.50', 'EX', '100')
    assert.equal(run('INCRBYFLOAT', 'f', '0.1'), '10.6')
    assert.equal(run('GET', 'f'), '10.6')
    assert.equal(run('TTL', 'f'), 100)
    run('SET', 'g', 'abc')
    assert.deepEqual(run('INCRBYFLOAT', 'g', '1'), err('ERR value is not a valid float'))
    assert.deepEqual(run('INCRBYFLOAT', 'f', 'inf'), err('ERR increment would produce NaN or Infinity'))
  })
})
