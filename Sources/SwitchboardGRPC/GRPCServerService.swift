import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// Runs a `GRPCServer` as a lifecycle `Service`: serves until graceful shutdown, then lets
/// in-flight RPCs finish. (grpc-swift-extras, which has one, is not available here.)
public struct GRPCServerService: Service {
  public let server: GRPCServer<HTTP2ServerTransport.Posix>
  let transport: HTTP2ServerTransport.Posix

  /// A server for `services` on `host:port` (port 0 picks a free one), plaintext HTTP/2.
  /// - Parameter maxConcurrentStreams: streams one connection may have open at once, advertised
  ///   in SETTINGS so that clients queue their calls beyond it rather than have the connection
  ///   fail (without it the HTTP/2 stack enforced an unadvertised 100).
  /// - Parameters:
  ///   - maxRequestStreamBytes: all messages of one request stream together (`CreateBatch`'s).
  ///   - requestStreamDeadline: how long after it begins a request stream must end.
  public init(
    host: String, port: Int, services: [any RegistrableRPCService], maxRequestBytes: Int,
    maxRequestStreamBytes: Int, requestStreamDeadline: Duration, maxConcurrentStreams: Int = 1024,
    security: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext,
    tracing: Bool = false, logger: Logger
  ) {
    var config = HTTP2ServerTransport.Posix.Config.defaults
    config.rpc.maxRequestPayloadSize = maxRequestBytes
    config.http2.maxConcurrentStreams = maxConcurrentStreams
    // The transport would reset an oversized message's stream, and bounds neither a stream's
    // total nor its time; the guard answers each with a status (NonPublicSurfaces.swift).
    config.installMessageSizeGuard(
      limit: maxRequestBytes, streamLimit: maxRequestStreamBytes, deadline: requestStreamDeadline)
    let transport = HTTP2ServerTransport.Posix(
      address: .ipv4(host: host, port: port), transportSecurity: security, config: config)
    self.transport = transport
    self.server = GRPCServer(
      transport: transport, services: services,
      // Outermost first: metrics and spans see the status the error interceptor settles on.
      interceptors: [MetricsInterceptor()] + (tracing ? [TracingInterceptor()] : [])
        + [ErrorInterceptor(logger: logger)])
  }

  /// The bound port, once listening.
  public func listeningPort() async throws -> Int? {
    try await transport.listeningAddress.ipv4?.port
  }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.serve()
    } onGracefulShutdown: {
      server.beginGracefulShutdown()
    }
  }
}
