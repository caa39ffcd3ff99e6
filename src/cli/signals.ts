// Graceful shutdown of a long-running subcommand on SIGINT/SIGTERM (a second signal exits at once).

/** Calls `close` on the first SIGINT or SIGTERM, then exits 0 (1 if closing failed or on a second signal). */
export function closeOnSignals(close: () => Promise<unknown>): void {
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      console.log(`${signal} again: exiting now`)
      process.exit(1)
    }
    stopping = true
    console.log(`${signal}: shutting down (finishing replies, closing connections)`)
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`rendezvous: shutdown failed: ${err instanceof Error ? err.message : String(err)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}
