// The one error base class of the project, with stable machine-readable codes.

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export type ErrorCode =
  | 'ERR_NO_SERVERS'
  | 'ERR_UNKNOWN_SERVER'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_TIMEOUT'
  | 'ERR_ALL_SERVERS_DOWN'
  | 'ERR_PARTIAL_FAILURE'
  | 'ERR_WRITE_CONCERN'
  | 'ERR_READ_QUORUM'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CLOSED'

/** Base class for every error this package throws on purpose (besides `TypeError` for bad arguments). */
export class RendezvousError extends Error {
  /** A stable code to branch on, e.g. `ERR_NO_SERVERS`. */
  readonly code: ErrorCode | string

  constructor(code: ErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RendezvousError'
    this.code = code
  }
}
