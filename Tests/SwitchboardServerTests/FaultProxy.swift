import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on loopback between the service and PostgreSQL that can fall silent: it keeps
/// every connection open but drops what it would forward, the way a dead network path looks.
final class FaultProxy: Sendable {
  enum Mode: Sendable, Equatable {
    case forwarding
    /// Nothing is forwarded either way, on any connection, old or new.
    case silent
    /// The server's replies are dropped on the connections open now; new ones forward.
    case droppingReplies
    /// On any connection that sends `marker` from now on, the server's replies are dropped from
    /// then on (so a statement, or a COMMIT, reaches the server and its answer is lost).
    case droppingRepliesAfter(String)
  }

  private struct State {
    var mode = Mode.forwarding
    /// Connections opened before `droppingReplies` was set.
    var muted: Set<ObjectIdentifier> = []
    var open: Set<ObjectIdentifier> = []
    var droppedBytes = 0
  }

  private let state = Mutex(State())
  private let channel: any Channel
  let port: Int

  private init(channel: any Channel, port: Int) {
    self.channel = channel
    self.port = port
  }

  /// A proxy on a free loopback port to `127.0.0.1:targetPort`.
  static func start(to targetPort: Int) async throws -> FaultProxy {
    let box = Mutex<FaultProxy?>(nil)
    let group = MultiThreadedEventLoopGroup.singleton
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { inbound in
        let connect = ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort)
        return connect.flatMap { outbound in
          guard let proxy = box.withLock({ $0 }) else {
            return inbound.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
          }
          let id = ObjectIdentifier(inbound)
          proxy.state.withLock { _ = $0.open.insert(id) }
          inbound.closeFuture.whenComplete { _ in
            // A later connection may get this one's identifier (its address): it starts unmuted.
            proxy.state.withLock { state in
              state.open.remove(id)
              state.muted.remove(id)
            }
            outbound.close(promise: nil)
          }
          outbound.closeFuture.whenComplete { _ in inbound.close(promise: nil) }
          return inbound.pipeline.addHandler(Relay(proxy: proxy, peer: outbound, connection: id, toServer: true))
            .flatMap {
              outbound.pipeline.addHandler(Relay(proxy: proxy, peer: inbound, connection: id, toServer: false))
            }
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
    let proxy = FaultProxy(channel: channel, port: channel.localAddress?.port ?? 0)
    box.withLock { $0 = proxy }
    return proxy
  }

  func set(_ mode: Mode) {
    state.withLock { state in
      state.mode = mode
      state.muted = mode == .droppingReplies ? state.open : []
    }
  }

  /// Bytes dropped so far.
  var droppedBytes: Int { state.withLock { $0.droppedBytes } }

  func stop() async {
    try? await channel.close()
  }

  /// Whether `buffer` of `connection` going `toServer` (or back) passes now; counts what does not.
  fileprivate func passes(_ connection: ObjectIdentifier, toServer: Bool, buffer: ByteBuffer) -> Bool {
    state.withLock { state in
      let passes: Bool
      switch state.mode {
      case .forwarding: passes = true
      case .silent: passes = false
      case .droppingReplies: passes = toServer || !state.muted.contains(connection)
      case .droppingRepliesAfter(let marker):
        if toServer, String(decoding: buffer.readableBytesView, as: UTF8.self).contains(marker) {
          state.muted.insert(connection)
        }
        passes = toServer || !state.muted.contains(connection)
      }
      if !passes { state.droppedBytes += buffer.readableBytes }
      return passes
    }
  }
}

/// Forwards one direction of a proxied connection.
private final class Relay: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer

  let proxy: FaultProxy
  let peer: any Channel
  let connection: ObjectIdentifier
  let toServer: Bool

  init(proxy: FaultProxy, peer: any Channel, connection: ObjectIdentifier, toServer: Bool) {
    self.proxy = proxy
    self.peer = peer
    self.connection = connection
    self.toServer = toServer
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    guard proxy.passes(connection, toServer: toServer, buffer: buffer) else { return }
    peer.writeAndFlush(buffer, promise: nil)
  }
}
