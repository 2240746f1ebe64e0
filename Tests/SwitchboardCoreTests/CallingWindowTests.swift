import Foundation
import Testing

@testable import SwitchboardCore

@Suite("Calling windows")
struct CallingWindowTests {
  private func window(_ json: JSONValue) throws -> CallingWindow { try CallingWindow(json: json) }
  /// An instant written in RFC 3339; the texts below are all valid.
  private func at(_ text: String) -> Date { Timestamp.parse(text)! }

  @Test("open now: the instant itself; before opening: today's opening; after closing: the next day's")
  func sameDay() throws {
    let kolkata = try window(["timezone": "Asia/Kolkata", "start": "09:00", "end": "18:00"])
    #expect(kolkata.nextOpening(atOrAfter: at("2026-11-30T05:00:00Z")) == at("2026-11-30T05:00:00Z"))
    #expect(kolkata.nextOpening(atOrAfter: at("2026-11-30T02:00:00Z")) == at("2026-11-30T03:30:00Z"))
    #expect(kolkata.nextOpening(atOrAfter: at("2026-11-30T12:30:00Z")) == at("2026-12-01T03:30:00Z"))
    // end is exclusive.
    #expect(kolkata.nextOpening(atOrAfter: at("2026-11-30T12:29:59Z")) == at("2026-11-30T12:29:59Z"))
  }

  @Test("opening hours are local clock times on the days clocks change")
  func daylightSaving() throws {
    let newYork = try window(["timezone": "America/New_York", "start": "09:00", "end": "17:00"])
    // 2026-03-08: 02:00 EST becomes 03:00 EDT; 09:00 EDT is 13:00Z (elapsed time from midnight says 14:00Z).
    #expect(newYork.nextOpening(atOrAfter: at("2026-03-08T06:00:00Z")) == at("2026-03-08T13:00:00Z"))
    // 2026-11-01: 02:00 EDT becomes 01:00 EST; 09:00 EST is 14:00Z (elapsed time says 13:00Z).
    #expect(newYork.nextOpening(atOrAfter: at("2026-11-01T06:00:00Z")) == at("2026-11-01T14:00:00Z"))
    // Closing follows the local clock too: 16:59 EST on the fall-back day is still open.
    #expect(newYork.nextOpening(atOrAfter: at("2026-11-01T21:59:00Z")) == at("2026-11-01T21:59:00Z"))
  }

  @Test("a window opening in the hour that spring-forward skips opens when the clock resumes")
  func skippedHour() throws {
    let newYork = try window(["timezone": "America/New_York", "start": "02:30", "end": "04:00"])
    // 02:30 does not exist on 2026-03-08; the first local instant after the gap is 03:00 EDT (07:00Z),
    // and Foundation resolves 02:30 to 03:30 EDT (07:30Z). Either way it is within the window.
    let opening = newYork.nextOpening(atOrAfter: at("2026-03-08T05:00:00Z"))
    #expect(opening >= at("2026-03-08T07:00:00Z") && opening < at("2026-03-08T08:00:00Z"))
  }

  @Test("24:00 closes at the next midnight")
  func midnightEnd() throws {
    let late = try window(["timezone": "UTC", "start": "18:00", "end": "24:00"])
    #expect(late.nextOpening(atOrAfter: at("2026-11-30T23:59:30Z")) == at("2026-11-30T23:59:30Z"))
    #expect(late.nextOpening(atOrAfter: at("2026-12-01T00:00:00Z")) == at("2026-12-01T18:00:00Z"))
  }

  @Test("the week wraps: Saturday evening waits for Monday")
  func weekWrap() throws {
    let weekdays = try window([
      "timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
    ])
    // 2026-12-05 is a Saturday; Monday 2026-12-07 09:00 CET is 08:00Z.
    #expect(weekdays.nextOpening(atOrAfter: at("2026-12-05T18:00:00Z")) == at("2026-12-07T08:00:00Z"))
    let sundays = try window(["timezone": "UTC", "days": ["sun"], "start": "10:00", "end": "11:00"])
    // Sunday 2026-12-06 after closing: the next Sunday, seven days on.
    #expect(sundays.nextOpening(atOrAfter: at("2026-12-06T11:00:00Z")) == at("2026-12-13T10:00:00Z"))
  }

  static let malformedWindows: [(JSONValue, String)] = [
    (["timezone": "Mars/Olympus", "start": "09:00", "end": "10:00"], "timezone"),
    (["timezone": "UTC", "start": "10:00", "end": "09:00"], "start and end"),
    (["timezone": "UTC", "start": "24:01", "end": "24:30"], "start and end"),
    (["timezone": "UTC", "start": "9", "end": "10:00"], "start and end"),
    (["timezone": "UTC", "days": ["funday"], "start": "09:00", "end": "10:00"], "days"),
  ]

  @Test("malformed windows are refused with the field's message", arguments: malformedWindows)
  func malformed(_ json: JSONValue, _ field: String) {
    #expect {
      try CallingWindow(json: json)
    } throws: {
      ($0 as? SwitchboardError)?.message.contains("calling window \(field)") == true
    }
  }

  @Test("JSON round trip")
  func roundTrip() throws {
    let original = try window([
      "timezone": "Asia/Kolkata", "days": ["mon", "sat"], "start": "09:30", "end": "24:00",
    ])
    #expect(try CallingWindow(json: original.json) == original)
    #expect(original.json["end"] == "24:00")
  }
}

@Suite("JSON writer")
struct JSONWriterTests {
  @Test("keys sorted, compact, escapes as JSON requires")
  func writes() {
    let value: JSONValue = [
      "b": [1, 2.5, true, nil], "a": "quote \" backslash \\ newline \n tab \t bell \u{07} é",
    ]
    #expect(
      value.encoded()
        == #"{"a":"quote \" backslash \\ newline \n tab \t bell \u0007 é","b":[1,2.5,true,null]}"#)
  }

  @Test("what it writes reads back as the same value")
  func roundTrip() throws {
    let value: JSONValue = [
      "nested": ["deep": [["x": -42], []], "empty": [:]], "unicode": "नमस्ते \u{1F4DE}", "big": 9_007_199_254_740_993,
      "control": "\u{01}\u{1F}\r",
    ]
    #expect(try JSONValue.decode(value.encoded()) == value)
  }

  @Test("non-finite numbers, which JSON cannot hold, are written as null")
  func nonFinite() {
    #expect(JSONValue.array([.double(.infinity), .double(.nan)]).encoded() == "[null,null]")
  }
}

extension JSONValue {
  fileprivate subscript(key: String) -> JSONValue? { objectValue?[key] }
}
