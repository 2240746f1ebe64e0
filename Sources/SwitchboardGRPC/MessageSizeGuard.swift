import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Answers a request message over the size limit with `RESOURCE_EXHAUSTED` and a message.
///
/// grpc-swift-nio-transport 2.9.2 enforces `maxRequestPayloadSize` itself, but answers an
/// oversized message (or a 4 GiB length prefix) by resetting the stream (RST_STREAM CANCEL): the
/// client sees a broken stream, not a status. This handler sits in front of the transport's own
/// stream handler, reads each message's 5-byte length prefix as it arrives and, when a message
/// is over the limit, answers trailers-only with the status, forwards nothing more and closes the
/// stream. Messages within the limit pass through untouched.
final class MessageSizeGuard: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  private let limit: Int
  /// Prefix bytes of the current message read so far (fewer than 5 while the prefix is split).
  private var prefix: [UInt8] = []
  /// Payload bytes of the current message still to come.
  private var payloadRemaining = 0
  private var refused = false

  init(limit: Int) {
    self.limit = limit
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !refused else { return }
    let frame = unwrapInboundIn(data)
    if case .data(let payload) = frame, case .byteBuffer(let buffer) = payload.data, let size = oversized(buffer) {
      refuse(context: context, size: size)
      return
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

  private func refuse(context: ChannelHandlerContext, size: Int) {
    refused = true
    let message = "request message must be at most \(limit) bytes (it declares \(size))"
    let headers: HPACKHeaders = [
      ":status": "200",
      "content-type": "application/grpc",
      "grpc-status": String(RPCError.Code.resourceExhausted.rawValue),
      "grpc-message": message,  // printable ASCII without "%": no percent-encoding needed
    ]
    let trailers = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: true))
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    context.writeAndFlush(wrapOutboundOut(trailers)).whenComplete { _ in
      bound.value.close(promise: nil)
    }
  }
}

extension MessageSizeGuard {
  /// Installs the guard at the front of an accepted HTTP/2 stream's pipeline.
  static func install(limit: Int) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
    { channel in
      channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(MessageSizeGuard(limit: limit), position: .first)
      }
    }
  }
}
