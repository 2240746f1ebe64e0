import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardCore

/// Hands each attempt to a dialing service over HTTP: the attempt with its effective context,
/// signed; retried with backoff on network errors, timeouts, 429 and 5xx, then `failed`. The
/// trace id lets the service drop a duplicate after a lease expiry.
public struct WebhookDialer: Dialer {
  public struct Configuration: Sendable {
    public var url: String
    public var secret: Secret?
    /// Tries in all, the first included. Default 3.
    public var tries = 3
    /// Waits before the 2nd, 3rd, … try. Default 0.5 s, 1 s.
    public var backoff: [Duration] = [.milliseconds(500), .seconds(1)]
    /// Per try. Default 10 s.
    public var timeout: Duration = .seconds(10)

    public init(url: String, secret: Secret?) {
      self.url = url
      self.secret = secret
    }
  }

  let configuration: Configuration
  let sender: WebhookSender
  let logger: Logger

  public init(configuration: Configuration, client: HTTPClient, logger: Logger) {
    self.configuration = configuration
    self.sender = WebhookSender(client: client, timeout: configuration.timeout)
    self.logger = logger
  }

  public func dial(_ request: DialRequest) async -> DialResult {
    let body = Self.payload(request).encoded()
    var lastError = ""
    for attempt in 0..<configuration.tries {
      if attempt > 0 {
        let wait =
          configuration.backoff.isEmpty
          ? .seconds(1) : configuration.backoff[min(attempt - 1, configuration.backoff.count - 1)]
        try? await Task.sleep(for: wait)
      }
      switch await sender.post(
        body, to: configuration.url, secret: configuration.secret, traceparent: request.traceparent)
      {
      case .delivered: return .accepted
      case .rejected(let reason): return .failed(reason: "dialer rejected the call: \(reason)")
      case .retryable(let reason):
        lastError = reason
        logger.debug(
          "dialer try failed", metadata: ["trace_id": "\(request.traceID.lowercased)", "error": "\(reason)"])
      }
    }
    return .failed(reason: "dialer unreachable after \(configuration.tries) tries: \(lastError)")
  }

  /// What the dialing service receives.
  public static func payload(_ request: DialRequest) -> JSONValue {
    [
      "tenant_id": .integer(request.tenantID),
      "trace_id": .string(request.traceID.lowercased),
      "conversation_id": .string(request.conversationID.lowercased),
      "attempt_number": .integer(Int64(request.attemptNumber)),
      "agent": ["id": .integer(request.agentID), "phone_number": .string(request.agentPhone)],
      "customer_phone": .string(request.customerPhone),
      "parameters": .array(request.parameters.map(\.json)),
      "metadata": request.metadata.map(JSONValue.string) ?? .null,
      "retry_context": request.retryContext.json,
      "scheduled_for": request.scheduledFor.map { .string(Timestamp.format($0)) } ?? .null,
    ]
  }
}
