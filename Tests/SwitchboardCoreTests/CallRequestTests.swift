import Foundation
import Testing

@testable import SwitchboardCore

@Suite("Call contract rules")
struct CallRequestTests {
  let now = Date(timeIntervalSince1970: 1_800_000_000)

  func input(_ change: (inout MakeCallInput) -> Void = { _ in }) -> MakeCallInput {
    var input = MakeCallInput(agentID: 123, parameters: [CallParameter(name: "customer_phone", value: "+919876543210")])
    change(&input)
    return input
  }

  func message(_ input: MakeCallInput) -> String? {
    do {
      _ = try CallRequest.validate(input, now: now)
      return nil
    } catch {
      return error.message
    }
  }

  @Test("a minimal request is valid and names its destination")
  func minimal() throws {
    let request = try CallRequest.validate(input(), now: now)
    #expect(request.customerPhone == "+919876543210")
    #expect(request.conversation == nil)
    #expect(request.scheduledFor == nil)
  }

  @Test("scheduled_for allows 60 s of clock skew and 30 days ahead")
  func scheduleWindow() {
    #expect(message(input { $0.scheduledFor = now.addingTimeInterval(-59) }) == nil)
    #expect(message(input { $0.scheduledFor = now.addingTimeInterval(-61) }) == "scheduled_for must be in the future")
    #expect(message(input { $0.scheduledFor = now.addingTimeInterval(30 * 86400) }) == nil)
    #expect(
      message(input { $0.scheduledFor = now.addingTimeInterval(30 * 86400 + 1) })
        == "scheduled_for must be within the next 30 days")
  }

  @Test("limits sit exactly at the contract's numbers")
  func boundaries() {
    let hundred =
      [CallParameter(name: "customer_phone", value: "+919876543210")]
      + (1..<100).map { CallParameter(name: "p\($0)", value: "v") }
    #expect(message(input { $0.parameters = hundred }) == nil)
    #expect(
      message(input { $0.parameters = hundred + [CallParameter(name: "extra", value: "v")] })
        == "parameters must have at most 100 items")
    #expect(message(input { $0.idempotencyKey = String(repeating: "k", count: 255) }) == nil)
    #expect(message(input { $0.metadata = String(repeating: "m", count: 16384) }) == nil)
    #expect(message(input { $0.idempotencyKey = "" }) == nil, "an empty key is no key")
  }

  @Test(
    "E.164 numbers",
    arguments: [
      ("+919876543210", true), ("+14155550100", true), ("+12345678", true), ("+123456789012345", true),
      ("+1234567", false), ("+1234567890123456", false), ("919876543210", false), ("+0123456789", false),
      ("+91 98765 43210", false), ("+91-9876543210", false), ("", false),
    ])
  func phoneNumbers(number: String, valid: Bool) {
    #expect(PhoneNumber.isE164(number) == valid)
  }

  @Test(
    "BCP 47 language tags",
    arguments: [
      ("hi-IN", true), ("en", true), ("zh-Hant-TW", true), ("es-419", true), ("h", false), ("hi_IN", false),
      ("", false), ("en-", false),
    ]
  )
  func languageTags(tag: String, valid: Bool) {
    #expect(LanguageTag.isValid(tag) == valid)
  }

  @Test("conversation references: an id, or <id>_<n> with n ≥ 1")
  func references() throws {
    let id = UUID()
    #expect(ConversationReference(id.uuidString) == ConversationReference(conversationID: id))
    #expect(ConversationReference("\(id.lowercased)_3") == ConversationReference(conversationID: id, attemptNumber: 3))
    #expect(ConversationReference("\(id.lowercased)_0") == nil)
    #expect(ConversationReference("\(id.lowercased)_x") == nil)
    #expect(ConversationReference("chain-7") == nil)
    #expect(ConversationReference("\(id.lowercased)_3")?.description == "\(id.lowercased)_3")
  }

  @Test("trace ids are version 7 UUIDs in time order")
  func uuidV7() {
    let earlier = UUID.v7(now: Date(timeIntervalSince1970: 1_800_000_000))
    let later = UUID.v7(now: Date(timeIntervalSince1970: 1_800_000_001))
    #expect(earlier.uuid.6 >> 4 == 7)
    #expect(earlier.uuid.8 >> 6 == 0b10)
    #expect(earlier.lowercased < later.lowercased)
    #expect(UUID.v7(now: .now) != UUID.v7(now: .now))
  }

  @Test("API keys are sk_ and 32 characters, read from a Bearer header")
  func apiKeys() {
    let key = APIKey.generate()
    #expect(key.hasPrefix("sk_"))
    #expect(key.count == 35)
    #expect(APIKey.fromAuthorization("Bearer \(key)") == key)
    #expect(APIKey.fromAuthorization("bearer \(key)") == key)
    #expect(APIKey.fromAuthorization(key) == nil)
    #expect(APIKey.fromAuthorization("Bearer sk_short") == nil)
    #expect(APIKey.fromAuthorization(nil) == nil)
    #expect(APIKey.fromAuthorization("  BEARER   \(key)  ") == key)
    #expect(APIKey.fromAuthorization("Bearer\t\(key)") == nil, "the scheme ends with a space")
    #expect(APIKey.fromAuthorization("Bearerx \(key)") == nil)
    #expect(APIKey.fromAuthorization("Basic \(key)") == nil)
    #expect(APIKey.fromAuthorization("Bearer sk_" + String(repeating: "é", count: 16)) == nil)
    #expect(APIKey.fromAuthorization("Bearer sk_" + String(repeating: "-", count: 32)) == nil)
    #expect(APIKey.fromAuthorization("Bearer \(key) extra") == nil)
  }

  @Test("no stored string may hold a NUL character")
  func nulCharacters() {
    let nul = "a\u{0}b"
    #expect(
      message(input { $0.parameters = [CallParameter(name: "customer_phone", value: "+919876543210\u{0}")] })
        == "parameters[0] must not contain NUL characters")
    #expect(message(input { $0.metadata = nul }) == "metadata must not contain NUL characters")
    #expect(message(input { $0.idempotencyKey = nul }) == "idempotency_key must not contain NUL characters")
    #expect(
      message(input { $0.retryContext = RetryContext(collectedData: ["k": ["deep": .string(nul)]]) })
        == "retry_context must not contain NUL characters")
    #expect(
      message(input { $0.retryContext = RetryContext(initialMessage: nul) })
        == "retry_context must not contain NUL characters")
    #expect(throws: SwitchboardError.self) {
      try CallEvent.validate(CallEventInput(eventID: "e1", status: "completed", results: ["r": .string(nul)]))
    }
  }

  @Test("retry_context fields are read with their types checked")
  func retryContextJSON() throws {
    let context = try RetryContext(json: ["collected_data": ["a": 1], "retry_language": "hi-IN", "extra": true])
    #expect(context == RetryContext(collectedData: ["a": 1], language: "hi-IN"))
    #expect(context.json == ["collected_data": ["a": 1], "retry_language": "hi-IN"])
    #expect(throws: SwitchboardError.self) { try RetryContext(json: ["retry_stage_id": 5]) }
  }
}
