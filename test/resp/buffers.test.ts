// The codec's Buffer helpers behave as the Buffer methods they stand in for.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { copyBytes, subarray } from '../../src/buffers.js'

test('subarray is a Buffer view of the same bytes, like Buffer#subarray', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 8 }),
      (bytes, a, b, pad) => {
        // Part of a larger buffer, as socket reads are: the view must honour the source's byteOffset.
        const whole = Buffer.alloc(bytes.length + 2 * pad)
        whole.set(bytes, pad)
        const buf = whole.subarray(pad, pad + bytes.length)
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1)
        const end = start + (b % (bytes.length - start + 1))
        const view = subarray(buf, start, end)
        assert.ok(Buffer.isBuffer(view))
        assert.deepEqual(view, buf.subarray(start, end))
        assert.equal(view.toString('latin1'), buf.toString('latin1', start, end))
        if (view.length > 0) {
          view[0] = (view[0]! + 1) & 0xff
          assert.equal(buf[start], view[0], 'shares memory with the source')
        }
      },
    ),
  )
})

test('copyBytes copies a range like Buffer#copy, short (byte by byte) and long, and leaves the rest alone', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 16 }),
      (bytes, a, b, p) => {
        const source = Buffer.from(bytes)
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1)
        const end = start + (b % (bytes.length - start + 1))
        const target = Buffer.alloc(end - start + p + 4, 7)
        const expected = Buffer.from(target)
        source.copy(expected, p, start, end)
        assert.equal(copyBytes(source, target, p, start, end), end - start)
        assert.deepEqual(target, expected)
      },
    ),
  )
})
