// What the benchmarks read of a process from /proc (Linux), its CPU time, and how they compare rounds.
import { readFileSync } from 'node:fs'

/** CPU time (user + system, all threads) a process has used so far, in microseconds. */
export function cpuMicros(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name, in clock ticks (100 per second).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/**
 * The median over rounds of `ours[i] / theirs[i]`, where both ran back to back in round i. The benchmarks judge
 * their targets on it rather than on the ratio of each side's best round: on a shared machine one side's lucky
 * round (a baseline at 1.5x its other rounds has been seen) decided the best-of ratio alone.
 */
export function pairedMedian(ours: readonly number[], theirs: readonly number[]): number {
  const r = ours.map((x, i) => x / theirs[i]!).sort((a, b) => a - b)
  return r.length === 0 ? Number.NaN : r[r.length >> 1]!
}
