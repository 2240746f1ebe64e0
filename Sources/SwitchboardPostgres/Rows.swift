import Foundation
import PostgresNIO
import SwitchboardCore

/// The columns of a call attempt and how they become a ``CallAttempt``.
enum AttemptRow {
  static let columns = columns(of: "a")

  /// What ``decode(_:from:)`` reads, in order.
  private static let names = [
    "trace_id", "conversation_id", "attempt_number", "agent_id", "status", "customer_phone", "parameters::text",
    "metadata", "idempotency_key", "retry_context::text", "effective_retry_context::text", "scheduled_for",
    "created_at", "updated_at", "dispatched_at", "ended_at", "failure_reason", "results::text", "duration_seconds",
    "batch_id", "transcript::text", "recording_url", "answered_by", "failure_type",
    "blocked_reason",
  ]
  static let columnCount = names.count

  /// The columns of the attempt that `alias` names in a query.
  static func columns(of alias: String) -> String {
    names.map { "\(alias).\($0)" }.joined(separator: ", ")
  }

  /// One attempt of one tenant.
  static func select(tenantID: Int64, traceID: UUID) -> PostgresQuery {
    "SELECT \(unescaped: columns) FROM call_attempts a WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID)"
  }

  /// The tenant's attempts among `traceIDs`, in no particular order.
  static func select(tenantID: Int64, traceIDs: [UUID]) -> PostgresQuery {
    """
    SELECT \(unescaped: columns) FROM call_attempts a
    WHERE a.tenant_id = \(tenantID) AND a.trace_id = ANY(\(traceIDs)::uuid[])
    """
  }

  static func decodeAll(_ rows: PostgresRowSequence) async throws -> [CallAttempt] {
    var attempts: [CallAttempt] = []
    for try await row in rows { attempts.append(try decode(row.makeRandomAccess(), from: 0)) }
    return attempts
  }

  /// The attempt whose ``columns(of:)`` start at column `start`.
  static func decode(_ columns: PostgresRandomAccessRow, from start: Int) throws -> CallAttempt {
    func column<T: PostgresDecodable>(_ index: Int, _: T.Type = T.self) throws -> T {
      try columns[start + index].decode(T.self)
    }
    var attempt = CallAttempt(
      traceID: try column(0), conversationID: try column(1), attemptNumber: try column(2), agentID: try column(3),
      status: try CallStatus(stored: try column(4)), customerPhone: try column(5),
      parameters: try Self.parameters(from: try column(6)), metadata: try column(7), idempotencyKey: try column(8),
      retryContext: try column(9, String?.self).map { try RetryContext(json: JSONValue.decode($0)) },
      effectiveRetryContext: try RetryContext(json: JSONValue.decode(try column(10))), scheduledFor: try column(11),
      createdAt: try column(12), updatedAt: try column(13), dispatchedAt: try column(14), endedAt: try column(15),
      failureReason: try column(16),
      results: try column(17, String?.self).flatMap { try JSONValue.decode($0).objectValue },
      durationSeconds: try column(18), batchID: try column(19))
    attempt.transcript = try column(20, String?.self).map { TranscriptTurn.stored(try JSONValue.decode($0)) }
    attempt.recordingURL = try column(21)
    attempt.answeredBy = try column(22, String?.self).map { text in
      guard let value = AnsweredBy(rawValue: text) else { throw UnknownStoredValue(column: "answered_by", value: text) }
      return value
    }
    attempt.failureType = try column(23, String?.self).map { text in
      guard let value = FailureType(rawValue: text) else {
        throw UnknownStoredValue(column: "failure_type", value: text)
      }
      return value
    }
    attempt.blockedReason = try column(24, String?.self).map { text in
      guard let value = BlockedReason(rawValue: text) else {
        throw UnknownStoredValue(column: "blocked_reason", value: text)
      }
      return value
    }
    return attempt
  }

  static func parameters(from text: String) throws -> [CallParameter] {
    guard case .array(let items) = try JSONValue.decode(text) else { return [] }
    return items.compactMap { item in
      guard let name = item.objectValue?["name"]?.stringValue, let value = item.objectValue?["value"]?.stringValue
      else { return nil }
      return CallParameter(name: name, value: value)
    }
  }
}

/// The columns of a conversation chain, then its latest attempt's (``AttemptRow``), then the
/// chain's creation time in microseconds (for the cursor).
enum ChainRow {
  static let columns = """
    c.conversation_id, c.agent_id, c.customer_phone, c.attempt_count, c.collected_data::text, c.language,
    c.stage_id, c.created_at, c.updated_at, c.batch_id, \(AttemptRow.columns(of: "latest")),
    (extract(epoch FROM c.created_at) * 1000000)::bigint
    """
  static let latestJoin = """
    JOIN call_attempts latest ON latest.tenant_id = c.tenant_id
      AND latest.conversation_id = c.conversation_id AND latest.attempt_number = c.attempt_count
    """

  static func decodeAll(_ rows: PostgresRowSequence) async throws -> [(ConversationChain, ConversationCursor)] {
    var chains: [(ConversationChain, ConversationCursor)] = []
    for try await row in rows {
      let (id, agent, phone, count, data, language, stage, createdAt, updatedAt, batch) = try row.decode(
        (UUID, Int64, String, Int, String, String?, String?, Date, Date, Int64?).self)
      let columns = row.makeRandomAccess()
      let latest = try AttemptRow.decode(columns, from: 10)
      let micros = try columns[10 + AttemptRow.columnCount].decode(Int64.self)
      var chain = ConversationChain(
        conversationID: id, agentID: agent, customerPhone: phone, attemptCount: count,
        state: ThreadedState(
          collectedData: try JSONValue.decode(data).objectValue ?? [:], language: language, stageID: stage),
        latestStatus: latest.status, createdAt: createdAt, updatedAt: updatedAt, attempts: [], batchID: batch)
      chain.latest = latest
      chains.append((chain, ConversationCursor(createdAtMicroseconds: micros, conversationID: id)))
    }
    return chains
  }
}

extension CallStatus {
  /// A status as stored. The schema's CHECK allows only known ones, so another value means this
  /// build and the schema disagree: that is an error to surface, never a status to guess.
  init(stored text: String) throws {
    guard let status = CallStatus(rawValue: text) else { throw UnknownStoredValue(column: "status", value: text) }
    self = status
  }
}

/// A stored value this build does not know.
struct UnknownStoredValue: Error, CustomStringConvertible {
  let column: String
  let value: String
  var description: String { "unknown \(column) \"\(value)\" in the database" }
}
