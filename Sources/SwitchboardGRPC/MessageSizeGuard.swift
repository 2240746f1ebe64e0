import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Bounds each request stream: a message over `limit` bytes, or a stream over `streamLimit` in
/// all, answers `RESOURCE_EXHAUSTED`; a request stream still open `deadline` after it began
/// answers `DEADLINE_EXCEEDED`. Each with a message.
///
/// grpc-swift-nio-transport 2.9.2 enforces `maxRequestPayloadSize` itself, but answers an
/// oversized message (or a 4 GiB length prefix) by resetting the stream (RST_STREAM CANCEL): the
/// client sees a broken stream, not a status; and it has no bound on a client stream's total or
/// its duration (a `CreateBatch` stream left open held its recipients for good). This handler
/// sits in front of the transport's own stream handler, reads each message's 5-byte length
/// prefix as it arrives and, when a bound is passed, answers trailers-only with the status, then
/// RST_STREAM NO_ERROR (the client stops sending; with CANCEL some clients reported CANCELLED
/// instead of the status), forwards nothing more and closes the stream. Streams within the bounds
/// pass through untouched.
final class MessageSizeGuard: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  private let limit: Int
  private let streamLimit: Int
  private let deadline: TimeAmount
  /// Prefix bytes of the current message read so far (fewer than 5 while the prefix is split).
  private var prefix: [UInt8] = []
  /// Payload bytes of the current message still to come.
  private var payloadRemaining = 0
  /// Message bytes (prefixes and payloads) of the stream so far.
  private var received = 0
  private var refused = false
  private var timer: Scheduled<Void>?

  init(limit: Int, streamLimit: Int, deadline: Duration) {
    self.limit = limit
    self.streamLimit = streamLimit
    self.deadline = TimeAmount(deadline)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    timer = context.eventLoop.scheduleTask(in: deadline) {
      let (handler, context) = bound.value
      handler.refuse(
        context: context, code: .deadlineExceeded,
        message: "request stream must end within \(handler.deadline.nanoseconds / 1_000_000_000) s of its start")
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    timer?.cancel()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !refused else { return }
    let frame = unwrapInboundIn(data)
    switch frame {
    case .data(let payload):
      if case .byteBuffer(let buffer) = payload.data {
        received += buffer.readableBytes
        if let size = oversized(buffer) {
          refuse(
            context: context, code: .resourceExhausted,
            message: "request message must be at most \(limit) bytes (it declares \(size))")
          return
        }
        if received > streamLimit {
          refuse(
            context: context, code: .resourceExhausted, message: "request stream must be at most \(streamLimit) bytes")
          return
        }
      }
      if payload.endStream { timer?.cancel() }
    case .headers(let headers) where headers.endStream:
      timer?.cancel()
    default:
      break
    }
    context.fireChannelRead(data)
  }

  /// Walks the gRPC framing in `buffer`; returns the declared size of a message over the limit.
  private func oversized(_ buffer: ByteBuffer) -> Int? {
    var view = buffer.readableBytesView[...]
    while !view.isEmpty {
      if payloadRemaining > 0 {
        let skipped = min(payloadRemaining, view.count)
        payloadRemaining -= skipped
        view = view.dropFirst(skipped)
        continue
      }
      let needed = 5 - prefix.count
      prefix.append(contentsOf: view.prefix(needed))
      view = view.dropFirst(needed)
      guard prefix.count == 5 else { return nil }
      let length = prefix[1...4].reduce(0) { $0 << 8 | Int($1) }
      prefix.removeAll(keepingCapacity: true)
      if length > limit { return length }
      payloadRemaining = length
    }
    return nil
  }

  private func refuse(context: ChannelHandlerContext, code: RPCError.Code, message: String) {
    guard !refused else { return }
    refused = true
    timer?.cancel()
    let headers: HPACKHeaders = [
      ":status": "200",
      "content-type": "application/grpc",
      "grpc-status": String(code.rawValue),
      "grpc-message": message,  // printable ASCII without "%": no percent-encoding needed
    ]
    context.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    context.writeAndFlush(wrapOutboundOut(.rstStream(.noError))).whenComplete { _ in
      bound.value.close(promise: nil)
    }
  }
}

extension MessageSizeGuard {
  /// Installs the guard at the front of an accepted HTTP/2 stream's pipeline.
  static func install(
    limit: Int, streamLimit: Int, deadline: Duration
  ) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
    { channel in
      channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(
          MessageSizeGuard(limit: limit, streamLimit: streamLimit, deadline: deadline), position: .first)
      }
    }
  }
}
