// Buffer methods for the hot paths of the codec, the node and the cluster, called through constants.
//
// Why constants: the buffers these paths meet have several hidden classes (socket reads, pooled and own-memory
// allocations, slices, concatenations), and a method load such as `buf.copy` on them turns polymorphic, after
// which every call pays a runtime lookup. A constant function called with `.call` has no such load. Node's
// undocumented latin1Slice/utf8Slice/latin1Write (the methods toString and write dispatch to) also skip the
// encoding-name handling (measured: 93 ns against 140 ns to make a 16-byte key); where they are missing, the
// documented methods stand in.

type Slicer = (this: Buffer, start: number, end: number) => string
type Writer = (this: Buffer, s: string, offset: number, length: number) => number
const proto = Buffer.prototype as unknown as {
  latin1Slice?: Slicer
  utf8Slice?: Slicer
  latin1Write?: Writer
}
const { latin1Slice, utf8Slice, latin1Write: nodeLatin1Write } = proto

/** The latin1 string of `buf`'s bytes from `start` to `end` (0 <= start <= end <= buf.length). */
export const latin1Between: (buf: Buffer, start: number, end: number) => string =
  typeof latin1Slice === 'function'
    ? (buf, start, end) => latin1Slice.call(buf, start, end)
    : (buf, start, end) => buf.toString('latin1', start, end)

/** The latin1 string of `buf` (one char per byte, lossless both ways). */
export const latin1Of = (buf: Buffer): string => latin1Between(buf, 0, buf.length)

/** The UTF-8 text of `buf`. */
export const utf8Of: (buf: Buffer) => string =
  typeof utf8Slice === 'function'
    ? (buf) => utf8Slice.call(buf, 0, buf.length)
    : (buf) => buf.toString('utf8')

/** Writes the latin1 string `s` (`n` chars) into `buf` at `p`; returns the bytes written. */
export const latin1Write: (buf: Buffer, s: string, p: number, n: number) => number =
  typeof nodeLatin1Write === 'function'
    ? (buf, s, p, n) => nodeLatin1Write.call(buf, s, p, n)
    : (buf, s, p, n) => buf.write(s, p, n, 'latin1')

type Viewer = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer
// Node's own Buffer class, which the getter Buffer[Symbol.species] returns. `subarray` on a Buffer runs that getter
// on every call, through a generic property load (with the builtin itself, 3.5% of a node's CPU under GET at
// -P 16); constructing the view directly skips it.
const FastBuffer = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species]
const subarrayOf = Uint8Array.prototype.subarray as (this: Buffer, start: number, end: number) => Buffer

/** The view of `buf` from `start` to `end`, without copying; 0 <= start <= end <= buf.length (not checked). */
export const subarray: (buf: Buffer, start: number, end: number) => Buffer =
  typeof FastBuffer === 'function'
    ? (buf, start, end) => new (FastBuffer as Viewer)(buf.buffer, buf.byteOffset + start, end - start)
    : (buf, start, end) => subarrayOf.call(buf, start, end)

/**
 * A Buffer over `length` bytes of `memory` from `byteOffset`, without copying: what {@link subarray} makes,
 * for callers that cut many views from one buffer and read its `buffer` (a runtime call) and `byteOffset` once.
 */
export const viewOf: (memory: ArrayBufferLike, byteOffset: number, length: number) => Buffer =
  typeof FastBuffer === 'function'
    ? (memory, byteOffset, length) => new (FastBuffer as Viewer)(memory, byteOffset, length)
    : (memory, byteOffset, length) => Buffer.from(memory, byteOffset, length)

/** `Buffer#copy`: call as `copy.call(source, target, targetStart, sourceStart?, sourceEnd?)`. */
export const copy = Buffer.prototype.copy

/** The most bytes {@link copyBytes} copies byte by byte. */
export const SHORT_COPY = 32

/**
 * Copies `source` from `start` to `end` into `target` at `p`; returns the bytes copied. Up to {@link SHORT_COPY}
 * bytes go byte by byte: `Buffer#copy` makes a view of the source on every call, about 100 ns, which a loop over
 * a short key or a short reply undercuts (measured: 15 ns for 5 bytes, 76 ns for 32; the loop and the call cross
 * near 45).
 */
export function copyBytes(source: Buffer, target: Buffer, p: number, start: number, end: number): number {
  const n = end - start
  if (n > SHORT_COPY) return copy.call(source, target, p, start, end)
  for (let i = start; i < end; i++) target[p++] = source[i]!
  return n
}
