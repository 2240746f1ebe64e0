import Foundation

/// A customer of Switchboard. Every row it owns carries its id. Its limits live in the database
/// and are applied there, as they stand when each call is recorded.
public struct Tenant: Sendable, Hashable {
  public var id: Int64
  public var name: String

  public init(id: Int64, name: String) {
    self.id = id
    self.name = name
  }
}

/// Where a number stands against its limit, for `Retry-After` and `X-RateLimit-*`.
public struct RateLimitStatus: Sendable, Hashable {
  public var limit: Int
  public var remaining: Int
  /// Seconds until the limit is fully replenished.
  public var resetSeconds: Int
  /// Seconds until the next call is allowed; 0 when one is allowed now.
  public var retryAfterSeconds: Int

  public init(limit: Int, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int) {
    self.limit = limit
    self.remaining = remaining
    self.resetSeconds = resetSeconds
    self.retryAfterSeconds = retryAfterSeconds
  }
}

/// The `data` of an accepted `POST /v1/call`.
public struct CallReceipt: Sendable, Hashable {
  public var agentID: Int64
  public var conversationID: UUID
  public var scheduledFor: Date?
  public var status: CallStatus
  public var traceID: UUID
  public var attemptNumber: Int

  public init(
    agentID: Int64, conversationID: UUID, scheduledFor: Date?, status: CallStatus, traceID: UUID,
    attemptNumber: Int
  ) {
    self.agentID = agentID
    self.conversationID = conversationID
    self.scheduledFor = scheduledFor
    self.status = status
    self.traceID = traceID
    self.attemptNumber = attemptNumber
  }
}

/// A successful MakeCall: the receipt, and the number's limit after this call when one applies.
public struct AcceptedCall: Sendable, Hashable {
  public var receipt: CallReceipt
  public var rateLimit: RateLimitStatus?

  public init(receipt: CallReceipt, rateLimit: RateLimitStatus?) {
    self.receipt = receipt
    self.rateLimit = rateLimit
  }
}

/// Everything stored about one attempt of a conversation chain.
public struct CallAttempt: Sendable, Hashable {
  public var traceID: UUID
  public var conversationID: UUID
  public var attemptNumber: Int
  public var agentID: Int64
  public var status: CallStatus
  public var customerPhone: String
  public var parameters: [CallParameter]
  public var metadata: String?
  public var idempotencyKey: String?
  /// The context as the request gave it.
  public var retryContext: RetryContext?
  /// The chain state overridden by the request's context: what the dialer receives.
  public var effectiveRetryContext: RetryContext
  public var scheduledFor: Date?
  public var createdAt: Date
  public var updatedAt: Date
  public var dispatchedAt: Date?
  public var endedAt: Date?
  public var failureReason: String?
  public var results: [String: JSONValue]?
  public var durationSeconds: Double?
  /// The batch that placed the attempt (its first, or a retry of it); `nil` for single calls.
  public var batchID: Int64?
  /// What the voice runtime reported of the call: the conversation, where its recording is, who
  /// answered, and why it failed.
  public var transcript: [TranscriptTurn]?
  public var recordingURL: String?
  public var answeredBy: AnsweredBy?
  public var failureType: FailureType?
  /// Why compliance last held the attempt back or ended it.
  public var blockedReason: BlockedReason?

  public init(
    traceID: UUID, conversationID: UUID, attemptNumber: Int, agentID: Int64, status: CallStatus,
    customerPhone: String, parameters: [CallParameter], metadata: String?, idempotencyKey: String?,
    retryContext: RetryContext?, effectiveRetryContext: RetryContext, scheduledFor: Date?,
    createdAt: Date, updatedAt: Date, dispatchedAt: Date?, endedAt: Date?, failureReason: String?,
    results: [String: JSONValue]?, durationSeconds: Double?, batchID: Int64? = nil
  ) {
    self.traceID = traceID
    self.conversationID = conversationID
    self.attemptNumber = attemptNumber
    self.agentID = agentID
    self.status = status
    self.customerPhone = customerPhone
    self.parameters = parameters
    self.metadata = metadata
    self.idempotencyKey = idempotencyKey
    self.retryContext = retryContext
    self.effectiveRetryContext = effectiveRetryContext
    self.scheduledFor = scheduledFor
    self.createdAt = createdAt
    self.updatedAt = updatedAt
    self.dispatchedAt = dispatchedAt
    self.endedAt = endedAt
    self.failureReason = failureReason
    self.results = results
    self.durationSeconds = durationSeconds
    self.batchID = batchID
  }
}

/// What a chain carries from attempt to attempt.
public struct ThreadedState: Sendable, Hashable {
  public var collectedData: [String: JSONValue]
  public var language: String?
  public var stageID: String?

  public init(collectedData: [String: JSONValue] = [:], language: String? = nil, stageID: String? = nil) {
    self.collectedData = collectedData
    self.language = language
    self.stageID = stageID
  }
}

/// A conversation chain: attempts 1, 2, 3 … to one number, with their threaded state.
public struct ConversationChain: Sendable, Hashable {
  public var conversationID: UUID
  public var agentID: Int64
  public var customerPhone: String
  public var attemptCount: Int
  public var state: ThreadedState
  public var latestStatus: CallStatus
  public var createdAt: Date
  public var updatedAt: Date
  /// Every attempt, in order; empty in listings.
  public var attempts: [CallAttempt]
  /// The batch that created the chain; `nil` for single calls.
  public var batchID: Int64?
  /// The chain's latest attempt, in listings too: what the seed system's conversation shows.
  public var latest: CallAttempt?

  public init(
    conversationID: UUID, agentID: Int64, customerPhone: String, attemptCount: Int, state: ThreadedState,
    latestStatus: CallStatus, createdAt: Date, updatedAt: Date, attempts: [CallAttempt], batchID: Int64? = nil
  ) {
    self.conversationID = conversationID
    self.agentID = agentID
    self.customerPhone = customerPhone
    self.attemptCount = attemptCount
    self.state = state
    self.latestStatus = latestStatus
    self.createdAt = createdAt
    self.updatedAt = updatedAt
    self.attempts = attempts
    self.batchID = batchID
  }
}

extension ConversationChain {
  /// The attempt a reference names (`<id>_<n>`), or the latest when it names none.
  public func attempt(_ reference: ConversationReference) -> CallAttempt? {
    let number = reference.attemptNumber ?? attemptCount
    return attempts.first { $0.attemptNumber == number }
  }
}

/// `limit` and `offset` of a listing: 1…100 (default 20), and ≥ 0.
public struct PageBounds: Sendable, Hashable {
  public var limit: Int
  public var offset: Int

  public static func checked(limit: Int?, offset: Int?) throws(SwitchboardError) -> PageBounds {
    let bounds = PageBounds(limit: limit ?? 20, offset: offset ?? 0)
    guard (1...100).contains(bounds.limit) else { throw .invalid("limit must be between 1 and 100") }
    guard bounds.offset >= 0 else { throw .invalid("offset must not be negative") }
    return bounds
  }
}
