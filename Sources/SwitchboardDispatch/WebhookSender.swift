import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwitchboardCore

/// Signs and POSTs JSON the way every Switchboard webhook is sent: `X-Switchboard-Timestamp` and
/// `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
public struct WebhookSender: Sendable {
  public enum Outcome: Sendable, Equatable {
    case delivered
    /// Worth trying again: network error, timeout, 429 or 5xx.
    case retryable(String)
    /// Not worth trying again: another 4xx, or a bad URL.
    case rejected(String)
  }

  let client: HTTPClient
  let timeout: TimeAmount

  /// A client for all webhooks of a replica, allowed 64 connections per host: the shared client's
  /// 8 capped a dispatcher at 8 dials in flight to one dialing service. Its owner shuts it down
  /// (``HTTPClientService``).
  public static func makeClient() -> HTTPClient {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  public init(client: HTTPClient, timeout: Duration = .seconds(10)) {
    self.client = client
    self.timeout = TimeAmount(timeout)
  }

  /// `sha256=<hex>` over `"<timestamp>.<body>"`.
  public static func signature(secret: String, timestamp: String, body: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(
      for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
    return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
  }

  public func post(
    _ body: String, to url: String, secret: Secret?, traceparent: String? = nil, now: Date = Date()
  ) async -> Outcome {
    var request = HTTPClientRequest(url: url)
    if let traceparent { request.headers.add(name: "traceparent", value: traceparent) }
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "User-Agent", value: "switchboard")
    let timestamp = String(Int(now.timeIntervalSince1970))
    request.headers.add(name: "X-Switchboard-Timestamp", value: timestamp)
    if let secret {
      request.headers.add(
        name: "X-Switchboard-Signature", value: Self.signature(secret: secret.reveal, timestamp: timestamp, body: body))
    }
    request.body = .bytes(ByteBuffer(string: body))
    do {
      let response = try await client.execute(request, timeout: timeout)
      _ = try? await response.body.collect(upTo: 64 * 1024)
      switch response.status.code {
      case 200..<300: return .delivered
      case 429, 500..<600: return .retryable("HTTP \(response.status.code)")
      default: return .rejected("HTTP \(response.status.code)")
      }
    } catch let error as HTTPClientError where error == .invalidURL || error == .emptyScheme || error == .emptyHost {
      return .rejected("invalid URL")
    } catch {
      return .retryable(String(describing: error))
    }
  }
}

/// Owns an `HTTPClient` in a service group: shuts it down on graceful shutdown, after the services
/// listed after it (which use it) have stopped.
public struct HTTPClientService: Service {
  public let client: HTTPClient

  public init(client: HTTPClient) {
    self.client = client
  }

  public func run() async throws {
    try? await gracefulShutdown()
    try await client.shutdown()
  }
}
