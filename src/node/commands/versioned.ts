// RDV.RESTORE: write-if-newer for migration copies, the node's own form of the script clients run on Redis.
import { bytesOf, Hash, type Keyspace, keyOf } from '../keyspace.js'
import type { CommandSpec } from '../types.js'
import { parseInt64Bytes } from './numbers.js'
import { command, NOT_INTEGER, wrongArity } from './replies.js'

/** Stored values that start with these two bytes (and are at least 16 long) carry a version in bytes 4 to 11. */
const MAGIC = 0xd5
const FORMAT = 0x01
const HEADER_BYTES = 16

/**
 * Orders two stored values for last-writer-wins: by the version in their envelope header (bytes 4 to 11,
 * big-endian; 0 without a header), then by the bytes. The same order as the cluster's `compareStored`
 * (src/cluster/envelope.ts) and its Lua RESTORE script (src/cluster/scripts.ts); the three must agree.
 */
export function compareVersioned(a: Buffer, b: Buffer): number {
  const ha = a.length >= HEADER_BYTES && a[0] === MAGIC && a[1] === FORMAT
  const hb = b.length >= HEADER_BYTES && b[0] === MAGIC && b[1] === FORMAT
  for (let j = 4; j < 12; j++) {
    const x = ha ? a[j]! : 0
    const y = hb ? b[j]! : 0
    if (x !== y) return x < y ? -1 : 1
  }
  return Buffer.compare(a, b)
}

/**
 * `RDV.RESTORE key value ttl-ms [key value ttl-ms ...]`: writes each value (with its TTL; 0 for none) unless the
 * key already holds a string at least as new by {@link compareVersioned}. Replies 1 or 0 per key. Commands run
 * one at a time, so each check-and-write is atomic, which a GET then SET from a client is not.
 */
export function versionedCommands(ks: Keyspace): CommandSpec[] {
  return [
    command(
      'rdv.restore',
      -4,
      ['write', 'denyoom'],
      [1, -1, 3],
      'Writes each key unless it holds a value at least as new (migration copies).',
      (args) => {
        if ((args.length - 1) % 3 !== 0) return wrongArity('rdv.restore')
        const ttls: number[] = []
        for (let i = 3; i < args.length; i += 3) {
          const ttl = parseInt64Bytes(args[i]!)
          if (ttl === null || ttl < 0n || ttl > BigInt(Number.MAX_SAFE_INTEGER)) return NOT_INTEGER
          ttls.push(Number(ttl))
        }
        const out: number[] = []
        for (let i = 1, n = 0; i < args.length; i += 3, n++) {
          const key = keyOf(args[i]!)
          const value = args[i + 1]!
          const current = ks.get(key)
          if (
            current !== undefined &&
            !(current instanceof Hash) &&
            compareVersioned(value, bytesOf(current)) <= 0
          ) {
            out.push(0)
            continue
          }
          const ttl = ttls[n]!
          ks.setCopy(key, value, ttl > 0 ? ks.now() + ttl : 0)
          out.push(1)
        }
        return out
      },
    ),
  ]
}
