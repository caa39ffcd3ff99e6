// The shared progress line: redrawn in place on a terminal, plain lines or nothing elsewhere, on a fake clock.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bar, formatDuration, ProgressLine } from '../../src/cli/progress.js'

function fake(isTTY: boolean) {
  const out: string[] = []
  let t = 0
  return {
    out,
    stream: { isTTY, write: (s: string) => out.push(s) },
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('ProgressLine', () => {
  test('on a terminal: silent during the delay, then redrawn in place at most every redrawMs, erased at the end', () => {
    const f = fake(true)
    const line = new ProgressLine({ stream: f.stream, now: f.now, delayMs: 500, redrawMs: 100 })
    assert.equal(line.active, true)
    line.update('a')
    f.advance(600)
    line.update('b')
    f.advance(50)
    line.update('c')
    f.advance(60)
    line.update(() => 'd')
    line.done()
    assert.deepEqual(f.out, ['\r\x1b[2Kb', '\r\x1b[2Kd', '\r\x1b[2K'])
  })

  test('elsewhere: nothing by default, or one plain line per lineEveryMs', () => {
    const quiet = fake(false)
    const none = new ProgressLine({ stream: quiet.stream, now: quiet.now })
    assert.equal(none.active, false)
    none.update('x', true)
    none.done()
    assert.deepEqual(quiet.out, [])

    const f = fake(false)
    const line = new ProgressLine({ stream: f.stream, now: f.now, delayMs: 0, lineEveryMs: 5000 })
    line.update('a')
    f.advance(1000)
    line.update('b')
    f.advance(4000)
    line.update('c')
    line.done()
    assert.deepEqual(f.out, ['a\n', 'c\n'])
  })

  test('bar and durations', () => {
    assert.equal(bar(0.5, 10), '[#####.....]  50%')
    assert.equal(bar(2, 4), '[####] 100%')
    assert.equal(bar(Number.NaN, 4), '[....]   0%')
    assert.equal(formatDuration(42_400), '42s')
    assert.equal(formatDuration(185_000), '3m05s')
    assert.equal(formatDuration(3_720_000), '1h02m')
  })
})
