// Compiles src/placement/pick.wat into src/placement/pick-wasm.ts (the module's bytes, base64), with wabt.
// `node scripts/build-wasm.mjs --check` compares instead of writing, and fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs'
import wabtInit from 'wabt'

const WAT = 'src/placement/pick.wat'
const OUT = 'src/placement/pick-wasm.ts'

/** The TypeScript module holding the compiled bytes of pick.wat. */
export async function compiled() {
  const wabt = await wabtInit()
  const module = wabt.parseWat(WAT, readFileSync(WAT, 'utf8'), { simd: true })
  const { buffer } = module.toBinary({})
  module.destroy()
  const base64 = Buffer.from(buffer).toString('base64')
  const lines = base64.match(/.{1,100}/g).map((l) => `  '${l}' +`)
  lines[lines.length - 1] = lines[lines.length - 1].slice(0, -2)
  return [
    '// Generated from pick.wat by scripts/build-wasm.mjs (npm run build:wasm): do not edit.',
    '/** The compiled bytes of pick.wat, base64. */',
    'export const PICK_WASM =',
    ...lines,
    '',
  ].join('\n')
}

if (process.argv[1]?.endsWith('build-wasm.mjs')) {
  const text = await compiled()
  if (process.argv.includes('--check')) {
    if (readFileSync(OUT, 'utf8') !== text) {
      console.error(`${OUT} is out of date: run npm run build:wasm`)
      process.exit(1)
    }
  } else writeFileSync(OUT, text)
}
