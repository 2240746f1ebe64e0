import Foundation
import SwitchboardCore
import Testing

@Suite("Compliance contract")
struct ComplianceContractTests {
  let now = Date(timeIntervalSince1970: 1_800_000_000)

  @Test(
    "a bad entry is a 400 naming its field",
    arguments: [
      (SuppressionInput(phoneNumber: "98765"), "phone_number must be an E.164 phone number"),
      (SuppressionInput(), "phone_number is required"),
      (SuppressionInput(phoneNumber: "+919876543210", scope: "world"), "scope must be tenant or agent"),
      (
        SuppressionInput(phoneNumber: "+919876543210", scope: "agent"),
        "agent_id is required with scope agent and must be a positive integer"
      ),
      (
        SuppressionInput(phoneNumber: "+919876543210", scope: "tenant", agentID: 3),
        "agent_id is only given with scope agent"
      ),
      (
        SuppressionInput(phoneNumber: "+919876543210", expiresAt: Date(timeIntervalSince1970: 1_700_000_000)),
        "expires_at must be in the future"
      ),
    ])
  func badEntries(input: SuppressionInput, message: String) {
    #expect(throws: SwitchboardError.self) { try SuppressionContract.validate(input, source: .api, now: now) }
    do {
      _ = try SuppressionContract.validate(input, source: .api, now: now)
    } catch {
      #expect(error.message == message)
      #expect(error.type == "invalid_request")
    }
  }

  @Test("an agent id alone means scope agent; no scope means the tenant's")
  func scopes() throws {
    #expect(
      try SuppressionContract.validate(.init(phoneNumber: "+14155550100", agentID: 4), source: .api, now: now).scope
        == "agent")
    #expect(try SuppressionContract.validate(.init(phoneNumber: "+14155550100"), source: .api, now: now).agentID == nil)
  }

  @Test("contact limits: presets, JSON, and each wrong shape refused")
  func limits() throws {
    #expect(try ContactLimits.parse("regulation_f") == .regulationF)
    #expect(try ContactLimits.parse("none") == nil)
    let parsed = try ContactLimits.parse(
      #"{"limits":[{"max_attempts":3,"window_hours":24}],"quiet_hours_after_conversation":12}"#)
    #expect(parsed == ContactLimits(limits: [.init(maxAttempts: 3, windowHours: 24)], quietHoursAfterConversation: 12))
    for bad in [
      "[]", "{}", #"{"limits":[{"max_attempts":0,"window_hours":24}]}"#, #"{"limits":[{"max_attempts":1}]}"#,
      #"{"limits":[],"quiet_hours_after_conversation":-1}"#, #"{"cap":1}"#, "7",
    ] {
      #expect(throws: SwitchboardError.self, "\(bad)") { try ContactLimits.parse(bad) }
    }
  }

  @Test("logs show only a number's last four digits")
  func masked() {
    #expect(Suppression.masked("+919876543210") == "+********3210")
    #expect(Suppression.masked("123") == "***")
  }

  @Test("a cursor is one this service wrote, or a 400")
  func cursor() throws {
    let entry = Suppression(phoneNumber: "+14155550100", agentID: 3, reason: nil, source: .api, createdAt: now)
    let filter = try SuppressionFilter.parse(
      phoneNumber: nil, source: nil, agentID: nil, limit: nil, cursor: SuppressionFilter.cursor(after: entry))
    #expect(filter.afterPhone == "+14155550100" && filter.afterAgent == 3)
    #expect(throws: SwitchboardError.self) {
      try SuppressionFilter.parse(phoneNumber: nil, source: nil, agentID: nil, limit: nil, cursor: "bm90LWEtY3Vyc29y")
    }
    #expect(throws: SwitchboardError.self) {
      try SuppressionFilter.parse(phoneNumber: nil, source: "web", agentID: nil, limit: nil, cursor: nil)
    }
  }
}
