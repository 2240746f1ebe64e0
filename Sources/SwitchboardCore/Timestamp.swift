import Foundation

/// ISO 8601 date-times as the JSON contract reads and writes them.
public enum Timestamp {
  private static let plain = Date.ISO8601FormatStyle()
  private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

  /// Parses `2026-04-08T14:00:00Z` or `2026-04-08T19:30:00.250+05:30`; `nil` without an offset,
  /// and for any field out of its range (month 13, November 31, hour 25, minute 61, second 99):
  /// the formatter alone would roll those over into another, valid-looking time.
  public static func parse(_ text: String) -> Date? {
    guard isWellFormed(Array(text.utf8)) else { return nil }
    return (try? plain.parse(text)) ?? (try? fractional.parse(text))
  }

  /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with every field in range.
  static func isWellFormed(_ bytes: [UInt8]) -> Bool {
    func number(_ range: Range<Int>) -> Int? {
      guard range.upperBound <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[range] {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
      }
      return value
    }
    func byte(_ index: Int, is character: Unicode.Scalar) -> Bool {
      index < bytes.count && bytes[index] == UInt8(ascii: character)
    }
    guard let year = number(0..<4), byte(4, is: "-"), let month = number(5..<7), byte(7, is: "-"),
      let day = number(8..<10), byte(10, is: "T"), let hour = number(11..<13),
      byte(13, is: ":"), let minute = number(14..<16), byte(16, is: ":"), let second = number(17..<19)
    else { return false }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard year >= 1, (1...12).contains(month), (1...days[month - 1]).contains(day), hour < 24, minute < 60,
      second < 60
    else { return false }
    var index = 19
    if byte(index, is: ".") {
      index += 1
      let digits = index
      while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
      guard index > digits, index - digits <= 9 else { return false }
    }
    if byte(index, is: "Z") && index + 1 == bytes.count { return true }
    guard byte(index, is: "+") || byte(index, is: "-"), let offsetHours = number(index + 1..<index + 3),
      byte(index + 3, is: ":"), let offsetMinutes = number(index + 4..<index + 6), index + 6 == bytes.count
    else { return false }
    // ±18:00 is as far as offsets go (and as far as the formatter reads them).
    return offsetHours * 60 + offsetMinutes <= 18 * 60 && offsetMinutes < 60
  }

  /// The times the service takes from a caller: years 0001 to 9999, as the ISO 8601 text of the
  /// JSON contract spells them. PostgreSQL holds more, but postgres-nio traps (ends the process)
  /// on a `Date` whose microseconds since 2000 overflow 64 bits, and gRPC's `Timestamp` can say
  /// ±10^13 s; every time from the wire is checked against this before it is bound.
  public static let supported: ClosedRange<Date> =
    Date(timeIntervalSince1970: -62_135_596_800)...Date(timeIntervalSince1970: 253_402_300_799.999)

  /// `date` when it is within ``supported``; else a 400 that names `field`.
  public static func checked(_ date: Date, _ field: String) throws(SwitchboardError) -> Date {
    guard supported.contains(date) else {
      throw .invalid("\(field) must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    }
    return date
  }

  /// `2026-04-08T14:00:00Z`, with milliseconds when the time has them.
  public static func format(_ date: Date) -> String {
    date.timeIntervalSince1970.rounded() == date.timeIntervalSince1970
      ? date.formatted(plain) : date.formatted(fractional)
  }
}
