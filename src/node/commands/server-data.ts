// Whole-keyspace commands: DBSIZE FLUSHALL FLUSHDB.
import type { Keyspace } from '../keyspace.js'
import { type CommandSpec, OK, type Reply } from '../types.js'
import { command, option, SYNTAX } from './replies.js'

/** The whole-keyspace commands, bound to a keyspace. */
export function serverDataCommands(ks: Keyspace): CommandSpec[] {
  /** FLUSHALL/FLUSHDB [ASYNC|SYNC] (Redis's getFlushCommandFlags); both empty the keyspace at once. */
  function flush(args: Buffer[]): Reply {
    if (args.length > 2) return SYNTAX
    if (args.length === 2) {
      const mode = option(args[1]!)
      if (mode !== 'sync' && mode !== 'async') return SYNTAX
    }
    ks.clear()
    return OK
  }

  return [
    command(
      'dbsize',
      1,
      ['readonly', 'fast'],
      [0, 0, 0],
      'Returns the number of keys in the database.',
      () => ks.size,
    ),
    command('flushall', -1, ['write'], [0, 0, 0], 'Removes all keys from all databases.', flush),
    command('flushdb', -1, ['write'], [0, 0, 0], 'Remove all keys from the current database.', flush),
  ]
}
