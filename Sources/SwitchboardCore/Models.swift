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

/// Which chains `ListConversations` answers: every filter given must hold.
public struct ConversationFilter: Sendable, Hashable {
  public var agentID: Int64?
  /// Chains a batch created.
  public var batchID: Int64?
  /// The status of the chain's latest attempt.
  public var status: CallStatus?
  /// The number the chain calls (its first attempt's), E.164.
  public var customerPhone: String?
  /// Chains created at or after this time.
  public var createdAfter: Date?
  /// Chains created before this time.
  public var createdBefore: Date?

  public init(
    agentID: Int64? = nil, batchID: Int64? = nil, status: CallStatus? = nil, customerPhone: String? = nil,
    createdAfter: Date? = nil, createdBefore: Date? = nil
  ) {
    self.agentID = agentID
    self.batchID = batchID
    self.status = status
    self.customerPhone = customerPhone
    self.createdAfter = createdAfter
    self.createdBefore = createdBefore
  }

  /// The filters as the query string spells them; each bad one is a 400 that names it.
  public init(
    agentID: String?, batchID: String?, status: String?, customerPhone: String?, createdAfter: String?,
    createdBefore: String?
  ) throws(SwitchboardError) {
    func id(_ text: String?, _ name: String) throws(SwitchboardError) -> Int64? {
      guard let text else { return nil }
      guard let value = Int64(text) else { throw .invalid("\(name) must be a positive integer") }
      return value
    }
    func time(_ text: String?, _ name: String) throws(SwitchboardError) -> Date? {
      guard let text else { return nil }
      guard let date = Timestamp.parse(text) else {
        throw .invalid("\(name) must be an ISO 8601 date-time with an offset, like 2026-04-08T14:00:00Z")
      }
      return date
    }
    self.init(
      agentID: try id(agentID, "agent_id"), batchID: try id(batchID, "batch_id"),
      status: try status.map { text throws(SwitchboardError) in
        guard let status = CallStatus(rawValue: text) else { throw Self.unknownStatus }
        return status
      }, customerPhone: customerPhone, createdAfter: try time(createdAfter, "created_after"),
      createdBefore: try time(createdBefore, "created_before"))
  }

  static var unknownStatus: SwitchboardError {
    .invalid("status must be one of \(CallStatus.allCases.map(\.rawValue).joined(separator: ", "))")
  }

  /// Checks what the types allow but the contract does not.
  public func validated() throws(SwitchboardError) -> ConversationFilter {
    if let agentID, agentID <= 0 { throw .invalid("agent_id must be a positive integer") }
    if let batchID, batchID <= 0 { throw .invalid("batch_id must be a positive integer") }
    if let customerPhone, !PhoneNumber.isE164(customerPhone) {
      throw .invalid("customer_phone must be an E.164 phone number")
    }
    if let createdAfter, let createdBefore, createdAfter >= createdBefore {
      throw .invalid("created_after must be before created_before")
    }
    return self
  }
}

/// Where a page of chains ends: the last chain's creation time (microseconds, as stored) and id.
/// Clients get it as opaque text (`next_cursor`) and send it back as `cursor`.
public struct ConversationCursor: Sendable, Hashable {
  public var createdAtMicroseconds: Int64
  public var conversationID: UUID

  public init(createdAtMicroseconds: Int64, conversationID: UUID) {
    self.createdAtMicroseconds = createdAtMicroseconds
    self.conversationID = conversationID
  }

  /// `c1.<microseconds>.<conversation id>`, base64url without padding.
  public var encoded: String {
    let text = "c1.\(createdAtMicroseconds).\(conversationID.lowercased)"
    return Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }

  /// Reads what ``encoded`` wrote; anything else is a 400 naming `cursor`.
  public init(encoded text: String) throws(SwitchboardError) {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard text.utf8.count <= 128, let data = Data(base64Encoded: base64),
      case let parts = String(decoding: data, as: UTF8.self).split(separator: ".", omittingEmptySubsequences: false),
      parts.count == 3, parts[0] == "c1", let micros = Int64(parts[1]), micros >= 0,
      let id = UUID(uuidString: String(parts[2]))
    else { throw .invalid("cursor is not a next_cursor this service returned") }
    self.init(createdAtMicroseconds: micros, conversationID: id)
  }
}

/// How a listing pages: `limit` 1…100 (default 20), then either `offset` ≥ 0 or a `cursor`; and
/// whether to count every chain the filters match (`include_total`), which costs a pass over them.
public struct ConversationPaging: Sendable, Hashable {
  public var limit: Int
  public var offset: Int
  public var cursor: ConversationCursor?
  public var includeTotal: Bool

  public init(limit: Int, offset: Int = 0, cursor: ConversationCursor? = nil, includeTotal: Bool = false) {
    self.limit = limit
    self.offset = offset
    self.cursor = cursor
    self.includeTotal = includeTotal
  }

  public static func checked(
    limit: Int?, offset: Int?, cursor: String?, includeTotal: Bool = false
  ) throws(SwitchboardError) -> ConversationPaging {
    let bounds = try PageBounds.checked(limit: limit, offset: offset)
    var paging = ConversationPaging(limit: bounds.limit, offset: bounds.offset, includeTotal: includeTotal)
    if let cursor {
      if let offset, offset != 0 { throw .invalid("cursor and offset cannot be used together") }
      paging.cursor = try ConversationCursor(encoded: cursor)
    }
    return paging
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

/// One page of `ListConversations`.
public struct ConversationPage: Sendable, Hashable {
  public var conversations: [ConversationChain]
  public var hasMore: Bool
  /// Chains matching the filters, when the request asked for the count (`include_total`).
  public var total: Int?
  /// Where the next page starts; `nil` on the last page.
  public var nextCursor: ConversationCursor?

  public init(conversations: [ConversationChain], hasMore: Bool, total: Int?, nextCursor: ConversationCursor?) {
    self.conversations = conversations
    self.hasMore = hasMore
    self.total = total
    self.nextCursor = nextCursor
  }
}
