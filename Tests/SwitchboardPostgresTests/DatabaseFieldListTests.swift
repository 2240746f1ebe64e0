import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardPostgres

/// The database half of the field lists (see `FieldListTests` in SwitchboardServerTests): the row
/// decoder against `CallAttempt`, and the intake's members against the statement's record.
@Suite("Field lists agree at the database")
struct DatabaseFieldListTests {
  @Test("the row decoder reads a column for every field, and the row round-trips unchanged")
  func database() async throws {
    let selected = Set(
      AttemptRow.columns.split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "a.", with: "")
          .replacingOccurrences(of: "::text", with: "")
      })
    #expect(selected == CallAttempt.fields)

    let tenant = try await TestTenant.make()
    let client = tenant.environment.client
    let a = CallAttempt.full
    try await client.query(
      """
      INSERT INTO batches (tenant_id, batch_id, agent_id, name, total_recipients)
      VALUES (\(tenant.id), \(a.batchID), \(a.agentID), 'fields', 1)
      """)
    try await client.query(
      """
      INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count)
      VALUES (\(tenant.id), \(a.conversationID), \(a.agentID), \(a.customerPhone), \(a.attemptNumber))
      """)
    try await client.query(
      """
      INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, status,
        customer_phone, parameters, metadata, idempotency_key, retry_context, effective_retry_context,
        scheduled_for, due_at, created_at, updated_at, dispatched_at, ended_at, failure_reason, results,
        duration_seconds, batch_id, transcript, recording_url, answered_by, failure_type, blocked_reason)
      VALUES (\(tenant.id), \(a.traceID), \(a.conversationID), \(a.attemptNumber), \(a.agentID), \(a.status.rawValue),
        \(a.customerPhone), \(JSONValue.array(a.parameters.map(\.json)).encoded())::jsonb, \(a.metadata),
        \(a.idempotencyKey), \(a.retryContext?.json.encoded())::jsonb, \(a.effectiveRetryContext.json.encoded())::jsonb,
        \(a.scheduledFor), \(a.createdAt), \(a.createdAt), \(a.updatedAt), \(a.dispatchedAt), \(a.endedAt),
        \(a.failureReason), \(a.results.map { JSONValue.object($0).encoded() })::jsonb, \(a.durationSeconds),
        \(a.batchID), \(a.transcript.map { JSONValue.array($0.map(\.json)).encoded() })::jsonb, \(a.recordingURL),
        \(a.answeredBy?.rawValue), \(a.failureType?.rawValue), \(a.blockedReason?.rawValue))
      """)
    let stored = try await client.withConnection { connection in
      try await PostgresCallStore.attempt(
        traceID: a.traceID, tenantID: tenant.id, on: connection, logger: Logger(label: "tests"))
    }
    #expect(stored == a)
  }

  @Test("each member the intake sends is a column of the statement's record, and none is left unsent")
  func intakeMembers() async throws {
    var input = MakeCallInput(
      agentID: 7, parameters: [CallParameter(name: "customer_phone", value: "+919876543210")],
      conversationID: "\(UUID.v7().uuidString)_2", idempotencyKey: "k", metadata: "m",
      retryContext: RetryContext(collectedData: ["a": 1]), scheduledFor: Date().addingTimeInterval(600))
    input.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    input.recipientTimezone = "Asia/Kolkata"
    var request = try CallRequest.validate(input, now: Date())
    request.blockedReason = .outsideRecipientHours  // set by intake when it defers a call to the hours' opening
    let sent = Set(
      try #require(IntakeCall(request, traceID: .v7(), newConversationID: .v7(), apiKey: "sk_x").json.objectValue).keys)

    // What the deployed function reads: jsonb_to_record(e.call) AS x(name type, ...).
    let environment = try await TestEnvironment.shared.get()
    var definition = ""
    for try await text in try await environment.client.query(
      "SELECT pg_get_functiondef('switchboard_accept_calls'::regproc)"
    ).decode(String.self) {
      definition = text
    }
    let record = try #require(definition.split(separator: "jsonb_to_record(e.call) AS x(").dropFirst().first)
    let columns = try #require(record.split(separator: ")").first).split(separator: ",").compactMap {
      $0.split(whereSeparator: \.isWhitespace).first.map(String.init)
    }
    #expect(sent == Set(columns), "a member the SQL does not read is dropped; a column nothing sends is NULL")
  }
}
