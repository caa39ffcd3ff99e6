// The node's data hot path: GET and SET handler cost, and heap/RSS for 1,000,000 keys with 64-byte values.
import { dataCommands } from '../src/node/commands/index.js'
import { Keyspace } from '../src/node/keyspace.js'
import type { ClientState, CommandSpec } from '../src/node/types.js'

const client: ClientState = { id: 1, resp: 2, name: null, authenticated: true, closeAfterReply: false }
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

function handler(specs: CommandSpec[], name: string): CommandSpec['handler'] {
  const spec = specs.find((s) => s.name === name)
  if (spec === undefined) throw new Error(`no ${name}`)
  return spec.handler
}

// Arguments as the decoder hands them over: slices of one larger read buffer.
function argsFor(name: string, key: string, value?: Buffer): Buffer[] {
  const parts: Buffer[] = [Buffer.from(name), Buffer.from(key, 'latin1')]
  if (value !== undefined) parts.push(value)
  const chunk = Buffer.concat(parts)
  const out: Buffer[] = []
  let off = 0
  for (const p of parts) {
    out.push(chunk.subarray(off, off + p.length))
    off += p.length
  }
  return out
}

const value = Buffer.alloc(64, 120)
const keyCount = 100_000
const ops = 2_000_000

function throughput(label: string, run: (i: number) => void): void {
  for (let i = 0; i < 200_000; i++) run(i)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) run(i)
  const ns = Number(process.hrtime.bigint() - t0)
  console.log(
    `${label.padEnd(28)} ${(ops / (ns / 1e9) / 1e6).toFixed(2)} M ops/s  ${(ns / ops).toFixed(0)} ns/op`,
  )
}

{
  const ks = new Keyspace()
  const specs = dataCommands(ks)
  const set = handler(specs, 'set')
  const get = handler(specs, 'get')
  const setArgs = Array.from({ length: keyCount }, (_, i) =>
    argsFor('SET', `key:${String(i).padStart(12, '0')}`, value),
  )
  const getArgs = Array.from({ length: keyCount }, (_, i) =>
    argsFor('GET', `key:${String(i).padStart(12, '0')}`),
  )
  throughput('SET (100k keys, 64 B)', (i) => set(setArgs[i % keyCount]!, client))
  throughput('GET hit (100k keys, 64 B)', (i) => get(getArgs[i % keyCount]!, client))
  const ksLimited = new Keyspace({ maxmemory: 4 * 1024 * 1024, maxmemoryPolicy: 'allkeys-lru' })
  const setLimited = handler(dataCommands(ksLimited), 'set')
  throughput('SET evicting (4 MB limit)', (i) => setLimited(setArgs[i % keyCount]!, client))
  console.log(
    `  evicted ${ksLimited.stats.evictedKeys}, used ${ksLimited.usedMemory} <= ${ksLimited.maxmemory}`,
  )
}

{
  gc()
  const before = process.memoryUsage()
  const ks = new Keyspace()
  const set = handler(dataCommands(ks), 'set')
  for (let i = 0; i < 1_000_000; i++) set(argsFor('SET', `key:${String(i).padStart(12, '0')}`, value), client)
  gc()
  await new Promise((r) => setTimeout(r, 2000))
  gc()
  const after = process.memoryUsage()
  const perKey = (after.heapUsed + after.external - before.heapUsed - before.external) / 1e6
  console.log(
    `1M keys x 64 B: rss ${(after.rss / 1048576).toFixed(0)} MB, heap+external ${perKey.toFixed(0)} B/key, ` +
      `accounted ${(ks.usedMemory / 1e6).toFixed(0)} B/key (used_memory ${ks.usedMemory}), ` +
      `heapTotal ${(after.heapTotal / 1048576).toFixed(0)} MB, external ${(after.external / 1048576).toFixed(0)} MB`,
  )
}
