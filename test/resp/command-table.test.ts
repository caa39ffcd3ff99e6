// CommandTable: finds a command from its name's bytes, ignoring ASCII case only, exactly as a string table would.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { CommandSpec } from '../../src/node/types.js'
import { CommandTable } from '../../src/resp/command-table.js'

const spec = (name: string): CommandSpec => ({
  name,
  arity: 1,
  flags: [],
  firstKey: 0,
  lastKey: 0,
  step: 0,
  summary: '',
  handler: () => null,
})

test('finds every name in any ASCII case, and nothing else', () => {
  const names = ['get', 'set', 'del', 'ping', 'hgetall', 'getex', 'incrbyfloat', 'x', 'client']
  const table = new CommandTable<CommandSpec>()
  for (const n of names) table.add(spec(n))
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 12 }),
      fc.constantFrom(...names),
      fc.boolean(),
      (bytes, n, useName) => {
        // Either a real name with random case flips, or random bytes.
        const b = useName
          ? Buffer.from([...n].map((c, i) => ((bytes[i] ?? 0) & 1 ? c.toUpperCase() : c).charCodeAt(0)))
          : Buffer.from(bytes)
        const lower = [...b].map((c) => (c >= 65 && c <= 90 ? c | 32 : c))
        const expected = names.find(
          (n) => n.length === lower.length && [...n].every((c, i) => c.charCodeAt(0) === lower[i]),
        )
        assert.equal(table.find(b)?.name, expected)
      },
    ),
  )
  // Only A-Z fold: latin1 letters outside ASCII do not (Redis compares with strcasecmp in the C locale).
  table.add(spec('\u00e9t'))
  assert.equal(table.find(Buffer.from([0xe9, 0x54]))?.name, '\u00e9t')
  assert.equal(table.find(Buffer.from([0xc9, 0x74])), undefined)
  assert.equal(table.find(Buffer.alloc(0)), undefined)
})

test('refuses a name defined twice, in any case', () => {
  const table = new CommandTable<CommandSpec>()
  table.add(spec('get'))
  assert.throws(() => table.add(spec('GET')), /command 'GET' is defined twice/)
})
