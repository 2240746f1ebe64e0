import Foundation
import Logging
import PostgresNIO
import SwiftProtobuf
import SwitchboardCore
import Testing

@testable import SwitchboardGRPC
@testable import SwitchboardPostgres

/// A call attempt's fields are written once per boundary: the model, the JSON mapping, the proto
/// mapping, the row decoder, the schema. Swift cannot derive one from another without reflection
/// on the hot path, so these tests fail when the lists drift: a field added to `CallAttempt` and
/// forgotten at one boundary, or a column the decoder skips.
@Suite("Field lists agree at every boundary")
struct FieldListTests {
  /// Every field set, none at its default, times in whole seconds (what every boundary keeps).
  static let full = CallAttempt(
    traceID: UUID.v7(), conversationID: UUID.v7(), attemptNumber: 2, agentID: 7, status: .completed,
    customerPhone: "+919876543210",
    parameters: [CallParameter(name: "customer_phone", value: "+919876543210"), CallParameter(name: "n", value: "v")],
    metadata: "meta", idempotencyKey: "key-1",
    retryContext: RetryContext(collectedData: ["a": 1], initialMessage: "hi", language: "hi-IN", stageID: "s1"),
    effectiveRetryContext: RetryContext(
      collectedData: ["a": 1, "b": "x"], initialMessage: "hi", language: "hi-IN", stageID: "s1"),
    scheduledFor: Date(timeIntervalSince1970: 1_796_032_800), createdAt: Date(timeIntervalSince1970: 1_796_032_000),
    updatedAt: Date(timeIntervalSince1970: 1_796_032_900), dispatchedAt: Date(timeIntervalSince1970: 1_796_032_801),
    endedAt: Date(timeIntervalSince1970: 1_796_032_890), failureReason: "none", results: ["paid": true],
    durationSeconds: 88.5)

  /// `CallAttempt`'s stored properties in snake case: what each boundary must carry.
  static var fields: Set<String> {
    Set(
      Mirror(reflecting: full).children.compactMap(\.label).map { label in
        label.replacingOccurrences(of: "ID", with: "Id").reduce(into: "") { name, character in
          if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
      })
  }

  @Test("the model has no optional left unset in the fixture")
  func fixtureIsFull() {
    for child in Mirror(reflecting: Self.full).children {
      let mirror = Mirror(reflecting: child.value)
      #expect(!(mirror.displayStyle == .optional && mirror.children.isEmpty), "\(child.label ?? "?") is nil")
    }
  }

  @Test("the JSON mapping writes every field, and nothing else")
  func json() throws {
    let members = try #require(Self.full.json.objectValue)
    #expect(Set(members.keys) == Self.fields)
    #expect(!members.values.contains(.null))
  }

  @Test("the proto mapping sets every field, and the message has no other")
  func proto() throws {
    let message = Switchboard_V1_CallAttempt(Self.full)
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let members = try #require(try JSONValue.decode(message.jsonString(options: options)).objectValue)
    #expect(Set(members.keys) == Self.fields)
    // The schema itself: the fields `message CallAttempt` declares.
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(
      path: "../../proto/switchboard/v1/call_service.proto")
    let source = try String(contentsOf: file, encoding: .utf8)
    let body = try #require(
      source.split(separator: "message CallAttempt {").dropFirst().first?.split(separator: "}").first)
    let declared = body.split(separator: "\n").compactMap { line -> String? in
      let words = line.split(separator: " ")
      guard let equals = words.firstIndex(of: "="), equals > words.startIndex else { return nil }
      return String(words[equals - 1])
    }
    #expect(Set(declared) == Self.fields)
  }

  @Test("the row decoder reads a column for every field, and the row round-trips unchanged")
  func database() async throws {
    let selected = Set(
      AttemptRow.columns.split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "a.", with: "")
          .replacingOccurrences(of: "::text", with: "")
      })
    #expect(selected == Self.fields)

    let tenant = try await TestTenant.make()
    let client = tenant.environment.client
    let a = Self.full
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
        duration_seconds)
      VALUES (\(tenant.id), \(a.traceID), \(a.conversationID), \(a.attemptNumber), \(a.agentID), \(a.status.rawValue),
        \(a.customerPhone), \(JSONValue.array(a.parameters.map(\.json)).encoded())::jsonb, \(a.metadata),
        \(a.idempotencyKey), \(a.retryContext?.json.encoded())::jsonb, \(a.effectiveRetryContext.json.encoded())::jsonb,
        \(a.scheduledFor), \(a.createdAt), \(a.createdAt), \(a.updatedAt), \(a.dispatchedAt), \(a.endedAt),
        \(a.failureReason), \(a.results.map { JSONValue.object($0).encoded() })::jsonb, \(a.durationSeconds))
      """)
    let stored = try await client.withConnection { connection in
      try await PostgresCallStore.attempt(
        traceID: a.traceID, tenantID: tenant.id, on: connection, logger: Logger(label: "tests"))
    }
    #expect(stored == a)
  }
}

extension FieldListTests {
  @Test("each member the intake sends is a column of the statement's record, and none is left unsent")
  func intakeMembers() async throws {
    var input = MakeCallInput(
      agentID: 7, parameters: [CallParameter(name: "customer_phone", value: "+919876543210")],
      conversationID: "\(UUID.v7().uuidString)_2", idempotencyKey: "k", metadata: "m",
      retryContext: RetryContext(collectedData: ["a": 1]), scheduledFor: Date().addingTimeInterval(600))
    input.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    let request = try CallRequest.validate(input, now: Date())
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
