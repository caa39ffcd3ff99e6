// Runs every benchmark in bench/ (or those named on the command line, by substring) one after another.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const filters = process.argv.slice(2)
const files = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
let failed = 0
for (const f of files) {
  console.log(`\n=== ${f} ===`)
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join('bench', f)], {
    stdio: 'inherit',
  })
  if (res.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
