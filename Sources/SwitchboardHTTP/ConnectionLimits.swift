import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SwitchboardCore
import Synchronization

/// Limits on the gateway's connections, so that cheap sockets cannot exhaust the server: an idle
/// connection (including one that never finishes its headers) is closed after `idleTimeout`, a
/// request whose body has not arrived in full within `requestTimeout` of its head is closed, and no
/// more than `maxConnections` are open at once (one more is closed as soon as it is accepted).
public struct ConnectionLimits: Sendable {
  /// Longer than the idle timeouts load balancers keep toward their backends.
  public var idleTimeout: Duration = .seconds(60)
  public var requestTimeout: Duration = .seconds(30)
  public var maxConnections = 10_000

  public init() {}

  /// The HTTP/1 server with these limits.
  public func server() -> HTTPServerBuilder {
    let open = OpenConnections()
    let limits = self
    return .http1(
      configuration: .init(
        additionalChannelHandlers: [ConnectionGuard(limits: limits, open: open)],
        idleTimeout: TimeAmount(limits.idleTimeout)))
  }
}

/// Connections open now, across the server.
final class OpenConnections: Sendable {
  private let count = Mutex(0)

  /// Counts one more; false when that would pass `limit`.
  func open(limit: Int) -> Bool {
    count.withLock { count in
      guard count < limit else { return false }
      count += 1
      return true
    }
  }

  func close() { count.withLock { $0 -= 1 } }
}

/// Guards each connection: closes it when its request body stalls or when it is past the cap, and gives the
/// answer to a request the HTTP parser refused (a NUL or a bare LF in a header, too many or too
/// large headers), which the server sends as an empty 400, the error envelope, and 431 when the
/// headers are too large.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  let limits: ConnectionLimits
  let open: OpenConnections
  private var counted = false
  private var deadline: Scheduled<Void>?
  private var parserError: HTTPParserError?

  init(limits: ConnectionLimits, open: OpenConnections) {
    self.limits = limits
    self.open = open
  }

  func handlerAdded(context: ChannelHandlerContext) {
    counted = open.open(limit: limits.maxConnections)
    if !counted { context.close(promise: nil) }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    deadline?.cancel()
    if counted {
      counted = false
      open.close()
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head:
      deadline?.cancel()
      let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
      deadline = context.eventLoop.scheduleTask(in: TimeAmount(limits.requestTimeout)) {
        loopBound.value.close(promise: nil)
      }
    case .end:
      deadline?.cancel()
      deadline = nil
    case .body:
      break
    }
    context.fireChannelRead(data)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let error = error as? HTTPParserError { parserError = error }
    context.fireErrorCaught(error)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard let parserError, case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
      head.headerFields[.contentLength] == "0"
    else {
      context.write(data, promise: promise)
      return
    }
    let tooLarge = parserError == .headerOverflow
    let error = SwitchboardError.invalid(tooLarge ? "request headers are too large" : "malformed HTTP request")
    let body = ByteBuffer(string: JSONResponse(error: error).body.encoded())
    head.status = tooLarge ? .requestHeaderFieldsTooLarge : .badRequest
    head.headerFields[.contentType] = "application/json; charset=utf-8"
    head.headerFields[.contentLength] = String(body.readableBytes)
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(wrapOutboundOut(.body(body)), promise: promise)
  }
}
