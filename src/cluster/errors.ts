// Errors of the cluster client: one per failed key, gathered in a ClusterError for multi-key operations.
import { RendezvousError } from '../errors.js'

/** Why one key of an operation failed. */
export interface KeyFailure {
  /** The key. */
  readonly key: string
  /** Its position in the caller's list. */
  readonly index: number
  /** The server that failed, when one did (absent for loader errors or when no server was live). */
  readonly server?: string
  readonly error: Error
}

/**
 * A multi-key operation (mget, mset, del, exists) that failed for some keys: `failures` says which and why,
 * `partial` holds the results of the keys that succeeded (in the caller's order; `undefined` at failed keys).
 * Code `ERR_PARTIAL_FAILURE`. A key is never reported as a miss when its server failed.
 */
export class ClusterError<T = unknown> extends RendezvousError {
  readonly failures: readonly KeyFailure[]
  readonly partial: readonly (T | undefined)[]

  constructor(operation: string, failures: readonly KeyFailure[], partial: readonly (T | undefined)[]) {
    const first = failures[0]
    super(
      'ERR_PARTIAL_FAILURE',
      `${operation}: ${failures.length} of ${partial.length} keys failed` +
        (first === undefined ? '' : ` (first: "${first.key}": ${first.error.message})`),
      { cause: first?.error },
    )
    this.name = 'ClusterError'
    this.failures = failures
    this.partial = partial
  }
}

/** The error of a call that took longer than `timeoutMs`. */
export function timeoutError(server: string, ms: number): RendezvousError {
  return new RendezvousError(
    'ERR_TIMEOUT',
    `server "${server}" did not answer within ${ms} ms (option timeoutMs)`,
  )
}

/** The error when no server is live. */
export function allDown(): RendezvousError {
  return new RendezvousError(
    'ERR_ALL_SERVERS_DOWN',
    'every server is marked down; they are probed in the background (options probeMinMs/probeMaxMs)',
  )
}
