// Test helpers for the dashboard: run `rendezvous up` as a child process and read where it listens.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A running `rendezvous up` child process and what it printed. */
export interface UpProcess {
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>
}

/** Starts `rendezvous up ARGS` through tsx on the TypeScript sources. */
export function startUp(args: string[]): UpProcess {
  return startCli(['up', ...args])
}

/** Starts `rendezvous ARGS` (any subcommand) through tsx on the TypeScript sources. */
export function startCli(args: string[]): UpProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  return { child, output: () => out, exited }
}

/** Waits until `up` printed its banner (or exited); returns the proxy and dashboard ports. */
export async function waitForBanner(
  p: UpProcess,
  timeoutMs = 60_000,
): Promise<{ proxy: number; dashboard: string }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = p.output()
    const proxy = /^ {2}proxy +[\d.]+:(\d+)$/m.exec(text)
    const dash = /^ {2}dashboard +(http:\/\/\S+)$/m.exec(text)
    if (proxy !== null && dash !== null) return { proxy: Number(proxy[1]), dashboard: dash[1]! }
    if (p.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`rendezvous up did not start:\n${text}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Polls `check` until it returns a value other than undefined (or throws after `timeoutMs`, naming `what`). */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
