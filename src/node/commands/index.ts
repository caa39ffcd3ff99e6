// The data command table of a node: every family of commands bound to one keyspace.
import type { Keyspace } from '../keyspace.js'
import type { CommandSpec } from '../types.js'
import { hashCommands } from './hashes.js'
import { keyCommands } from './keys.js'
import { OOM } from './replies.js'
import { serverDataCommands } from './server-data.js'
import { stringCommands } from './strings.js'
import { versionedCommands } from './versioned.js'

export { hashCommands } from './hashes.js'
export { keyCommands } from './keys.js'
export { incrByFloat, parseInt64, parseLongDouble } from './numbers.js'
export { OOM, WRONGTYPE } from './replies.js'
export { serverDataCommands } from './server-data.js'
export { stringCommands } from './strings.js'

/**
 * Every data command (strings, keys, hashes, DBSIZE/FLUSH*) bound to `keyspace`. Commands flagged
 * `denyoom` answer Redis's OOM error by themselves when {@link Keyspace.overLimit} says so, so the
 * dispatcher need not check memory.
 */
export function dataCommands(keyspace: Keyspace): CommandSpec[] {
  const specs = [
    ...stringCommands(keyspace),
    ...keyCommands(keyspace),
    ...hashCommands(keyspace),
    ...serverDataCommands(keyspace),
    ...versionedCommands(keyspace),
  ]
  return specs.map((spec) => {
    if (!spec.flags.includes('denyoom')) return spec
    const inner = spec.handler
    return { ...spec, handler: (args, client) => (keyspace.overLimit() ? OOM : inner(args, client)) }
  })
}
