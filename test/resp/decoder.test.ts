// Request decoder: property tests (round trips, every byte split, random bytes) and Redis's limits and errors.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  ProtocolError,
  RequestDecoder,
  type RequestDecoderOptions,
  requestKeys,
} from '../../src/resp/decoder.js'
import { encodeCommand } from '../../src/resp/encoder.js'

/** Decodes chunks; returns the requests as latin1 strings and the protocol error message if any. */
function decode(
  chunks: Buffer[],
  options?: RequestDecoderOptions,
): { requests: string[][]; error: string | null } {
  const requests: string[][] = []
  const d = new RequestDecoder((args) => {
    requests.push(args.map((a) => a.toString('latin1')))
    return undefined
  }, options)
  try {
    for (const c of chunks) d.push(c)
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    return { requests, error: err.message }
  }
  return { requests, error: null }
}

/** Cuts `buf` at the given offsets (sorted, deduplicated). */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(buf.subarray(prev, p))
    prev = p
  }
  out.push(buf.subarray(prev))
  return out
}

const arg = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u))
const command = fc.array(arg, { minLength: 1, maxLength: 6 })
/** Inline-safe words: printable, no quotes or backslashes, so `join(' ')` is a valid inline line. */
const word = fc.stringMatching(/^[a-zA-Z0-9:_.-]{1,12}$/)
const inline = fc.array(word, { minLength: 1, maxLength: 5 })

