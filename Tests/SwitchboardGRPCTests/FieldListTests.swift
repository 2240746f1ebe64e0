import Foundation
import SwiftProtobuf
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardGRPC

/// A call attempt's fields are written once per boundary: the model, the JSON mapping, the proto
/// mapping, the row decoder, the schema. Swift cannot derive one from another without reflection
/// on the hot path, so these tests fail when the lists drift: a field added to `CallAttempt` and
/// forgotten at one boundary, or a column the decoder skips.
@Suite("Field lists agree at every boundary")
struct FieldListTests {
  @Test("the model has no optional left unset in the fixture")
  func fixtureIsFull() {
    for child in Mirror(reflecting: CallAttempt.full).children {
      let mirror = Mirror(reflecting: child.value)
      #expect(!(mirror.displayStyle == .optional && mirror.children.isEmpty), "\(child.label ?? "?") is nil")
    }
  }

  @Test("the JSON mapping writes every field, and nothing else")
  func json() throws {
    let members = try #require(CallAttempt.full.json.objectValue)
    #expect(Set(members.keys) == CallAttempt.fields.union(CallAttempt.seedFields))
    #expect(!members.values.contains(.null))
  }

  @Test("the proto mapping sets every field, and the message has no other")
  func proto() throws {
    let message = Switchboard_V1_CallAttempt(CallAttempt.full)
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let members = try #require(try JSONValue.decode(message.jsonString(options: options)).objectValue)
    #expect(Set(members.keys) == CallAttempt.fields.union(CallAttempt.seedFields))
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
    #expect(Set(declared) == CallAttempt.fields.union(CallAttempt.seedFields))
  }

  @Test("a chain shows its latest attempt's fields under the seed system's names, on both transports")
  func chainLatest() throws {
    let attempt = CallAttempt.full
    var chain = ConversationChain(
      conversationID: attempt.conversationID, agentID: attempt.agentID, customerPhone: attempt.customerPhone,
      attemptCount: 2, state: ThreadedState(), latestStatus: attempt.status, createdAt: attempt.createdAt,
      updatedAt: attempt.updatedAt, attempts: [])
    chain.latest = attempt
    let members = try #require(chain.json(withAttempts: false).objectValue)
    let seed: Set<String> = [
      "contact_number", "start_timestamp", "end_timestamp", "duration_seconds", "failure_reason", "results",
      "transcript", "trace_id",
    ]
    #expect(seed.isSubset(of: Set(ConversationChain.latestFields)))
    for key in ConversationChain.latestFields {
      #expect(members[key] != nil && members[key] != .null, "\(key)")
    }
    #expect(members["contact_number"] == .string(attempt.customerPhone))
    #expect(members["start_timestamp"] == .integer(1_796_032_801_000))
    #expect(members["end_timestamp"] == .integer(1_796_032_890_000))
    #expect(members["trace_id"] == .string(attempt.traceID.lowercased))
    // The proto message carries the same, under the same names.
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let proto = try #require(
      try JSONValue.decode(Switchboard_V1_Conversation(chain).jsonString(options: options)).objectValue)
    for key in ConversationChain.latestFields {
      #expect(proto[key] != nil, "\(key)")
    }
  }

  @Test("the outcome webhook's data.call carries the seed system's fields, each set")
  func webhookCall() throws {
    var attempt = CallAttempt.full
    attempt.status = .failed
    let envelope = OutcomeEnvelope.make(
      eventID: UUID(), attempt: attempt, retry: .final(attemptNumber: 2), fromPhone: "+14155550100",
      includeTranscript: true, at: Date())
    let call = try #require(envelope["data"]?["call"]?.objectValue)
    let seed: Set<String> = [
      "agent_id", "call_parameters", "conversation_id", "duration_seconds", "started_at", "ended_at",
      "failure_reason", "from_phone", "to_phone", "recording_url", "status", "trace_id", "batch_id",
    ]
    #expect(Set(call.keys) == seed && OutcomeEnvelope.callFields == seed)
    #expect(!call.values.contains(.null))
    #expect(call["conversation_id"] == .string("\(attempt.conversationID.lowercased)_2"))
    #expect(call["call_parameters"] == ["customer_phone": "+919876543210", "n": "v"])
    #expect(
      Set(envelope["data"]?.objectValue?.keys.map { $0 } ?? []) == [
        "call", "results", "retry", "retry_context", "transcript",
      ])
    // The failure's type names the event; `other` stays call.failed.
    #expect(envelope["event_type"] == "call.failed")
    attempt.failureType = .socketFailure
    #expect(OutcomeEnvelope.eventType(attempt) == "call.socket_failure")
    attempt.failureType = .telephonyFailed
    #expect(OutcomeEnvelope.eventType(attempt) == "call.telephony_failed")
    attempt.status = .voicemail
    #expect(OutcomeEnvelope.eventType(attempt) == "call.voicemail")
  }
}
