// KeyIndex: the keyspace's open-addressing table agrees with a Map under any sequence of adds and deletes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { hashBytes, hashKey, KeyIndex } from '../../src/node/keyindex.js'

type Op = { add: boolean; key: string }

/** Replays `ops` on a KeyIndex and on a Map model, checking every key of `universe` after each step. */
function replay(ops: Op[], universe: string[], hash?: (key: string) => number): void {
  const keys: (string | undefined)[] = []
  const index =
    hash === undefined
      ? new KeyIndex(keys, 12345)
      : new (class extends KeyIndex {
          override hashOf(key: string): number {
            return hash(key)
          }
          override hashOfBytes(bytes: Uint8Array, start: number, end: number): number {
            return hash(Buffer.from(bytes).toString('latin1', start, end))
          }
        })(keys)
  const model = new Map<string, number>()
  const free: number[] = []
  for (const { add, key } of ops) {
    if (add && !model.has(key)) {
      const slot = free.pop() ?? keys.length
      keys[slot] = key
      index.add(key, slot)
      model.set(key, slot)
    } else if (!add) {
      const slot = index.delete(key)
      assert.equal(slot, model.get(key) ?? -1, `delete ${key}`)
      if (slot >= 0) {
        keys[slot] = undefined
        free.push(slot)
        model.delete(key)
      }
    }
    assert.equal(index.size, model.size)
  }
  for (const key of universe) {
    assert.equal(index.get(key), model.get(key) ?? -1, `get ${key}`)
    // The same lookup from the key's bytes, amid other bytes (a request), and of a prefix of the key.
    const wire = Buffer.from(`$${key.length}\r\n${key}\r\n`, 'latin1')
    const start = wire.indexOf('\n') + 1
    assert.equal(index.getBytes(wire, start, start + key.length), model.get(key) ?? -1, `getBytes ${key}`)
    const prefix = key.slice(0, -1)
    assert.equal(
      index.getBytes(wire, start, start + prefix.length),
      model.get(prefix) ?? -1,
      `getBytes ${prefix}`,
    )
  }
}

describe('KeyIndex', () => {
  test('agrees with a Map through growth, deletion and shrinking (random hashes)', () => {
    const universe = Array.from({ length: 3000 }, (_, i) => `key:${i}`)
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), key: fc.constantFrom(...universe) }), {
          minLength: 2000,
          maxLength: 6000,
          size: 'max',
        }),
        (ops) => replay(ops, universe),
      ),
      { numRuns: 30 },
    )
  })

  test('agrees with a Map when hashes collide in long runs that wrap around the table', () => {
    const universe = Array.from({ length: 400 }, (_, i) => `k${i}`)
    // Eight distinct hashes, all homed in the last buckets: every probe run is long and wraps past the end.
    const colliding = (key: string) => 1016 + ((key.length * 7 + key.charCodeAt(key.length - 1)) % 8)
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), key: fc.constantFrom(...universe) }), {
          minLength: 500,
          maxLength: 1500,
          size: 'max',
        }),
        (ops) => replay(ops, universe, colliding),
      ),
      { numRuns: 30 },
    )
  })

  test('adding then deleting every key leaves an empty, working index', () => {
    const keys: (string | undefined)[] = []
    const index = new KeyIndex(keys)
    for (let i = 0; i < 100_000; i++) {
      keys[i] = `user:${i}`
      index.add(keys[i]!, i)
    }
    assert.equal(index.size, 100_000)
    assert.equal(index.get('user:77777'), 77777)
    for (let i = 0; i < 100_000; i++) assert.equal(index.delete(`user:${i}`), i)
    assert.equal(index.size, 0)
    assert.equal(index.get('user:1'), -1)
    keys.length = 0
    keys[0] = 'again'
    index.add('again', 0)
    assert.equal(index.get('again'), 0)
  })

  test('the hash depends on the seed and on every byte', () => {
    assert.notEqual(hashKey('abcdefgh', 1), hashKey('abcdefgh', 2))
    assert.notEqual(hashKey('abcdefgh', 1), hashKey('abcdefgi', 1))
    assert.notEqual(hashKey('abc', 1), hashKey('abc\u0000', 1))
    assert.equal(hashKey('abc', 7), hashKey('abc', 7))
  })

  test('hashing bytes gives the hash of their latin1 string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), fc.integer(), (u, a, b, seed) => {
        const bytes = Buffer.from(u)
        const start = Math.min(a, b) % (bytes.length + 1)
        const end = start + (Math.max(a, b) % (bytes.length - start + 1))
        const key = bytes.toString('latin1', start, end)
        assert.equal(hashBytes(bytes, start, end, seed), hashKey(key, seed))
        const index = new KeyIndex([], seed)
        assert.equal(index.hashOfBytes(bytes, start, end), index.hashOf(key))
      }),
    )
  })
})
