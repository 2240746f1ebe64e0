import Foundation

/// A failure the caller can act on, mapped to the wire in one place per transport: an HTTP
/// status and the `{"error": {"message", "type"}}` envelope, or a gRPC status code.
public struct SwitchboardError: Error, Sendable, CustomStringConvertible {
  public enum Kind: Sendable {
    /// Bad input: 400 `invalid_request`, gRPC INVALID_ARGUMENT.
    case invalidRequest
    /// A body over the size limit: 413 `invalid_request`.
    case payloadTooLarge
    /// Missing, unknown or revoked API key.
    case authentication
    /// An agent, conversation or call that does not exist for this tenant.
    case notFound
    /// The request is well formed but the agent cannot place it: 400, FAILED_PRECONDITION.
    case failedPrecondition
    /// The idempotency key was used within its retention; carries the first attempt's receipt.
    case duplicateRequest(CallReceipt)
    /// A batch upload's idempotency key was used within its retention; carries the first batch.
    case duplicateBatch(Batch)
    /// Every row of a batch upload was rejected: 400, listing the first of them.
    case invalidRecipients(rejected: [RejectedRecipient], total: Int)
    /// The number was called too often.
    case rateLimited(RateLimitStatus)
    /// The tenant is at its active-call limit.
    case concurrencyLimited(current: Int, max: Int)
    /// The number is on the tenant's (or the agent's) do-not-call list: 403, FAILED_PRECONDITION.
    case numberSuppressed
    /// The number was contacted as often as its caps allow; carries when it may be called again.
    case contactLimited(nextAllowedAt: Date)
    /// Now is outside the recipient's calling hours and the tenant rejects such calls: 422,
    /// FAILED_PRECONDITION; carries the next opening (nil: none in the next two weeks).
    case outsideCallingHours(nextAllowedAt: Date?)
    /// The number's time zone is unknown and the tenant refuses such numbers: 422.
    case recipientTimezoneUnknown
    /// The attempt's status does not allow the operation (e.g. canceling a dispatched call).
    case conflict
    /// The database cannot be reached; retry after the given seconds.
    case unavailable(retryAfterSeconds: Int)
    /// A bug or an unexpected failure; details only in the logs.
    case `internal`
  }

  public var kind: Kind
  /// What the caller reads. Never contains server internals.
  public var message: String
  /// The underlying error, for logs only.
  public var cause: (any Error)?
  /// Set on a 503 for a write the service could not tell whether it recorded: what to look up.
  public var unknownOutcome: UnknownOutcome?

  public init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
    self.kind = kind
    self.message = message
    self.cause = cause
  }

  /// The `type` of the error envelope.
  public var type: String {
    switch kind {
    case .invalidRequest, .payloadTooLarge, .failedPrecondition, .invalidRecipients: "invalid_request"
    case .authentication: "authentication_error"
    case .notFound: "not_found"
    case .duplicateRequest, .duplicateBatch: "duplicate_request"
    case .rateLimited: "rate_limit_exceeded"
    case .concurrencyLimited: "concurrent_call_limit_exceeded"
    case .numberSuppressed: "number_suppressed"
    case .contactLimited: "contact_limit_exceeded"
    case .outsideCallingHours: "outside_calling_hours"
    case .recipientTimezoneUnknown: "recipient_timezone_unknown"
    case .conflict: "conflict"
    case .unavailable: "service_unavailable"
    case .internal: "internal_error"
    }
  }

  public var description: String {
    if let cause { return "\(type): \(message) (cause: \(String(reflecting: cause)))" }
    return "\(type): \(message)"
  }
}

extension SwitchboardError {
  /// `error` as a caller sees it: itself when it is one, else an internal error keeping it as
  /// the cause. Each transport answers every failure through this.
  public static func answering(_ error: any Error) -> SwitchboardError {
    error as? SwitchboardError ?? .internalError(cause: error)
  }

  /// How loudly a transport logs this failure when it answers it: a bug is an error, an
  /// unreachable database a warning, and a caller's mistake is the caller's answer, not a log line.
  public enum Severity: Sendable { case error, warning }

