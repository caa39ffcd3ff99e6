// What the benchmarks read of a process from /proc (Linux): its CPU time.
import { readFileSync } from 'node:fs'

/** CPU time (user + system, all threads) a process has used so far, in microseconds. */
export function cpuMicros(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name, in clock ticks (100 per second).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}
