// Reply scanning: replyEnd finds every reply's end without decoding it; bulkReply and bulkArray read GET's and
// MGET's replies straight from the bytes, agreeing with the full decoder, and refuse every other shape.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { encodeReply } from '../../src/resp/encoder.js'
import { NULL_ARRAY, type Reply } from '../../src/resp/reply.js'
import { ReplyDecoder } from '../../src/resp/reply-decoder.js'
import { bulkArray, bulkReply, INCOMPLETE, mergeArrays, replyEnd } from '../../src/resp/scan.js'
import { reply } from './arbitraries.js'

const resp = fc.constantFrom<2 | 3>(2, 3)

describe('replyEnd', () => {
  test('finds the end of each reply in a stream, and no end in any proper prefix', () => {
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 5 }), resp, (replies, v) => {
        const parts = replies.map((r) => encodeReply(r, v))
        const stream = Buffer.concat(parts)
        let pos = 0
        for (const p of parts) {
          for (let cut = pos; cut < pos + p.length; cut++) {
            assert.equal(replyEnd(stream.subarray(0, cut), pos), INCOMPLETE)
          }
          pos = replyEnd(stream, pos)
          assert.notEqual(pos, INCOMPLETE)
        }
        assert.equal(pos, stream.length)
      }),
    )
  })
})

describe('bulkReply and bulkArray', () => {
  const value = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((u): Buffer | null => Buffer.from(u)),
    fc.constant(null),
  )

  test('agree with the decoder on bulk strings, nils and arrays of them', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 12 }), resp, (values, v) => {
        const raw = encodeReply(values, v)
        assert.deepEqual(bulkArray(raw), new ReplyDecoder().push(raw)[0])
        for (const x of values) {
          const one = encodeReply(x, v)
          assert.deepEqual(bulkReply(one), x)
        }
      }),
    )
  })

  test('slices a copy-free view of the reply', () => {
    const raw = encodeReply([Buffer.from('ab'), null, Buffer.from('')], 2)
    const out = bulkArray(raw)!
    assert.equal(out[0]!.buffer, raw.buffer)
    assert.deepEqual(out, [Buffer.from('ab'), null, Buffer.from('')])
  })

  test('refuse every other reply shape', () => {
    fc.assert(
      fc.property(reply, resp, (r, v) => {
        const raw = encodeReply(r, v)
        const decoded: Reply | undefined = new ReplyDecoder().push(raw)[0]
        const isBulks = Array.isArray(decoded) && decoded.every((x) => x === null || Buffer.isBuffer(x))
        if (!isBulks) assert.equal(bulkArray(raw), undefined)
        const isBulk = decoded === null || Buffer.isBuffer(decoded)
        if (!isBulk) assert.equal(bulkReply(raw), undefined)
      }),
    )
    assert.equal(bulkArray(encodeReply(NULL_ARRAY, 2)), undefined)
    assert.equal(bulkArray(encodeReply([1, Buffer.from('a')], 2)), undefined)
    assert.equal(bulkReply(encodeReply(7, 2)), undefined)
  })
})

describe('mergeArrays', () => {
  // Any reply, or a bulk string longer than the replies' (values of a cache run from a few bytes to kilobytes).
  const element = fc.oneof(
    reply,
    fc.uint8Array({ minLength: 31, maxLength: 300 }).map((u): Reply => Buffer.from(u)),
  )
  test('puts the elements of array replies split by owner back in the caller order, as one array', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(element, fc.nat(3)), { minLength: 1, maxLength: 12 }),
        resp,
        fc.nat(64),
        (items, v, at) => {
          // Each element i (1-based) goes to group g, as MGET's keys go to their owners.
          const groups = new Map<number, number[]>()
          for (const [i, [, g]] of items.entries()) groups.set(g, [...(groups.get(g) ?? []), i + 1])
          const order = [...groups.values()]
          // Each part a view at some offset into a larger buffer, as replies are slices of what a socket read.
          const parts = order.map((idx) => {
            const raw = encodeReply(
              idx.map((i) => items[i - 1]![0]),
              v,
            )
            const room = Buffer.alloc(at + raw.length + 7, 0x2a)
            raw.copy(room, at)
            return room.subarray(at, at + raw.length)
          })
          const merged = mergeArrays(parts, order, items.length)
          assert.deepEqual(
            merged,
            encodeReply(
              items.map(([r]) => r),
              v,
            ),
          )
        },
      ),
    )
  })

  test('merges large arrays too, one after another (its reused table grows, or a huge one is not kept)', () => {
    for (const n of [100, 5000, 70, 3000]) {
      const items = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : Buffer.from(`value-${i}`)))
      const order: number[][] = [[], [], []]
      for (let i = 1; i <= n; i++) order[(i * 2654435761) % 3]!.push(i)
      const parts = order.map((idx) =>
        encodeReply(
          idx.map((i) => items[i - 1]!),
          2,
        ),
      )
      assert.deepEqual(mergeArrays(parts, order, n), encodeReply(items, 2), `${n} elements`)
    }
  })

  test('refuses parts that are not arrays of the expected length, and throws on a truncated one', () => {
    const two = encodeReply([Buffer.from('a'), null], 2)
    assert.equal(mergeArrays([two], [[1, 2, 3]], 3), null)
    assert.equal(mergeArrays([encodeReply(Buffer.from('x'), 2)], [[1]], 1), null)
    assert.equal(mergeArrays([Buffer.from('-ERR no\r\n')], [[1]], 1), null)
    assert.throws(() => mergeArrays([two.subarray(0, two.length - 3)], [[1, 2]], 2), /truncated array reply/)
  })
})