  public var severity: Severity? {
    switch kind {
    case .internal: .error
    case .unavailable: .warning
    default: nil
    }
  }

  /// The log message for a failure of this ``severity``.
  public var logMessage: String {
    if case .unavailable = kind { return "database unavailable" }
    return "request failed"
  }
}

/// What a client can look up, once the service answers again, to learn whether a write whose
/// answer was a 503 with `"outcome": "unknown"` was recorded.
public struct UnknownOutcome: Sendable, Hashable {
  /// The attempt the write created or changed (`GET /v1/calls/{trace_id}`).
  public var traceID: UUID?
  /// For an event report, the event (`call_events`).
  public var eventID: String?
  /// For a batch's pause, resume or cancel, the batch (`GET /v1/batch-calls/{id}`).
  public var batchID: Int64?
}

extension SwitchboardError {
  public static func invalid(_ message: String) -> Self { Self(.invalidRequest, message) }
  public static let invalidAPIKey = Self(.authentication, "invalid API key")
  public static let agentNotFound = Self(.notFound, "agent not found")
  public static let conversationNotFound = Self(.notFound, "conversation not found")
  public static let callNotFound = Self(.notFound, "call not found")
  public static let batchNotFound = Self(.notFound, "batch not found")
  public static let recordingNotFound = Self(.notFound, "recording not found")
  public static let suppressionNotFound = Self(.notFound, "suppression not found")
  public static let agentHasNoPhone = Self(.failedPrecondition, "agent has no phone number configured")
  /// A body over `limit` bytes: a call's (256 KiB) unless a route allows more.
  public static func bodyTooLarge(limit: Int = CallContract.maxBodyBytes) -> Self {
    Self(.payloadTooLarge, "request body must be at most \(limit) bytes")
  }
  public static func unavailable(cause: (any Error)? = nil) -> Self {
    Self(.unavailable(retryAfterSeconds: 1), "service temporarily unavailable", cause: cause)
  }
  /// A 503 for a write that may or may not have been recorded: the database stopped answering
  /// after the write was sent, and did not answer the service's question either.
  public static func outcomeUnknown(traceID: UUID, eventID: String? = nil, cause: (any Error)? = nil) -> Self {
    var error = unavailable(cause: cause)
    error.unknownOutcome = UnknownOutcome(traceID: traceID, eventID: eventID)
    return error
  }
  /// The same for a change to a batch: `GET /v1/batch-calls/{id}` tells.
  public static func outcomeUnknown(batchID: Int64, cause: (any Error)? = nil) -> Self {
    var error = unavailable(cause: cause)
    error.unknownOutcome = UnknownOutcome(batchID: batchID)
    return error
  }
  public static func internalError(cause: (any Error)? = nil) -> Self {
    Self(.internal, "internal error", cause: cause)
  }
  public static func duplicate(_ original: CallReceipt) -> Self {
    Self(.duplicateRequest(original), "idempotency key already used")
  }
  public static func rateLimited(_ status: RateLimitStatus) -> Self {
    Self(.rateLimited(status), "rate limit exceeded for this number")
  }
  public static let numberSuppressed = Self(.numberSuppressed, "customer_phone is on the do-not-call list")
  public static func contactLimited(nextAllowedAt: Date) -> Self {
    Self(
      .contactLimited(nextAllowedAt: nextAllowedAt),
      "customer_phone has reached its contact limit; next allowed at \(Timestamp.format(nextAllowedAt))")
  }
  public static func outsideCallingHours(nextAllowedAt: Date?) -> Self {
    Self(
      .outsideCallingHours(nextAllowedAt: nextAllowedAt),
      nextAllowedAt.map {
        "it is outside the recipient's calling hours; next allowed at \(Timestamp.format($0))"
      } ?? "it is outside the recipient's calling hours, which do not open in the next 14 days")
  }
  public static let recipientTimezoneUnknown = Self(
    .recipientTimezoneUnknown, "customer_phone's time zone is unknown; send recipient_timezone")
  public static func concurrencyLimited(current: Int, max: Int) -> Self {
    Self(
      .concurrencyLimited(current: current, max: max),
      "concurrent call limit reached. \(max) simultaneous calls allowed."
    )
  }
}
