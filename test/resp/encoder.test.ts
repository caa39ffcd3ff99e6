// Reply encoder and reply decoder: exact bytes for RESP2/RESP3, round trips, splits, limits, random input.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { ProtocolError } from '../../src/resp/decoder.js'
import { encodeReply, formatDouble, ReplyWriter } from '../../src/resp/encoder.js'
import {
  DoubleReply,
  Latin1Bulk,
  MapReply,
  NULL_ARRAY,
  OK,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from '../../src/resp/reply.js'
import { ReplyDecoder } from '../../src/resp/reply-decoder.js'
import { reply } from './arbitraries.js'

const enc = (r: Reply, resp: 2 | 3 = 2) => encodeReply(r, resp).toString('latin1')

/** What a reply looks like after a trip through the wire under `resp`. */
function normalize(r: Reply, resp: 2 | 3): Reply {
  if (typeof r === 'string') return Buffer.from(r)
  if (typeof r === 'bigint') return Number.isSafeInteger(Number(r)) ? Number(r) : r
  if (Array.isArray(r)) return r.map((x) => normalize(x, resp))
  if (r === NULL_ARRAY) return resp === 3 ? null : NULL_ARRAY
  if (r instanceof MapReply) {
    if (resp === 3) return new MapReply(r.entries.map(([k, v]) => [normalize(k, resp), normalize(v, resp)]))
    return r.entries.flatMap(([k, v]) => [normalize(k, resp), normalize(v, resp)])
  }
  if (r instanceof SetReply) {
    const items = r.items.map((x) => normalize(x, resp))
    return resp === 3 ? new SetReply(items) : items
  }
  if (r instanceof DoubleReply) return resp === 3 ? r : Buffer.from(formatDouble(r.value))
  if (r instanceof VerbatimReply) return resp === 3 ? r : Buffer.from(r.text)
  return r
}

describe('reply encoder', () => {
  test('exact RESP2 bytes', () => {
    assert.equal(enc(OK), '+OK\r\n')
    assert.equal(enc(new Status('PONG')), '+PONG\r\n')
    assert.equal(enc(new ReplyError('ERR bad\r\nthing')), '-ERR bad  thing\r\n')
    assert.equal(enc(Buffer.from('hi')), '$2\r\nhi\r\n')
    assert.equal(enc('é'), '$2\r\n\xc3\xa9\r\n')
    assert.equal(enc(''), '$0\r\n\r\n')
    assert.equal(enc(null), '$-1\r\n')
    assert.equal(enc(NULL_ARRAY), '*-1\r\n')
    assert.equal(enc(-42), ':-42\r\n')
    assert.equal(enc(2n ** 62n), `:${2n ** 62n}\r\n`)
    assert.equal(enc([1, [null]]), '*2\r\n:1\r\n*1\r\n$-1\r\n')
    assert.equal(enc(new MapReply([['a', 1]])), '*2\r\n$1\r\na\r\n:1\r\n')
    assert.equal(enc(new SetReply(['x'])), '*1\r\n$1\r\nx\r\n')
    assert.equal(enc(new DoubleReply(1.5)), '$3\r\n1.5\r\n')
    assert.equal(enc(new DoubleReply(Number.NEGATIVE_INFINITY)), '$4\r\n-inf\r\n')
    assert.equal(enc(new VerbatimReply('txt', 'ab')), '$2\r\nab\r\n')
    assert.equal(enc(Buffer.alloc(123, 'z')).slice(0, 7), '$123\r\nz')
  })

  test('exact RESP3 bytes', () => {
    assert.equal(enc(null, 3), '_\r\n')
    assert.equal(enc(NULL_ARRAY, 3), '_\r\n')
    assert.equal(enc(new MapReply([['a', 1]]), 3), '%1\r\n$1\r\na\r\n:1\r\n')
    assert.equal(enc(new SetReply(['x']), 3), '~1\r\n$1\r\nx\r\n')
    assert.equal(enc(new DoubleReply(1.5), 3), ',1.5\r\n')
    assert.equal(enc(new DoubleReply(Number.POSITIVE_INFINITY), 3), ',inf\r\n')
    assert.equal(enc(new DoubleReply(Number.NEGATIVE_INFINITY), 3), ',-inf\r\n')
    assert.equal(enc(new DoubleReply(Number.NaN), 3), ',nan\r\n')
    assert.equal(enc(new VerbatimReply('txt', 'ab'), 3), '=6\r\ntxt:ab\r\n')
  })

  test('values outside the Reply type are rejected', () => {
    assert.throws(() => encodeReply(1.5), TypeError)
    assert.throws(() => encodeReply(Number.MAX_SAFE_INTEGER + 1), TypeError)
    assert.throws(() => encodeReply({} as unknown as Reply), TypeError)
    assert.throws(() => encodeReply(new VerbatimReply('text', 'x'), 3), TypeError)
  })

  test('round trip through the reply decoder, RESP2 and RESP3, cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.constantFrom(2 as const, 3 as const),
        fc.array(fc.nat(), { maxLength: 8 }),
        (replies, resp, offsets) => {
          const wire = Buffer.concat(replies.map((r) => encodeReply(r, resp)))
          const points = [...new Set(offsets.map((o) => o % (wire.length + 1)))].sort((a, b) => a - b)
          const d = new ReplyDecoder()
          const got: Reply[] = []
          let prev = 0
          for (const p of [...points, wire.length]) {
            got.push(...d.push(wire.subarray(prev, p)))
            prev = p
          }
          assert.deepEqual(
            got,
            replies.map((r) => normalize(r, resp)),
          )
        },
      ),
      { numRuns: 500 },
    )
  })

  test('the writer passes large bulks through by reference and rewinds partial output', () => {
    const w = new ReplyWriter(64)
    const big = Buffer.alloc(20000, 1)
    w.write('a', 2)
    const mark = w.mark()
    w.write(big, 2)
    w.write('b', 2)
    const parts = w.take()
    assert.ok(parts.includes(big), 'the large value is not copied')
    assert.equal(
      Buffer.concat(parts).toString('latin1'),
      `$1\r\na\r\n$20000\r\n${big.toString('latin1')}\r\n$1\r\nb\r\n`,
    )
    w.write('a', 2)
    const m2 = w.mark()
    w.write(big, 2)
    w.write('tail', 2)
    w.rewind(mark)
    assert.equal(m2, mark)
    w.write(new ReplyError('ERR x'), 2)
    assert.equal(Buffer.concat(w.take()).toString(), '$1\r\na\r\n-ERR x\r\n')
    assert.equal(w.length, 0)
  })
})

