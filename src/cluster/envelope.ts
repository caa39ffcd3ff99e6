// The bytes the cluster stores: a 16-byte header (kind, hybrid-logical-clock version, freshness) + the value.

/**
 * Stored layout (all integers big-endian):
 *
 * | offset | size | field                                                                  |
 * |--------|------|------------------------------------------------------------------------|
 * | 0      | 1    | magic `0xD5`                                                           |
 * | 1      | 1    | format version, `1`                                                    |
 * | 2      | 1    | kind: `0` value, `1` tombstone (store-mode delete), `2` cached miss    |
 * | 3      | 1    | reserved, `0`                                                          |
 * | 4      | 6    | version: hybrid logical clock, wall milliseconds                       |
 * | 10     | 2    | version: hybrid logical clock, logical counter                         |
 * | 12     | 4    | fresh for this many ms after the version's wall time; `0` = no limit   |
 * | 16     | ...  | the value                                                              |
 *
 * Bytes that do not start with the magic and format are a plain value with version 0 (written by another
 * client, `redis-cli`, or the cluster in cache mode, which stores plain values when it needs no metadata).
 */
export const HEADER_BYTES = 16
const MAGIC = 0xd5
const FORMAT = 1

/** What an envelope holds. */
export const Kind = { Value: 0, Tombstone: 1, Negative: 2 } as const
/** One of {@link Kind}'s values. */
export type Kind = (typeof Kind)[keyof typeof Kind]

/** A hybrid-logical-clock timestamp: wall ms, then a counter for events within one ms. */
export interface Version {
  readonly ms: number
  readonly counter: number
}

/** A decoded stored value. */
export interface Envelope {
  readonly kind: Kind
  readonly version: Version
  /** Wall ms until which the value is fresh; `Infinity` when unlimited. */
  readonly freshUntil: number
  readonly value: Buffer
}

const ZERO: Version = { ms: 0, counter: 0 }

/** True when `bytes` carry a header (so a plain value starting with these bytes must be wrapped). */
export function hasHeader(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_BYTES && bytes[0] === MAGIC && bytes[1] === FORMAT
}

/** Encodes an envelope. `freshForMs` 0 means fresh forever. */
export function encode(kind: Kind, version: Version, value: Uint8Array, freshForMs = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + value.length)
  out[0] = MAGIC
  out[1] = FORMAT
  out[2] = kind
  out[3] = 0
  out.writeUIntBE(version.ms, 4, 6)
  out.writeUInt16BE(version.counter, 10)
  out.writeUInt32BE(Math.min(Math.max(0, Math.ceil(freshForMs)), 0xffffffff), 12)
  out.set(value, HEADER_BYTES)
  return out
}

/** Decodes stored bytes; plain bytes (no header) decode as a value of version 0, always fresh. */
export function decode(bytes: Buffer): Envelope {
  if (!hasHeader(bytes) || bytes[2]! > Kind.Negative) {
    return { kind: Kind.Value, version: ZERO, freshUntil: Number.POSITIVE_INFINITY, value: bytes }
  }
  const ms = bytes.readUIntBE(4, 6)
  const fresh = bytes.readUInt32BE(12)
  return {
    kind: bytes[2] as Kind,
    version: { ms, counter: bytes.readUInt16BE(10) },
    freshUntil: fresh === 0 ? Number.POSITIVE_INFINITY : ms + fresh,
    value: bytes.subarray(HEADER_BYTES),
  }
}

/**
 * Orders two stored byte strings for last-writer-wins: by version, then (for equal versions from two writers)
 * by the bytes themselves, so every reader picks the same winner. Plain values are version 0.
 */
export function compareStored(a: Buffer, b: Buffer): number {
  const va = hasHeader(a) ? a.readUIntBE(4, 6) : 0
  const vb = hasHeader(b) ? b.readUIntBE(4, 6) : 0
  if (va !== vb) return va < vb ? -1 : 1
  const ca = hasHeader(a) ? a.readUInt16BE(10) : 0
  const cb = hasHeader(b) ? b.readUInt16BE(10) : 0
  if (ca !== cb) return ca < cb ? -1 : 1
  return Buffer.compare(a, b)
}

/**
 * A hybrid logical clock (Kulkarni et al.): timestamps follow the wall clock but never go backwards, and
 * `observe` moves it past versions read from other writers, so a write made after reading a value always
 * carries a larger version even when this machine's clock is behind the writer's.
 */
export class HybridClock {
  readonly #wall: () => number
  #ms = 0
  #counter = 0

  constructor(wall: () => number = Date.now) {
    this.#wall = wall
  }

  /** A new timestamp, larger than every one returned or observed before. */
  now(): Version {
    const wall = Math.floor(this.#wall())
    if (wall > this.#ms) {
      this.#ms = wall
      this.#counter = 0
    } else if (this.#counter < 0xffff) {
      this.#counter++
    } else {
      // Counter exhausted within one ms: borrow the next millisecond.
      this.#ms++
      this.#counter = 0
    }
    return { ms: this.#ms, counter: this.#counter }
  }

  /** Moves the clock past a version seen elsewhere. */
  observe(v: Version): void {
    if (v.ms > this.#ms || (v.ms === this.#ms && v.counter > this.#counter)) {
      this.#ms = v.ms
      this.#counter = v.counter
    }
  }
}
