import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOSSL
import OTel
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import Synchronization
import Tracing

/// A container health check that needs no curl in the image: exits 0 when the replica on this host
/// answers `/readyz` (every role serves it) with 200 within 5 s, else 1.
struct Healthcheck: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Exit 0 when the replica on this host is ready (GET /readyz answers 200), else 1.")

  @Option(help: "HTTP port of the replica (env SWITCHBOARD_HTTP_PORT, default \(defaults.httpPort)).")
  var httpPort: Int?

  func run() async throws {
    let port = try httpPort ?? Environment.integer("SWITCHBOARD_HTTP_PORT") ?? defaults.httpPort
    // Behind TLS (the replica's SWITCHBOARD_TLS_* variables), over https to loopback: the
    // replica's own certificate is not checked, and under mutual TLS it is presented as the
    // client's (so the client CA must have signed it).
    let chain = Environment.string("SWITCHBOARD_TLS_CERTIFICATE_CHAIN")
    let key = Environment.string("SWITCHBOARD_TLS_PRIVATE_KEY")
    var tls: TLSConfiguration?
    if let chain, let key {
      var configuration = TLSConfiguration.makeClientConfiguration()
      configuration.certificateVerification = .none
      if Environment.string("SWITCHBOARD_TLS_CLIENT_CA") != nil {
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
      }
      tls = configuration
    }
    let client = HTTPClient(
      eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    var request = HTTPClientRequest(url: "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/readyz")
    request.method = .GET
    let response = try? await client.execute(request, timeout: .seconds(5))
    try? await client.shutdown()
    guard response?.status == .ok else { throw ExitCode.failure }
  }
}
