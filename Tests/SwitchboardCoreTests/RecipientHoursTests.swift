import Foundation
import SwitchboardCore
import Testing

@Suite("Recipient hours")
struct RecipientHoursTests {
  /// 09:00–20:00 every day unless given.
  static func hours(_ start: Int = 9, _ end: Int = 20, days: Set<Int> = Set(1...7)) -> RecipientHours {
    RecipientHours(weekdays: days, startMinute: start * 60, endMinute: end * 60)
  }

  static func zone(_ identifier: String) -> TimeZone { TimeZone(identifier: identifier)! }

  static func time(_ text: String) -> Date { Timestamp.parse(text)! }

  struct Case: Sendable, CustomTestStringConvertible {
    let name: String
    let hours: RecipientHours
    let zones: [String]
    let at: String
    let opens: String?
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(
      name: "inside in the one zone: the instant itself", hours: hours(), zones: ["Asia/Kolkata"],
      at: "2026-03-16T05:00:00Z", opens: "2026-03-16T05:00:00Z"),
    Case(
      name: "before opening: today's 09:00 in Kolkata (+05:30)", hours: hours(), zones: ["Asia/Kolkata"],
      at: "2026-03-16T01:00:00Z", opens: "2026-03-16T03:30:00Z"),
    Case(
      name: "after closing: tomorrow's 09:00 (a midnight wrap in the recipient's zone)", hours: hours(),
      zones: ["Asia/Kolkata"], at: "2026-03-16T18:00:00Z", opens: "2026-03-17T03:30:00Z"),
    Case(
      name: "a quarter-hour offset (Kathmandu +05:45)", hours: hours(), zones: ["Asia/Kathmandu"],
      at: "2026-03-16T00:00:00Z", opens: "2026-03-16T03:15:00Z"),
    Case(
      name: "a half-hour zone with DST (Adelaide, +10:30 in March)", hours: hours(), zones: ["Australia/Adelaide"],
      at: "2026-03-15T20:00:00Z", opens: "2026-03-15T22:30:00Z"),
    Case(
      name: "Newfoundland (-02:30 in summer)", hours: hours(), zones: ["America/St_Johns"],
      at: "2026-07-01T10:00:00Z", opens: "2026-07-01T11:30:00Z"),
    Case(
      name: "New York on the day clocks spring forward: 09:00 EDT", hours: hours(), zones: ["America/New_York"],
      at: "2026-03-08T06:00:00Z", opens: "2026-03-08T13:00:00Z"),
    Case(
      name: "New York on the day clocks fall back: 09:00 EST", hours: hours(), zones: ["America/New_York"],
      at: "2026-11-01T06:00:00Z", opens: "2026-11-01T14:00:00Z"),
    Case(
      name: "a start in the skipped hour (02:30 on 8 March) opens when the clock resumes at 03:00",
      hours: RecipientHours(startMinute: 150, endMinute: 20 * 60), zones: ["America/New_York"],
      at: "2026-03-08T05:00:00Z", opens: "2026-03-08T07:00:00Z"),
    Case(
      name: "a start in the repeated hour (01:30 on 1 November) opens at its first occurrence",
      hours: RecipientHours(startMinute: 90, endMinute: 20 * 60), zones: ["America/New_York"],
      at: "2026-11-01T04:00:00Z", opens: "2026-11-01T05:30:00Z"),
    Case(
      name: "the week wraps: Saturday evening waits for Monday 09:00", hours: hours(days: Set(2...6)),
      zones: ["Europe/London"], at: "2026-03-14T19:00:00Z", opens: "2026-03-16T09:00:00Z"),
    Case(
      name: "two zones: only when both are inside (New York and Chicago)", hours: hours(),
      zones: ["America/New_York", "America/Chicago"], at: "2026-07-01T12:00:00Z", opens: "2026-07-01T14:00:00Z"),
    Case(
      name: "two zones: closes with the earlier zone's end", hours: hours(),
      zones: ["America/New_York", "America/Chicago"], at: "2026-07-02T00:30:00Z", opens: "2026-07-02T14:00:00Z"),
    Case(
      name: "zones too far apart for the hours: never", hours: hours(9, 12),
      zones: ["Europe/Moscow", "Asia/Vladivostok"], at: "2026-07-01T00:00:00Z", opens: nil),
  ]

  @Test("the next opening, checked in every candidate zone", arguments: cases)
  func nextOpening(_ testCase: Case) {
    let opening = testCase.hours.nextOpening(
      atOrAfter: Self.time(testCase.at), in: testCase.zones.map(Self.zone))
    #expect(opening == testCase.opens.map(Self.time))
  }