describe('RequestDecoder', () => {
  test('decodes any pipeline of multibulk requests, whole or cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (cmds, offsets) => {
          const wire = Buffer.concat(cmds.map((c) => encodeCommand(c)))
          const expected = cmds.map((c) => c.map((a) => a.toString('latin1')))
          assert.deepEqual(decode([wire]), { requests: expected, error: null })
          assert.deepEqual(decode(cut(wire, offsets)), { requests: expected, error: null })
        },
      ),
    )
  })

  test('a mixed pipeline split at every single byte boundary, and fed byte by byte', () => {
    const wire = Buffer.concat([
      encodeCommand(['SET', 'key:1', 'x'.repeat(100)]),
      Buffer.from('PING\r\n'),
      Buffer.from('get "a b" \'c\'\n'),
      encodeCommand(['MGET', '', 'k\r\n2']),
      Buffer.from('*0\r\n*-1\r\n\r\n'),
      encodeCommand(['ECHO', Buffer.from([0, 255, 13, 10])]),
    ])
    const expected = [
      ['SET', 'key:1', 'x'.repeat(100)],
      ['PING'],
      ['get', 'a b', 'c'],
      ['MGET', '', 'k\r\n2'],
      ['ECHO', Buffer.from([0, 255, 13, 10]).toString('latin1')],
    ]
    for (let i = 0; i <= wire.length; i++) {
      assert.deepEqual(
        decode([wire.subarray(0, i), wire.subarray(i)]),
        { requests: expected, error: null },
        `split at ${i}`,
      )
    }
    const bytes = [...wire].map((b) => Buffer.from([b]))
    assert.deepEqual(decode(bytes), { requests: expected, error: null })
  })

  test('inline commands round-trip and mix with multibulk ones', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(inline, command), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (reqs, offsets) => {
          const wire = Buffer.concat(
            reqs.map((r) =>
              typeof r[0] === 'string'
                ? Buffer.from(`${(r as string[]).join(' ')}\r\n`)
                : encodeCommand(r as Buffer[]),
            ),
          )
          const expected = reqs.map((r) => r.map((a) => (typeof a === 'string' ? a : a.toString('latin1'))))
          assert.deepEqual(decode(cut(wire, offsets)), { requests: expected, error: null })
        },
      ),
    )
  })

  test('random bytes never crash or hang: each input ends in requests or a ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, offsets) => {
          const chunks = cut(Buffer.from(bytes), offsets)
          const r = decode(chunks, {
            maxBulkLength: 1000,
            maxArgs: 50,
            maxInlineLength: 100,
            maxQueryBuffer: 2000,
          })
          assert.ok(r.error === null || r.error.startsWith('Protocol error: '))
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('random bytes biased to RESP syntax never crash either', () => {
    const token = fc.constantFrom(
      '*',
      '$',
      '\r\n',
      '\r',
      '\n',
      '-1',
      '0',
      '3',
      '99999999999999999999',
      'a',
      '"',
      "'",
      '\\x4',
      ' ',
    )
    fc.assert(
      fc.property(
        fc.array(token, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (tokens, offsets) => {
          const r = decode(cut(Buffer.from(tokens.join(''), 'latin1'), offsets), { maxInlineLength: 64 })
          assert.ok(r.error === null || r.error.startsWith('Protocol error: '))
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('bulk lengths: negative, huge, over the limit, malformed', () => {
    const err = (s: string, o?: RequestDecoderOptions) => decode([Buffer.from(s, 'latin1')], o).error
    assert.equal(err('*1\r\n$-1\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$-5\r\nxx\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$99999999999999999999\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$536870913\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$536870912\r\n'), null, 'exactly the default limit is accepted (and awaited)')
    assert.equal(
      err('*1\r\n$11\r\nhello world\r\n', { maxBulkLength: 10 }),
      'Protocol error: invalid bulk length',
    )
    assert.equal(err('*1\r\n$10\r\nhelloworld\r\n', { maxBulkLength: 10 }), null)
    assert.equal(err('*1\r\n$+3\r\nabc\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$03\r\nabc\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$3x\r\nabc\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n$\r\n'), 'Protocol error: invalid bulk length')
    assert.equal(err('*1\r\n:3\r\n'), "Protocol error: expected '$', got ':'")
    assert.equal(err('*2\r\n$1\r\na\r\n\r\n'), "Protocol error: expected '$', got ' '")
  })

  test('multibulk counts: negative and zero are ignored, huge or over maxArgs are errors', () => {
    const run = (s: string, o?: RequestDecoderOptions) => decode([Buffer.from(s, 'latin1')], o)
    assert.deepEqual(run('*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n'), { requests: [['PING']], error: null })
    assert.equal(run('*99999999999999999999\r\n').error, 'Protocol error: invalid multibulk length')
    assert.equal(run('*1048577\r\n').error, 'Protocol error: invalid multibulk length')
    assert.equal(run('*3\r\n', { maxArgs: 2 }).error, 'Protocol error: invalid multibulk length')
    assert.equal(run('*x\r\n').error, 'Protocol error: invalid multibulk length')
    assert.equal(run('a b c\r\n', { maxArgs: 2 }).error, 'Protocol error: invalid multibulk length')
  })

  test('inline: quoting and escapes as Redis splits them', () => {
    const run = (s: string) => decode([Buffer.from(s, 'latin1')])
    assert.deepEqual(run('set k "a\\x41\\n\\"b" \'it\\\'s\'\r\n').requests, [['set', 'k', 'aA\n"b', "it's"]])
    assert.deepEqual(run('  ping   \n\r\n\n').requests, [['ping']])
    assert.deepEqual(run('echo ""\r\n').requests, [['echo', '']])
    assert.deepEqual(run('a"b c"d\r\n').error, 'Protocol error: unbalanced quotes in request')
    assert.deepEqual(run('echo "abc\r\n').error, 'Protocol error: unbalanced quotes in request')
    assert.deepEqual(run("echo 'abc\r\n").error, 'Protocol error: unbalanced quotes in request')
    assert.deepEqual(run('x"y z"\r\n').requests, [['xy z']])
  })

  test('inline line length: too big with or without a line end, also when it trickles in', () => {
    const o = { maxInlineLength: 16 }
    assert.equal(
      decode([Buffer.from(`${'a'.repeat(17)}\r\n`)], o).error,
      'Protocol error: too big inline request',
    )
    assert.equal(decode([Buffer.from('a'.repeat(18))], o).error, 'Protocol error: too big inline request')
    const trickle = [...'a'.repeat(20)].map((c) => Buffer.from(c))
    assert.equal(decode(trickle, o).error, 'Protocol error: too big inline request')
    assert.deepEqual(decode([Buffer.from(`${'a'.repeat(16)}\r\n`)], o).requests, [['a'.repeat(16)]])
  })

  test('query buffer limit: an announced bulk or pending bytes over the limit is an error', () => {
    const o = { maxQueryBuffer: 100 }
    assert.equal(
      decode([Buffer.from('*1\r\n$200\r\n')], o).error,
      'Protocol error: query buffer limit exceeded',
    )
    const parts = [
      Buffer.from('*3\r\n$60\r\n'),
      Buffer.alloc(62, 'a'),
      Buffer.from('$60\r\n'),
      Buffer.alloc(30, 'b'),
    ]
    parts[1]!.write('\r\n', 60)
    assert.equal(decode(parts, o).error, 'Protocol error: query buffer limit exceeded')
    const fits = [
      Buffer.from('*1\r\n$60\r\n'),
      Buffer.alloc(30, 'a'),
      Buffer.alloc(30, 'a'),
      Buffer.from('\r\n'),
    ]
    assert.deepEqual(decode(fits, o), { requests: [['a'.repeat(60)]], error: null })
  })

  test('after an error every push throws; returning false stops and discards the rest', () => {
    const d = new RequestDecoder(() => undefined)
    assert.throws(() => d.push(Buffer.from('*1\r\n$-2\r\n')), ProtocolError)
    assert.throws(() => d.push(encodeCommand(['PING'])), /invalid bulk length/)

    const seen: string[] = []
    const s = new RequestDecoder((args) => {
      seen.push(args[0]!.toString())
      return args[0]!.toString() === 'QUIT' ? false : undefined
    })
    s.push(Buffer.concat([encodeCommand(['PING']), encodeCommand(['QUIT']), encodeCommand(['PING'])]))
    s.push(encodeCommand(['PING']))
    assert.deepEqual(seen, ['PING', 'QUIT'])
    assert.equal(s.stopped, true)
  })

  test('argument counts around the pre-sized limit (1024) decode whole and cut anywhere', () => {
    for (const n of [1023, 1024, 1025, 3000]) {
      const cmd = Array.from({ length: n }, (_, i) => `a${i}`)
      const wire = encodeCommand(cmd)
      assert.deepEqual(decode([wire]), { requests: [cmd], error: null }, `${n} arguments`)
      assert.deepEqual(
        decode(cut(wire, [7, 100, Math.floor(wire.length / 2), wire.length - 3])),
        { requests: [cmd], error: null },
        `${n} arguments, cut`,
      )
    }
  })

  test('a large bulk in many chunks is assembled once and the arguments are views, not copies', () => {
    const big = Buffer.alloc(1 << 20, 7)
    const wire = Buffer.concat([encodeCommand(['SET', 'k', big]), encodeCommand(['GET', 'k'])])
    const got: Buffer[][] = []
    const d = new RequestDecoder((a) => {
      got.push(a)
      return undefined
    })
    for (let i = 0; i < wire.length; i += 1000) d.push(wire.subarray(i, i + 1000))
    assert.equal(got.length, 2)
    assert.ok(got[0]![2]!.equals(big))
    assert.equal(d.buffered, 0)
  })

  test('unauthenticated: at most 10 arguments of at most 16 KB, as Redis limits clients before AUTH', () => {
    const run = (wire: Buffer) => {
      const requests: number[] = []
      const d = new RequestDecoder((a) => {
        requests.push(a.length)
        return undefined
      })
      d.unauthenticated = true
      try {
        d.push(wire)
      } catch (err) {
        return (err as Error).message
      }
      return requests
    }
    const many = Array.from({ length: 11 }, () => 'a')
    assert.equal(run(encodeCommand(many)), 'Protocol error: unauthenticated multibulk length')
    assert.equal(
      run(encodeCommand(['AUTH', 'x'.repeat(16385)])),
      'Protocol error: unauthenticated bulk length',
    )
    assert.deepEqual(run(encodeCommand(many.slice(1))), [10])
    assert.deepEqual(run(encodeCommand(['AUTH', 'x'.repeat(16384)])), [2])
  })

  test('options are validated', () => {
    assert.throws(() => new RequestDecoder(() => undefined, { maxArgs: 0 }), TypeError)
    assert.throws(() => new RequestDecoder(() => undefined, { maxBulkLength: 1.5 }), /maxBulkLength/)
  })
})

describe('requestKeys', () => {
  /** The second arguments requestKeys finds in `wire`, as latin1 strings, with room for `max`. */
  function keysOf(wire: Buffer, max = 32): string[] {
    const out = new Int32Array(2 * max)
    const n = requestKeys(wire, out)
    assert.ok(n >= 0 && n <= max)
    const keys: string[] = []
    for (let i = 0; i < n; i++) {
      const start = out[2 * i]!
      const end = out[2 * i + 1]!
      assert.ok(start >= 0 && start <= end && end <= wire.length, `range ${start}..${end}`)
      keys.push(wire.toString('latin1', start, end))
    }
    return keys
  }

  test('finds the second argument of each complete request up to the first one it cannot use', () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 10 }),
        fc.nat(),
        fc.integer({ min: 1, max: 12 }),
        (cmds, cutAt, max) => {
          const wire = Buffer.concat(cmds.map((c) => encodeCommand(c)))
          const prefix = wire.subarray(0, cutAt % (wire.length + 1))
          // The model: whole requests of two or more arguments from the start, at most `max` of them.
          const expected: string[] = []
          let end = 0
          for (const c of cmds) {
            end += encodeCommand(c).length
            if (end > prefix.length || c.length < 2 || expected.length === max) break
            expected.push(c[1]!.toString('latin1'))
          }
          assert.deepEqual(keysOf(prefix, max), expected)
        },
      ),
    )
  })

  test('stops at an inline or malformed request and never throws on random bytes', () => {
    assert.deepEqual(keysOf(Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\nGET x\r\n')), ['k'])
    assert.deepEqual(keysOf(Buffer.from('*2\r\n$3\r\nGET\r\n$-1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n')), [])
    assert.deepEqual(keysOf(Buffer.from('*2\r\n$3\r\nGET\r\n$01\r\nk\r\n')), [])
    assert.deepEqual(keysOf(Buffer.from('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n')), [])
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        keysOf(Buffer.from(bytes), 4)
      }),
      { numRuns: 2000 },
    )
  })
})