describe('ReplyDecoder', () => {
  test('decodes booleans, big numbers, attributes and pushes', () => {
    const d = new ReplyDecoder()
    const got = d.push(
      Buffer.from('#t\r\n#f\r\n(123456789012345678901\r\n|1\r\n+a\r\n:1\r\n:2\r\n>2\r\n$1\r\nm\r\n:3\r\n'),
    )
    assert.deepEqual(got, [1, 0, 123456789012345678901n, 2, [Buffer.from('m'), 3]])
  })

  test('nesting deeper than maxDepth is a protocol error', () => {
    const d = new ReplyDecoder({ maxDepth: 3 })
    assert.deepEqual(d.push(Buffer.from('*1\r\n*1\r\n*1\r\n:1\r\n')), [[[[1]]]])
    assert.throws(
      () => new ReplyDecoder({ maxDepth: 3 }).push(Buffer.from('*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n')),
      ProtocolError,
    )
    // Deep nesting from a hostile server does not blow the stack with the default limit.
    assert.throws(() => new ReplyDecoder().push(Buffer.from('*1\r\n'.repeat(100_000))), ProtocolError)
  })

  test('huge or negative lengths are protocol errors', () => {
    assert.throws(() => new ReplyDecoder().push(Buffer.from('$-2\r\n')), ProtocolError)
    assert.throws(() => new ReplyDecoder().push(Buffer.from('$99999999999999999999\r\n')), ProtocolError)
    assert.throws(() => new ReplyDecoder({ maxBulkLength: 10 }).push(Buffer.from('$11\r\n')), ProtocolError)
    assert.throws(() => new ReplyDecoder().push(Buffer.from('*-2\r\n')), ProtocolError)
  })

  test('random bytes never crash: replies or ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          new ReplyDecoder({ maxBulkLength: 1000 }).push(Buffer.from(bytes))
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err))
        }
      }),
      { numRuns: 2000 },
    )
  })
})

test('Latin1Bulk writes the code units of its text as bytes, in RESP2 and RESP3', () => {
  const text = 'caf\u00e9\u00ff\u0000x'
  for (const resp of [2, 3] as const) {
    const out = encodeReply(new Latin1Bulk(text), resp)
    assert.deepEqual(
      out,
      Buffer.concat([Buffer.from('$7\r\n'), Buffer.from(text, 'latin1'), Buffer.from('\r\n')]),
    )
  }
  assert.deepEqual(
    encodeReply([new Latin1Bulk(''), new Latin1Bulk('ab')]),
    Buffer.from('*2\r\n$0\r\n\r\n$2\r\nab\r\n'),
  )
})
