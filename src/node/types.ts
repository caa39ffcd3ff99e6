// The seam between the node's protocol side (server, dispatcher) and its data side (keyspace, commands).

// The reply classes live in resp/ (layer 2) so the codec stays free of node/ imports; re-exported unchanged.
export {
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
} from '../resp/reply.js'

import type { Reply } from '../resp/reply.js'

/** What a command can see of the connection it runs on. Owned and updated by the server. */
export interface ClientState {
  readonly id: number
  /** 2 or 3, set by HELLO. */
  resp: 2 | 3
  name: string | null
  authenticated: boolean
  /** Set by QUIT: the server closes the connection after writing the reply. */
  closeAfterReply: boolean
}

/**
 * A command handler. `args[0]` is the command name as sent; arity was checked before the call.
 * The `args` are views into the connection's read buffer: copy (`Buffer.from(arg)`) any you keep after returning.
 */
export type Handler = (args: Buffer[], client: ClientState) => Reply

/** One entry of a command table, with the metadata COMMAND INFO and COMMAND DOCS report. */
export interface CommandSpec {
  /** Lower-case name, e.g. `get`. */
  readonly name: string
  /** Redis arity: positive = exact argument count including the name; negative = at least -arity. */
  readonly arity: number
  /** Redis command flags, e.g. `['readonly', 'fast']`, `['write', 'denyoom']`. */
  readonly flags: readonly string[]
  readonly firstKey: number
  readonly lastKey: number
  readonly step: number
  /** Short summary for COMMAND DOCS. */
  readonly summary: string
  /** Sub-commands (for CLIENT, COMMAND): name without the parent, e.g. `setname`. */
  readonly subcommands?: readonly CommandSpec[]
  readonly handler: Handler
}
