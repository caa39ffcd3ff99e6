// Debian's chromium for browser tests: where it is, the flags this machine needs, and whether tests may skip.
import { existsSync } from 'node:fs'

/** Debian's chromium (`apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium'

/** Headless, no sandbox (root), and no background network traffic (the machine has no network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Whether chromium is installed; throws when it is not and CI=true (a browser test must not skip in CI). */
export function haveChromium(): boolean {
  const have = existsSync(CHROMIUM)
  if (!have && process.env.CI === 'true') {
    throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium); required when CI=true`)
  }
  return have
}
