// Test helpers for the proxy: external tools (skipped when missing, required under CI), redis-cli, raw sockets.
import { spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:net'

/**
 * True when `tool` runs. Under CI a missing tool is an error (the test fails), otherwise the caller skips with
 * a message naming the Debian package.
 */
export function haveTool(tool: string, pkg: string, args: string[] = ['--version']): boolean {
  const ok = spawnSync(tool, args, { stdio: 'ignore' }).status !== null
  if (!ok && process.env.CI === 'true') {
    throw new Error(`${tool} is not installed (apt-get install -y ${pkg}); required when CI=true`)
  }
  return ok
}

/** Runs a command to completion (with `env` instead of this process's environment when given). */
export function run(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    p.once('error', reject)
    p.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `redis-cli -p port args...`, its output trimmed. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-p', String(port), ...args])
  return (r.stdout + r.stderr).trim()
}

/** Sends raw bytes on a fresh connection; resolves with everything received until the server closes it. */
export function rawExchange(
  port: number,
  data: string | Buffer,
  timeoutMs = 3000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' })
    let text = ''
    const timer = setTimeout(() => {
      s.destroy()
      resolve({ text, closed: false })
    }, timeoutMs)
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1')
    })
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      resolve({ text, closed: true })
    })
    s.write(data)
  })
}
