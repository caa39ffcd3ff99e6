// Random RESP replies of every type, nested, for the codec tests.
import fc from 'fast-check'
import {
  DoubleReply,
  MapReply,
  NULL_ARRAY,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from '../../src/resp/reply.js'

const leaf: fc.Arbitrary<Reply> = fc.oneof(
  fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.constant(NULL_ARRAY),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.stringMatching(/^[^\r\n]{0,20}$/).map((s) => new Status(s)),
  fc.stringMatching(/^[^\r\n]{1,20}$/).map((s) => new ReplyError(s)),
  fc.double({ noNaN: true }).map((d) => new DoubleReply(Object.is(d, -0) ? 0 : d)),
  fc.string({ maxLength: 20 }).map((s) => new VerbatimReply('txt', s)),
)
export const { reply } = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('reply'), { maxLength: 4 }),
    fc.array(fc.tuple(tie('reply'), tie('reply')), { maxLength: 3 }).map((e) => new MapReply(e)),
    fc.array(tie('reply'), { maxLength: 4 }).map((i) => new SetReply(i)),
  ),
}))
