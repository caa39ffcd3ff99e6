// The Redis protocol (RESP2/RESP3): request decoder, reply encoder and reply decoder.
export {
  DEFAULT_DECODER_LIMITS,
  type OnRequest,
  ProtocolError,
  RequestDecoder,
  type RequestDecoderOptions,
  splitInline,
} from './decoder.js'
export { encodeCommand, encodeReply, formatDouble, ReplyWriter } from './encoder.js'
export {
  DoubleReply,
  Latin1Bulk,
  MapReply,
  NULL_ARRAY,
  OK,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from './reply.js'
export { ReplyDecoder, type ReplyDecoderOptions } from './reply-decoder.js'
