// Keyspace: byte accounting, maxmemory eviction and OOM, lazy and active expiry, SCAN completeness, INFO text.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  bytesToHuman,
  ENTRY_OVERHEAD,
  entryBytes,
  Hash,
  KEEP_TTL,
  Keyspace,
  stringBytes,
} from '../../src/node/keyspace.js'
import { err, harness, OK, WRONGTYPE as WRONG } from './data-harness.js'

const OOM = err("OOM command not allowed when used memory > 'maxmemory'.")

describe('Keyspace', () => {
  test('accounts key, value and overhead, and gives it all back on delete', () => {
    const ks = new Keyspace()
    ks.set('k', 'v'.repeat(64))
    // A 64-byte value fills a 64-byte slab chunk: nothing else is accounted for it.
    assert.equal(ks.usedMemory, ENTRY_OVERHEAD + stringBytes('k') + 64)
    ks.set('k', 'v'.repeat(65))
    assert.equal(ks.usedMemory, ENTRY_OVERHEAD + stringBytes('k') + 80)
    ks.set('k', Buffer.alloc(5000))
    assert.equal(ks.usedMemory, entryBytes('k', Buffer.alloc(5000)))
    const h = new Hash()
    ks.hashSet('h', h, 'f', 'x')
    assert.equal(ks.usedMemory, entryBytes('k', Buffer.alloc(5000)) + entryBytes('h', h))
    ks.delete('k')
    ks.hashDelete('h', h, 'f')
    assert.equal(ks.usedMemory, 0)
    assert.equal(ks.size, 0)
  })

  test('allkeys-lru: writing 10x maxmemory stays under it, counts evictions, evicts least recently used', () => {
    const maxmemory = 64 * 1024
    const { ks, run } = harness({ maxmemory, maxmemoryPolicy: 'allkeys-lru' })
    run('SET', 'hot', 'v')
    const value = 'x'.repeat(100)
    let written = 0
    let sets = 1
    for (let i = 0; written < 10 * maxmemory; i++, sets++) {
      run('SET', `key:${i}`, value)
      written += entryBytes(`key:${i}`, value)
      if (i % 10 === 0) assert.equal(run('GET', 'hot'), 'v', 'a key in use is never the LRU one')
      assert.ok(ks.usedMemory <= maxmemory, `used ${ks.usedMemory} > ${maxmemory}`)
    }
    assert.ok(ks.stats.evictedKeys > 0)
    assert.equal(ks.size + ks.stats.evictedKeys, sets, 'every key written is either present or evicted')
    assert.equal(run('GET', 'key:0'), null, 'the oldest key went first')
    assert.match(ks.infoSections(), new RegExp(`evicted_keys:${ks.stats.evictedKeys}\r\n`))
  })

  test('allkeys-lru keeps the keys read lately and the newest writes; unread keys go oldest first', () => {
    const ks = new Keyspace({ maxmemoryPolicy: 'allkeys-lru' })
    const value = 'x'.repeat(100)
    const key = (i: number) => `k${String(i).padStart(4, '0')}`
    for (let i = 0; i < 1000; i++) ks.set(key(i), value)
    for (let i = 0; i < 1000; i += 2) ks.read(key(i)) // the even keys are in use
    const count = (from: number, to: number, step: number) => {
      let n = 0
      for (let i = from; i < to; i += step) if (ks.has(key(i))) n++
      return n
    }
    ks.maxmemory = 600 * entryBytes(key(0), value)
    assert.equal(ks.size, 600)
    assert.equal(count(0, 1000, 2), 500, 'keys read lately stay')
    assert.equal(count(1, 800, 2), 0, 'the 400 oldest unread keys went first')
    assert.equal(count(801, 1000, 2), 100)
    // New writes over the limit: the remaining unread keys go next; the keys in use and the new keys stay.
    for (let i = 0; i < 100; i++) ks.set(`new${i}`, value)
    assert.equal(count(1, 1000, 2), 0)
    assert.equal(count(0, 1000, 2), 500, 'keys read lately stay')
    for (let i = 0; i < 100; i++) assert.ok(ks.has(`new${i}`), `new${i} stays`)
  })

  test('prefetch changes nothing: with or without it, the same operations give the same replies and evictions', () => {
    const key = (i: number) => `k${i}`
    const op = fc.record({
      kind: fc.constantFrom('set', 'read', 'delete', 'prefetch'),
      keys: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 }),
      size: fc.integer({ min: 0, max: 2000 }),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const make = () => {
          let t = 1000
          return new Keyspace({ maxmemory: 20_000, maxmemoryPolicy: 'allkeys-lru', now: () => t++ })
        }
        const plain = make()
        const ahead = make()
        const log = (ks: Keyspace, o: (typeof ops)[number], prefetch: boolean): unknown[] => {
          const out: unknown[] = []
          if (o.kind === 'prefetch') {
            if (!prefetch) return out
            // Keys (present, absent, deleted) as byte ranges of one buffer, as a server finds them in a chunk.
            const wire = Buffer.from(o.keys.map((k) => `${key(k)} `).join(''), 'latin1')
            const ranges = new Int32Array(2 * o.keys.length)
            let pos = 0
            o.keys.forEach((k, i) => {
              ranges[2 * i] = pos
              ranges[2 * i + 1] = pos + key(k).length
              pos += key(k).length + 1
            })
            ks.prefetch(wire, ranges, o.keys.length)
            return out
          }
          for (const k of o.keys) {
            if (o.kind === 'set') ks.set(key(k), 'v'.repeat(o.size), o.size % 3 === 0 ? 5000 : 0)
            else if (o.kind === 'read') out.push(ks.read(key(k)))
            else out.push(ks.delete(key(k)))
          }
          return out
        }
        for (const o of ops) assert.deepEqual(log(ahead, o, true), log(plain, o, false))
        assert.deepEqual(ahead.stats, plain.stats)
        assert.equal(ahead.usedMemory, plain.usedMemory)
        for (let k = 0; k <= 60; k++) assert.equal(ahead.has(key(k)), plain.has(key(k)), key(k))
      }),
      { numRuns: 200 },
    )
  })

  test('values read back byte for byte, whatever was stored, overwritten or deleted before, in any size', () => {
    // Short values share slab pages and reuse each other's chunks; long ones are Buffers: a model (a Map) must
    // agree with every read, and the accounting with the sum of what the model holds.
    const value = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 1000, max: 9000 })),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
      )
      .map(([n, seed, asString]) => {
        const bytes = Buffer.alloc(n)
        for (let i = 0; i < n; i++) bytes[i] = (seed + i * 7) & 255
        return asString ? bytes.toString('latin1') : bytes
      })
    const op = fc.record({
      kind: fc.constantFrom('set', 'set', 'setCopy', 'delete', 'rename', 'view'),
      key: fc.integer({ min: 0, max: 30 }),
      to: fc.integer({ min: 0, max: 30 }),
      value,
    })
    fc.assert(
      // With 3 pages the slab fills up at once: values then go to Buffers of their own, beside chunked ones.
      fc.property(fc.array(op, { maxLength: 300 }), fc.constantFrom(undefined, 3), (ops, slabPages) => {
        const ks = new Keyspace({ slabPages })
        const model = new Map<string, string>()
        for (const o of ops) {
          const k = `k${o.key}`
          const latin1 = typeof o.value === 'string' ? o.value : o.value.toString('latin1')
          if (o.kind === 'set') {
            ks.set(k, typeof o.value === 'string' ? o.value : Buffer.from(o.value))
            model.set(k, latin1)
          } else if (o.kind === 'setCopy') {
            const input = Buffer.from(latin1, 'latin1')
            ks.setCopy(k, input)
            input.fill(0) // the caller reuses its buffer: the stored value must not change
            model.set(k, latin1)
          } else if (o.kind === 'delete') {
            assert.equal(ks.delete(k), model.delete(k))
          } else if (o.kind === 'rename') {
            const to = `k${o.to}`
            assert.equal(ks.rename(k, to), model.has(k))
            if (model.has(k) && k !== to) {
              model.set(to, model.get(k)!)
              model.delete(k)
            }
          } else {
            const v = ks.view(k)
            assert.equal(v === undefined ? undefined : (v as Buffer).toString('latin1'), model.get(k))
          }
        }
        let used = 0
        for (const [k, v] of model) {
          const stored = ks.read(k)
          assert.equal(typeof stored === 'string' ? stored : (stored as Buffer).toString('latin1'), v, k)
          used += entryBytes(k, v)
        }
        assert.equal(ks.size, model.size)
        // Accounted as entryBytes says when every short value is in the slab; either way, all of it given back.
        if (slabPages === undefined) assert.equal(ks.usedMemory, used)
        for (const k of model.keys()) ks.delete(k)
        assert.equal(ks.usedMemory, 0)
        if (slabPages !== undefined) assert.ok(ks.slabBytes <= slabPages * 65536)
      }),
      { numRuns: 300 },
    )
  })

  test('hash fields read back byte for byte through HSET, HDEL, HINCRBY, RENAME, SET over a hash and DEL', () => {
    // Field values live in the slab after their length (up to 1 KiB), longer ones in Buffers: a model of maps
    // must agree with HGETALL after every command, and everything must be given back at the end.
    const text = fc
      .tuple(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1000, max: 1100 })), fc.nat(255))
      .map(([n, seed]) =>
        Array.from({ length: n }, (_, i) => String.fromCharCode((seed + i * 13) & 255)).join(''),
      )
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('hset'),
        key: fc.nat(3),
        fields: fc.array(fc.tuple(fc.nat(6), text), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('hdel'), key: fc.nat(3), field: fc.nat(6) }),
      fc.record({
        kind: fc.constant('hincrby'),
        key: fc.nat(3),
        field: fc.nat(6),
        by: fc.integer({ min: -5, max: 5 }),
      }),
      fc.record({ kind: fc.constant('rename'), key: fc.nat(3), to: fc.nat(3) }),
      fc.record({ kind: fc.constantFrom('set', 'del'), key: fc.nat(3), value: text }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom(undefined, 2), (ops, slabPages) => {
        const { run, ks } = harness({ slabPages })
        const model = new Map<string, Map<string, string> | string>()
        for (const o of ops) {
          const k = `h${o.key}`
          const m = model.get(k)
          if (o.kind === 'hset') {
            const reply = run('HSET', k, ...o.fields.flatMap(([f, v]) => [`f${f}`, v]))
            if (typeof m === 'string') {
              assert.deepEqual(reply, WRONG)
              continue
            }
            const h = m ?? new Map<string, string>()
            for (const [f, v] of o.fields) h.set(`f${f}`, v)
            model.set(k, h)
          } else if (o.kind === 'hdel') {
            const reply = run('HDEL', k, `f${o.field}`)
            if (typeof m === 'string') assert.deepEqual(reply, WRONG)
            else {
              assert.equal(reply, m?.delete(`f${o.field}`) ? 1 : 0)
              if (m?.size === 0) model.delete(k)
            }
          } else if (o.kind === 'hincrby') {
            const reply = run('HINCRBY', k, `f${o.field}`, String(o.by))
            const old = typeof m === 'string' ? undefined : (m?.get(`f${o.field}`) ?? '0')
            if (typeof m === 'string') assert.deepEqual(reply, WRONG)
            else if (!/^-?(0|[1-9][0-9]*)$/.test(old!))
              assert.deepEqual(reply, err('ERR hash value is not an integer'))
            else {
              const next = String(Number(old) + o.by)
              assert.equal(reply, Number(next))
              const h = m ?? new Map<string, string>()
              h.set(`f${o.field}`, next)
              model.set(k, h)
            }
          } else if (o.kind === 'rename') {
            const to = `h${o.to}`
            run('RENAME', k, to)
            if (m !== undefined && k !== to) {
              model.set(to, m)
              model.delete(k)
            }
          } else if (o.kind === 'set') {
            run('SET', k, o.value)
            model.set(k, o.value)
          } else {
            run('DEL', k)
            model.delete(k)
          }
          for (let i = 0; i <= 3; i++) {
            const mk = model.get(`h${i}`)
            const got = run('HGETALL', `h${i}`)
            if (typeof mk === 'string') assert.deepEqual(got, WRONG)
            else assert.deepEqual(got, { map: [...(mk ?? new Map())].flat() }, `h${i}`)
          }
        }
        for (let i = 0; i <= 3; i++) run('DEL', `h${i}`)
        assert.equal(ks.usedMemory, 0)
        // One page at most kept per chunk size used (16, 32, 48, 1008, 1024, 1152 bytes).
        assert.ok(ks.slabBytes <= 6 * 65536, `${ks.slabBytes} bytes of pages left`)
      }),
      { numRuns: 200 },
    )
  })

  test('a hash evicted by its own HSET is started afresh, never left with freed values', () => {
    const { run, ks } = harness({ maxmemory: 3000, maxmemoryPolicy: 'allkeys-lru' })
    const fields = Array.from({ length: 40 }, (_, i) => [`field${i}`, `value-${i}-${'v'.repeat(40)}`]).flat()
    run('HSET', 'h', ...fields)
    assert.ok(ks.stats.evictedKeys > 0)
    // Evicted whenever it outgrew the limit, the hash was started again from the next field: the last fields
    // are there, with their own values.
    assert.equal(run('HGET', 'h', 'field39'), `value-39-${'v'.repeat(40)}`)
    const got = run('HGETALL', 'h') as { map: string[] }
    assert.ok(got.map.length >= 2)
    for (let i = 0; i < got.map.length; i += 2) {
      assert.equal(got.map[i + 1], `value-${got.map[i]!.slice(5)}-${'v'.repeat(40)}`, got.map[i])
    }
    assert.ok(ks.usedMemory <= 3000)
  })

  test('overwritten, renamed, evicted and deleted values give their slab memory back', () => {
    const ks = new Keyspace()
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20_000; i++) ks.set(`k${i}`, 'v'.repeat((i + round) % 200))
    }
    for (let i = 0; i < 20_000; i += 2) ks.rename(`k${i}`, `r${i}`)
    assert.ok(ks.slabBytes < 1.2 * 20_000 * 112, `${ks.slabBytes} bytes of pages for 20,000 values`)
    for (let i = 0; i < 20_000; i++) ks.delete(`k${i}`) || ks.delete(`r${i}`)
    assert.equal(ks.size, 0)
    // At most one page kept per chunk size used (13 sizes: 16 to 208 bytes).
    assert.ok(ks.slabBytes <= 13 * 65536, `${ks.slabBytes} bytes of pages left`)

    // Hash fields overwritten many times, in changing sizes, then deleted.
    const h = new Hash()
    for (let i = 0; i < 20_000; i++) ks.hashSet('h', h, `f${i % 10}`, 'x'.repeat(i % 300))
    assert.ok(ks.slabBytes <= 30 * 65536, `${ks.slabBytes} bytes of pages for 10 fields`)
    ks.delete('h')
    assert.ok(ks.slabBytes <= 30 * 65536, `${ks.slabBytes} bytes of pages left`)

    const limited = new Keyspace({ maxmemory: 2_000_000, maxmemoryPolicy: 'allkeys-lru' })
    for (let i = 0; i < 100_000; i++) limited.set(`k${i}`, 'v'.repeat(i % 200))
    assert.ok(limited.stats.evictedKeys > 80_000)
    assert.ok(limited.slabBytes < limited.maxmemory, `${limited.slabBytes} bytes of pages under a 2 MB limit`)
  })

  test('noeviction: denyoom commands answer OOM over the limit, others still work', () => {
    const { ks, run } = harness({ maxmemory: 4096, maxmemoryPolicy: 'noeviction' })
    let i = 0
    while (!ks.overLimit()) run('SET', `k${i++}`, 'x'.repeat(100))
    assert.deepEqual(run('SET', 'one', 'more'), OOM)
    assert.deepEqual(run('HSET', 'h', 'f', 'v'), OOM)
    assert.deepEqual(run('INCR', 'n'), OOM)
    assert.equal(run('GET', 'k0'), 'x'.repeat(100))
    assert.equal(run('DEL', 'k0', 'k1', 'k2'), 3, 'deletes are allowed and make room')
    assert.deepEqual(run('SET', 'one', 'more'), OK)
    assert.equal(ks.stats.evictedKeys, 0)
  })

  test('lowering maxmemory at run time evicts at once under allkeys-lru', () => {
    const ks = new Keyspace({ maxmemoryPolicy: 'allkeys-lru' })
    for (let i = 0; i < 100; i++) ks.set(`k${i}`, 'v')
    ks.maxmemory = 10 * entryBytes('k10', 'v')
    assert.ok(ks.usedMemory <= ks.maxmemory)
    assert.ok(ks.size >= 9 && ks.size <= 10)
  })

  test('rejects bad options with TypeError', () => {
    assert.throws(() => new Keyspace({ maxmemory: -1 }), TypeError)
    assert.throws(() => new Keyspace({ maxmemoryPolicy: 'volatile-lru' as never }), TypeError)
    assert.throws(() => new Keyspace({ hz: 0 }), TypeError)
    assert.throws(() => new Keyspace({ slabPages: 0 }), /slabPages must be a positive integer, got 0/)
  })

  test('expired keys are never returned and count as expired', () => {
    const { ks, clock } = harness()
    ks.set('a', 'v', clock.now + 10)
    ks.set('b', 'v', clock.now + 10)
    clock.now += 11
    assert.equal(ks.read('a'), undefined)
    assert.equal(ks.has('b'), false)
    assert.equal(ks.stats.expiredKeys, 2)
    assert.equal(ks.size, 0)
    assert.equal(ks.stats.misses, 1)
  })

  test('KEEP_TTL keeps a TTL and drops one that has passed', () => {
    const { ks, clock } = harness()
    ks.set('a', 'v', clock.now + 10)
    ks.set('a', 'w', KEEP_TTL)
    assert.equal(ks.expireAt('a'), clock.now + 10)
    clock.now += 11
    ks.set('a', 'x', KEEP_TTL)
    assert.equal(ks.expireAt('a'), 0)
    assert.equal(ks.read('a'), 'x')
  })

  test('active expiry reclaims keys nobody reads', () => {
    const { ks, clock } = harness()
    for (let i = 0; i < 1000; i++) ks.set(`t${i}`, 'v', clock.now + 100)
    for (let i = 0; i < 100; i++) ks.set(`p${i}`, 'v')
    clock.now += 101
    let cycles = 0
    while (ks.volatileCount > 0 && cycles < 1000) {
      ks.activeExpireCycle()
      cycles++
    }
    assert.equal(ks.volatileCount, 0)
    assert.equal(ks.size, 100)
    assert.equal(ks.stats.expiredKeys, 1000)
    let live = 0
    for (let i = 0; i < 100; i++) live += entryBytes(`p${i}`, 'v')
    assert.equal(ks.usedMemory, live)
  })

  test('an active cycle stops once few sampled keys have expired, leaving live ones', () => {
    const { ks, clock } = harness()
    for (let i = 0; i < 200; i++) ks.set(`k${i}`, 'v', clock.now + (i < 10 ? 1 : 1_000_000))
    clock.now += 2
    ks.activeExpireCycle()
    assert.ok(ks.size >= 190)
    assert.match(ks.infoKeyspace(), /^# Keyspace\r\ndb0:keys=\d+,expires=\d+,avg_ttl=\d+\r\n$/)
  })

  test('start() runs cycles on an unref-ed timer and stop() ends them', async () => {
    const { ks, clock } = harness({ hz: 100 })
    ks.set('k', 'v', clock.now + 1)
    clock.now += 2
    ks.start()
    const deadline = Date.now() + 5000
    while (ks.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    ks.stop()
    assert.equal(ks.size, 0)
    assert.ok(ks.stats.activeExpireCycles > 0)
  })

  test('SCAN returns every key present for the whole scan, whatever is added or deleted meanwhile', () => {
    // Model: keys 0..n-1 exist at the start; between SCAN calls random keys are deleted, re-added or
    // created. Every key never deleted during the scan must be returned at least once.
    const op = fc.record({
      kind: fc.constantFrom('del', 'add', 'set'),
      key: fc.nat(300),
    })
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.array(op, { maxLength: 8 }), { maxLength: 60 }),
        (n, count, batches) => {
          const ks = new Keyspace()
          for (let i = 0; i < n; i++) ks.set(`k${i}`, 'v')
          const touched = new Set<string>()
          const seen = new Set<string>()
          let cursor = 0
          let step = 0
          do {
            cursor = ks.scan(cursor, count, (key) => seen.add(key))
            // Modifications stop after the last batch, so the scan ends even while keys are being added.
            for (const o of batches[step++] ?? []) {
              const key = `k${o.key}`
              if (o.kind === 'del') {
                ks.delete(key)
                touched.add(key)
              } else if (o.kind === 'add') ks.set(`new${o.key}-${step}`, 'v')
              else if (ks.has(key)) ks.set(key, 'w', KEEP_TTL)
              else touched.add(key)
            }
          } while (cursor !== 0)
          for (let i = 0; i < n; i++) {
            const key = `k${i}`
            if (!touched.has(key)) assert.ok(seen.has(key), `${key} missed`)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('INFO sections', () => {
  test('are in Redis format with \\r\\n lines', () => {
    const { ks, run } = harness({ maxmemory: 1024 * 1024, maxmemoryPolicy: 'allkeys-lru' })
    run('SET', 'a', '1')
    run('SET', 'b', '2', 'EX', '100')
    run('GET', 'a')
    run('GET', 'zz')
    const text = ks.infoSections([['total_commands_processed', 7]])
    const sections = text.split('\r\n\r\n')
    assert.equal(sections.length, 3)
    assert.match(sections[0]!, /^# Memory\r\nused_memory:\d+\r\nused_memory_human:[\d.]+[BKMG]\r\n/)
    assert.match(
      sections[0]!,
      /\r\nmaxmemory:1048576\r\nmaxmemory_human:1.00M\r\nmaxmemory_policy:allkeys-lru$/,
    )
    assert.match(sections[1]!, /^# Stats\r\ntotal_commands_processed:7\r\nexpired_keys:0\r\n/)
    assert.match(sections[1]!, /\r\nevicted_keys:0\r\nkeyspace_hits:1\r\nkeyspace_misses:1$/)
    assert.equal(sections[2], '# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n')
    run('FLUSHALL')
    assert.equal(ks.infoKeyspace(), '# Keyspace\r\n')
  })

  test('bytesToHuman follows Redis', () => {
    assert.equal(bytesToHuman(0), '0B')
    assert.equal(bytesToHuman(1023), '1023B')
    assert.equal(bytesToHuman(1536), '1.50K')
    assert.equal(bytesToHuman(256 * 1024 * 1024), '256.00M')
    assert.equal(bytesToHuman(3 * 1024 ** 3), '3.00G')
  })
})
