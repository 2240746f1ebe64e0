import Foundation
import PostgresNIO
import SwitchboardCore

/// The columns of a call attempt and how they become a ``CallAttempt``.
enum AttemptRow {
  static let columns = """
    a.trace_id, a.conversation_id, a.attempt_number, a.agent_id, a.status, a.customer_phone, a.parameters::text,
    a.metadata, a.idempotency_key, a.retry_context::text, a.effective_retry_context::text, a.scheduled_for,
    a.created_at, a.updated_at, a.dispatched_at, a.ended_at, a.failure_reason, a.results::text, a.duration_seconds,
    a.batch_id, a.transcript::text, a.recording_url, a.answered_by, a.failure_type
    """

  /// One attempt of one tenant.
  static func select(tenantID: Int64, traceID: UUID) -> PostgresQuery {
    "SELECT \(unescaped: columns) FROM call_attempts a WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID)"
  }

  static func decodeAll(_ rows: PostgresRowSequence) async throws -> [CallAttempt] {
    var attempts: [CallAttempt] = []
    for try await row in rows {
      let (trace, conversation, number, agent, status, phone, parameters, metadata, key) = try row.decode(
        (UUID, UUID, Int, Int64, String, String, String, String?, String?).self)
      let columns = row.makeRandomAccess()
      let retryContext = try columns[9].decode(String?.self)
      let effective = try columns[10].decode(String.self)
      let scheduledFor = try columns[11].decode(Date?.self)
      let createdAt = try columns[12].decode(Date.self)
      let updatedAt = try columns[13].decode(Date.self)
      let dispatchedAt = try columns[14].decode(Date?.self)
      let endedAt = try columns[15].decode(Date?.self)
      let failureReason = try columns[16].decode(String?.self)
      let results = try columns[17].decode(String?.self)
      let duration = try columns[18].decode(Double?.self)
      let batch = try columns[19].decode(Int64?.self)
      let transcript = try columns[20].decode(String?.self)
      let recordingURL = try columns[21].decode(String?.self)
      let answeredBy = try columns[22].decode(String?.self)
      let failureType = try columns[23].decode(String?.self)
      var attempt = CallAttempt(
        traceID: trace, conversationID: conversation, attemptNumber: number, agentID: agent,
        status: try CallStatus(stored: status), customerPhone: phone,
        parameters: try Self.parameters(from: parameters), metadata: metadata, idempotencyKey: key,
        retryContext: try retryContext.map { try RetryContext(json: JSONValue.decode($0)) },
        effectiveRetryContext: try RetryContext(json: JSONValue.decode(effective)), scheduledFor: scheduledFor,
        createdAt: createdAt, updatedAt: updatedAt, dispatchedAt: dispatchedAt, endedAt: endedAt,
        failureReason: failureReason, results: try results.flatMap { try JSONValue.decode($0).objectValue },
        durationSeconds: duration, batchID: batch)
      attempt.transcript = try transcript.map { TranscriptTurn.stored(try JSONValue.decode($0)) }
      attempt.recordingURL = recordingURL
      attempt.answeredBy = try answeredBy.map { text in
        guard let value = AnsweredBy(rawValue: text) else {
          throw UnknownStoredValue(column: "answered_by", value: text)
        }
        return value
      }
      attempt.failureType = try failureType.map { text in
        guard let value = FailureType(rawValue: text) else {
          throw UnknownStoredValue(column: "failure_type", value: text)
        }
        return value
      }
      attempts.append(attempt)
    }
    return attempts
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

/// The columns of a conversation chain (without its attempts).
enum ChainRow {
  static let columns = """
    c.conversation_id, c.agent_id, c.customer_phone, c.attempt_count, c.collected_data::text, c.language,
    c.stage_id, latest.status, c.created_at, c.updated_at, c.batch_id
    """
  static let latestJoin = """
    LEFT JOIN call_attempts latest ON latest.tenant_id = c.tenant_id
      AND latest.conversation_id = c.conversation_id AND latest.attempt_number = c.attempt_count
    """

  static func decodeAll(_ rows: PostgresRowSequence) async throws -> [ConversationChain] {
    var chains: [ConversationChain] = []
    for try await row in rows {
      let (id, agent, phone, count, data, language, stage, status, createdAt, updatedAt) = try row.decode(
        (UUID, Int64, String, Int, String, String?, String?, String?, Date, Date).self)
      let batch = try row.makeRandomAccess()[10].decode(Int64?.self)
      chains.append(
        ConversationChain(
          conversationID: id, agentID: agent, customerPhone: phone, attemptCount: count,
          state: ThreadedState(
            collectedData: try JSONValue.decode(data).objectValue ?? [:], language: language, stageID: stage),
          latestStatus: status.flatMap(CallStatus.init(rawValue:)) ?? .initiated, createdAt: createdAt,
          updatedAt: updatedAt, attempts: [], batchID: batch))
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