  @Test("an opening found is inside the hours in every zone, and nothing earlier is (10,000 random cases)")
  func openingsAreInside() {
    var generator = SystemRandomNumberGenerator()
    let zones = [
      "Asia/Kolkata", "America/New_York", "America/Los_Angeles", "Australia/Adelaide", "Europe/London",
      "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham",
    ].map(Self.zone)
    let start = Self.time("2026-01-01T00:00:00Z")
    for _ in 0..<10_000 {
      let from = Int.random(in: 0...(23 * 60), using: &generator)
      let hours = RecipientHours(
        weekdays: Set(
          (1...7).filter { _ in Bool.random(using: &generator) } + [Int.random(in: 1...7, using: &generator)]),
        startMinute: from, endMinute: Int.random(in: (from + 30)...(24 * 60), using: &generator))
      let chosen = Array(zones.shuffled(using: &generator).prefix(Int.random(in: 1...2, using: &generator)))
      let at = start.addingTimeInterval(Double(Int.random(in: 0...(365 * 86_400), using: &generator)))
      guard let opening = hours.nextOpening(atOrAfter: at, in: chosen) else { continue }
      #expect(opening >= at)
      #expect(chosen.allSatisfy { hours.isInside(opening, in: $0) }, "\(hours) \(chosen) \(at) -> \(opening)")
      // A minute before the opening (when after `at`) is outside in some zone.
      let before = opening.addingTimeInterval(-60)
      if before >= at {
        #expect(!chosen.allSatisfy { hours.isInside(before, in: $0) }, "\(hours) \(chosen) \(at) -> \(opening)")
      }
    }
  }

  @Test("country limits narrow a tenant's hours and can never be widened")
  func countryLimits() {
    #expect(RecipientHours.effective(nil, callingCode: 91) == Self.hours(9, 21))
    #expect(RecipientHours.effective(nil, callingCode: 1) == Self.hours(8, 21))
    #expect(RecipientHours.effective(nil, callingCode: 44) == nil)
    #expect(RecipientHours.effective(Self.hours(7, 22), callingCode: 91) == Self.hours(9, 21))
    #expect(RecipientHours.effective(Self.hours(10, 18), callingCode: 1) == Self.hours(10, 18))
    #expect(RecipientHours.effective(Self.hours(7, 22), callingCode: 44) == Self.hours(7, 22))
    let never = RecipientHours.effective(Self.hours(22, 23), callingCode: 91)
    #expect(never?.isEmpty == true)
    #expect(never?.nextOpening(atOrAfter: Date(), in: [Self.zone("Asia/Kolkata")]) == nil)
  }

  @Test(
    "JSON: the calling window's shape without a zone; bad ones refused naming the field",
    arguments: [
      (
        #"{"days": ["mon"], "start": "09:00", "end": "20:00", "timezone": "Asia/Kolkata"}"#,
        "recipient_hours has no timezone: they are checked in the recipient's own"
      ),
      (#"{"start": "20:00", "end": "09:00"}"#, "recipient_hours start and end must be HH:MM with start before end"),
      (
        #"{"days": ["someday"], "start": "09:00", "end": "20:00"}"#,
        "recipient_hours days are mon, tue, wed, thu, fri, sat, sun"
      ),
      (#"{"start": "09:00", "end": "20:00", "color": 1}"#, "recipient_hours has an unknown field color"),
      (#"[]"#, "recipient_hours must be a JSON object"),
    ])
  func json(_ text: String, _ message: String) throws {
    let error = #expect(throws: SwitchboardError.self) { try RecipientHours(json: JSONValue.decode(text)) }
    #expect(error?.message == message)
    let hours = try RecipientHours(
      json: JSONValue.decode(#"{"days": ["mon", "fri"], "start": "09:00", "end": "20:30"}"#))
    #expect(hours == RecipientHours(weekdays: [2, 6], startMinute: 540, endMinute: 1230))
    #expect(try RecipientHours(json: hours.json) == hours)
    #expect(hours.json.objectValue?["timezone"] == nil)
  }

  @Test(
    "a policy decides in the number's zones, or the call's, inside the country's limits; an unknown zone by the tenant's rule"
  )
  func policy() throws {
    let at = try Date("2027-01-04T05:00:00Z", strategy: .iso8601)  // 10:30 in Kolkata, 00:00 in New York
    let policy = RecipientHoursPolicy(hours: Self.hours(7, 22), tenantZone: Self.zone("Europe/Paris"))
    // India's limits (09-21) narrow 07-22; New York's (08-21) too.
    #expect(policy.decide(phone: "+919876543210", recipientTimezone: nil, at: at) == .inside)
    #expect(
      policy.decide(phone: "+12125551234", recipientTimezone: nil, at: at)
        == .outside(nextOpening: try Date("2027-01-04T13:00:00Z", strategy: .iso8601)))
    // The call's zone replaces the number's; India's limits still hold in it.
    #expect(
      policy.decide(phone: "+919876543210", recipientTimezone: "America/New_York", at: at)
        == .outside(nextOpening: try Date("2027-01-04T14:00:00Z", strategy: .iso8601)))
    // A toll-free number has no zone: the tenant's (Paris, 06:00 now; opens 07:00), or refused.
    #expect(
      policy.decide(phone: "+80012345678", recipientTimezone: nil, at: at)
        == .outside(nextOpening: try Date("2027-01-04T06:00:00Z", strategy: .iso8601)))
    var refusing = policy
    refusing.unknownTimezone = .refuse
    #expect(refusing.decide(phone: "+80012345678", recipientTimezone: nil, at: at) == .unknownZone)
    // Names: IANA ones only.
    #expect(RecipientHoursPolicy.isKnownZone("Asia/Kolkata") && RecipientHoursPolicy.isKnownZone("UTC"))
    #expect(!RecipientHoursPolicy.isKnownZone("IST") && !RecipientHoursPolicy.isKnownZone("GMT+5"))
    #expect(!RecipientHoursPolicy.isKnownZone("Mars/Olympus_Mons"))
  }
}
