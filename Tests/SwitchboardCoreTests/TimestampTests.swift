import Foundation
import Testing

@testable import SwitchboardCore

@Suite("Timestamps and references")
struct TimestampTests {
  @Test(
    "impossible dates and times are refused, not rolled over",
    arguments: [
      "2026-11-31T10:00:00Z", "2026-02-29T10:00:00Z", "2026-13-01T10:00:00Z", "2026-00-10T10:00:00Z",
      "2026-11-00T10:00:00Z", "2026-11-30T25:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T10:61:00Z",
      "2026-11-30T10:00:99Z", "2026-11-30T10:00:60Z", "2026-11-30T10:00:00+24:00", "2026-11-30T10:00:00-18:30",
      "2026-11-30T10:00:00+05:60",
      "2026-11-30T10:00:00", "2026-11-30 10:00:00Z", "2026-11-30T10:00Z", "2026-11-30T10:00:00.Z",
      "2026-11-30T10:00:00Zjunk", "+2026-11-30T10:00:00Z", "2026-1-30T10:00:00Z", "",
    ])
  func impossible(_ text: String) {
    #expect(Timestamp.parse(text) == nil, "\(text)")
  }

  @Test(
    "well-formed times parse to the instant they name",
    arguments: [
      ("2026-11-30T10:00:00Z", 1_796_032_800.0), ("2028-02-29T10:00:00Z", 1_835_431_200.0),
      ("2026-11-30T15:30:00+05:30", 1_796_032_800.0), ("2026-11-30T10:00:00.250Z", 1_796_032_800.25),
      ("2026-11-30T05:00:00-05:00", 1_796_032_800.0),
    ])
  func wellFormed(_ text: String, _ epoch: Double) throws {
    let date = try #require(Timestamp.parse(text))
    #expect(abs(date.timeIntervalSince1970 - epoch) < 0.001)
  }

  @Test("an attempt suffix past 32 bits names no attempt")
  func hugeAttemptSuffix() {
    let id = "0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b"
    #expect(ConversationReference("\(id)_2147483647")?.attemptNumber == 2_147_483_647)
    #expect(ConversationReference("\(id)_2147483648") == nil)
    #expect(ConversationReference("\(id)_9223372036854775807") == nil)
    #expect(ConversationReference("\(id)_99999999999999999999") == nil)
  }
}
