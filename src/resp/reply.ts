// The reply values commands return, shared by the encoder (here) and the node's command handlers.

/** `+OK`-style simple string reply. */
export class Status {
  constructor(readonly text: string) {}
}

/** An error reply. `message` is the whole line after '-', e.g. `ERR syntax error` or `WRONGTYPE ...`. */
export class ReplyError {
  constructor(readonly message: string) {}
}

/** A RESP3 map (`%`); encoded as a flat array of key, value, key, value... under RESP2. */
export class MapReply {
  constructor(readonly entries: ReadonlyArray<readonly [Reply, Reply]>) {}
}

/** A RESP3 set (`~`); encoded as an array under RESP2. */
export class SetReply {
  constructor(readonly items: readonly Reply[]) {}
}

/** A RESP3 double (`,`); encoded as a bulk string under RESP2 (as Redis does for INCRBYFLOAT-like replies). */
export class DoubleReply {
  constructor(readonly value: number) {}
}

/** A RESP3 verbatim string (`=`, e.g. format `txt`); a bulk string under RESP2. */
export class VerbatimReply {
  constructor(
    readonly format: string,
    readonly text: string,
  ) {}
}

/** A null array (`*-1` under RESP2, `_` under RESP3). */
export const NULL_ARRAY: unique symbol = Symbol('null array')

/**
 * What a command returns:
 * - `Buffer` or `string`: a bulk string (strings are encoded as UTF-8);
 * - `null`: the null bulk string (`$-1`, or `_` under RESP3);
 * - `number` or `bigint`: an integer (`:`); numbers must be safe integers;
 * - arrays: a RESP array of replies;
 * - the classes above for the other types.
 */
/**
 * A bulk string whose bytes are the code units of a latin1 (one byte per char) JavaScript string. Written
 * straight into the output buffer, without making a Buffer of it first.
 */
export class Latin1Bulk {
  constructor(readonly text: string) {}
}

export type Reply =
  | Buffer
  | Latin1Bulk
  | string
  | null
  | number
  | bigint
  | Status
  | ReplyError
  | MapReply
  | SetReply
  | DoubleReply
  | VerbatimReply
  | typeof NULL_ARRAY
  | Reply[]

/** Shared constant replies (allocate once). */
export const OK = new Status('OK')
