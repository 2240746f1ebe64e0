import Foundation
import PostgresNIO
import SwitchboardCore

/// What `switchboard_append_attempt` answers (the composite type `switchboard_appended`), read
/// by column name: the one write of an attempt into a chain, for intake, retries and batches.
struct Appended: Sendable, Equatable {
  /// `switchboard_append_outcome`.
  enum Outcome: String, Sendable {
    case accepted, duplicate
    case invalidAPIKey = "invalid_api_key"
    case agentNotFound = "agent_not_found"
    case agentHasNoPhone = "agent_has_no_phone"
    case conversationNotFound = "conversation_not_found"
    case concurrencyLimited = "concurrency_limited"
    case rateLimited = "rate_limited"
    case suppressed
    case contactLimited = "contact_limited"
  }

  var outcome: Outcome
  var traceID: UUID?
  var conversationID: UUID?
  var attemptNumber: Int?
  var status: String?
  var scheduledFor: Date?
  var agentID: Int64?
  var batchID: Int64?
  var rateRemaining: Int?
  var rateResetSeconds: Double?
  var retryAfterSeconds: Double?
  var currentCalls: Int?

  /// The select list of a `switchboard_appended` value: `source` is a row variable of the type
  /// (`r`, from `FROM switchboard_append_attempt(…) r`) or a column of it (`(c.appended)`).
  static func columns(of source: String) -> String {
    [
      "outcome::text", "trace_id", "conversation_id", "attempt_number", "status", "scheduled_for", "agent_id",
      "batch_id", "rate_remaining", "rate_reset_seconds", "retry_after_seconds", "current_calls",
    ].map { column in
      let name = column.replacingOccurrences(of: "::text", with: "")
      return "\(source).\(column) AS \(name)"
    }.joined(separator: ", ")
  }

  init(
    outcome: Outcome, traceID: UUID? = nil, conversationID: UUID? = nil, attemptNumber: Int? = nil,
    status: String? = nil, scheduledFor: Date? = nil, agentID: Int64? = nil, batchID: Int64? = nil
  ) {
    self.outcome = outcome
    self.traceID = traceID
    self.conversationID = conversationID
    self.attemptNumber = attemptNumber
    self.status = status
    self.scheduledFor = scheduledFor
    self.agentID = agentID
    self.batchID = batchID
  }

  /// Reads the columns ``columns(of:)`` names.
  init(_ row: PostgresRandomAccessRow) throws {
    let name = try row["outcome"].decode(String.self)
    guard let outcome = Outcome(rawValue: name) else { throw SwitchboardError.internalError() }
    self.outcome = outcome
    traceID = try row["trace_id"].decode(UUID?.self)
    conversationID = try row["conversation_id"].decode(UUID?.self)
    attemptNumber = try row["attempt_number"].decode(Int?.self)
    status = try row["status"].decode(String?.self)
    scheduledFor = try row["scheduled_for"].decode(Date?.self)
    agentID = try row["agent_id"].decode(Int64?.self)
    batchID = try row["batch_id"].decode(Int64?.self)
    rateRemaining = try row["rate_remaining"].decode(Int?.self)
    rateResetSeconds = try row["rate_reset_seconds"].decode(Double?.self)
    retryAfterSeconds = try row["retry_after_seconds"].decode(Double?.self)
    currentCalls = try row["current_calls"].decode(Int?.self)
  }

  /// The attempt written or found, for an accepted or duplicate call.
  var receipt: CallReceipt? {
    guard let traceID, let conversationID, let attemptNumber, let agentID,
      let status = status.flatMap(CallStatus.init(rawValue:))
    else { return nil }
    return CallReceipt(
      agentID: agentID, conversationID: conversationID, scheduledFor: scheduledFor, status: status,
      traceID: traceID, attemptNumber: attemptNumber)
  }
}
