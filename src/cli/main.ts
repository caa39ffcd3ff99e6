#!/usr/bin/env node
// The `rendezvous` command: one subcommand per job, each registered by its own module.
import { Command } from 'commander'
import { registerMemberCommands } from './member.js'
import { registerNodeCommand } from './node.js'
import { registerPlacementCommands } from './placement.js'
import { registerProxyCommand } from './proxy.js'
import { registerUpCommand } from './up.js'

const program = new Command()
program
  .name('rendezvous')
  .description('Distributed cache and key placement on rendezvous (highest-random-weight) hashing')
  .showHelpAfterError()
registerPlacementCommands(program)
registerNodeCommand(program)
registerProxyCommand(program)
registerUpCommand(program)
registerMemberCommands(program)

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`rendezvous: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
