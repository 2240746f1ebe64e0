import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwitchboardCore

/// Signs and POSTs JSON the way every Switchboard webhook is sent: `X-Switchboard-Timestamp` and
/// `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
///
/// Every send is bounded end to end: one deadline covers the name lookup, the connection, the
/// request, the response head and as much of its body as is read (at most
/// ``maxResponseBytes``). Redirects are never followed: a 3xx is the answer. A sender for
/// tenants' URLs (``TargetClients``) also checks each URL against its policy and connects only
/// to the addresses it checked.
public struct WebhookSender: Sendable {
  public enum Outcome: Sendable, Equatable {
    case delivered
    /// Worth trying again: network error, timeout, 429 or 5xx.
    case retryable(String)
    /// Not worth trying again: another 4xx, a redirect, or a URL the policy refuses.
    case rejected(String)
  }

  private enum Destinations: Sendable {
    /// The operator's own URL (the dialer): any address.
    case operatorURL(HTTPClient)
    /// Tenants' URLs: checked, resolved and pinned.
    case tenantURLs(TargetClients)
  }

  private let destinations: Destinations
  let timeout: Duration

  /// The most of a response body read: the status is the answer, the body only drained.
  public static let maxResponseBytes = 16 * 1024

  /// A client for the operator's URLs, allowed 64 connections per host: the shared client's 8
  /// capped a dispatcher at 8 dials in flight to one dialing service. Its owner shuts it down
  /// (``HTTPClientService``).
  public static func makeClient() -> HTTPClient {
    HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(connectionsPerHost: 64))
  }

  static func configuration(connectionsPerHost: Int, pinning: [String: String] = [:]) -> HTTPClient.Configuration {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
    configuration.connectionPool = .init(
      idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
    configuration.dnsOverride = pinning
    return configuration
  }

  /// Sends to the operator's URL with `client`, unchecked.
  public init(client: HTTPClient, timeout: Duration = .seconds(10)) {
    self.destinations = .operatorURL(client)
    self.timeout = timeout
  }

  /// Sends to tenants' URLs through `targets`, each checked against its policy at every send.
  public init(targets: TargetClients, timeout: Duration = .seconds(10)) {
    self.destinations = .tenantURLs(targets)
    self.timeout = timeout
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
    let destinations = destinations
    let sending = request
    do {
      return try await Deadline.run(within: timeout) {
        switch destinations {
        case .operatorURL(let client):
          return await Self.send(sending, with: client, timeout: timeout)
        case .tenantURLs(let targets):
          return await targets.send(sending, to: url) { request, client in
            await Self.send(request, with: client, timeout: timeout)
          }
        }
      }
    } catch is Deadline.Exceeded {
      return .retryable("no answer within \(timeout)")
    } catch {
      return .retryable("send canceled")
    }
  }

  /// One request: its status, after draining at most ``maxResponseBytes`` of the body.
  static func send(_ request: HTTPClientRequest, with client: HTTPClient, timeout: Duration) async -> Outcome {
    do {
      let response = try await client.execute(request, timeout: TimeAmount(timeout))
      var read = 0
      for try await chunk in response.body {
        read += chunk.readableBytes
        if read >= maxResponseBytes { break }
      }
      switch response.status.code {
      case 200..<300: return .delivered
      case 300..<400: return .rejected("HTTP \(response.status.code) (redirects are not followed)")
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
