import Foundation

/// Calling hours in the recipient's own time: days and local start and end, the calling window's
/// shape without its zone, checked in every zone the number may be in (``PhoneTimeZones``). A
/// time is inside only if it is inside in each of them.
public struct RecipientHours: Sendable, Hashable {
  /// Calendar weekdays, 1 = Sunday … 7 = Saturday.
  public var weekdays: Set<Int>
  /// Minutes after local midnight; `end` is exclusive.
  public var startMinute: Int
  public var endMinute: Int

  public init(weekdays: Set<Int> = Set(1...7), startMinute: Int, endMinute: Int) {
    self.weekdays = weekdays
    self.startMinute = startMinute
    self.endMinute = endMinute
  }

  /// `{"days": ["mon", …], "start": "09:00", "end": "20:00"}`; `days` defaults to every day.
  public init(json: JSONValue) throws(SwitchboardError) {
    guard let members = json.objectValue else { throw .invalid("recipient_hours must be a JSON object") }
    if let unknown = members.keys.sorted().first(where: { !["days", "start", "end"].contains($0) }) {
      throw .invalid(
        unknown == "timezone"
          ? "recipient_hours has no timezone: they are checked in the recipient's own"
          : "recipient_hours has an unknown field \(unknown)")
    }
    var window = members
    window["timezone"] = "UTC"
    let parsed: CallingWindow
    do {
      parsed = try CallingWindow(json: .object(window))
    } catch {
      throw .invalid(error.message.replacingOccurrences(of: "calling window", with: "recipient_hours"))
    }
    self.init(weekdays: parsed.weekdays, startMinute: parsed.startMinute, endMinute: parsed.endMinute)
  }

  public var json: JSONValue {
    var object =
      CallingWindow(timeZone: .gmt, weekdays: weekdays, startMinute: startMinute, endMinute: endMinute)
      .json.objectValue ?? [:]
    object["timezone"] = nil
    return .object(object)
  }

  /// No time is inside: no day, or a start not before the end (hours narrowed to nothing).
  public var isEmpty: Bool { weekdays.isEmpty || startMinute >= endMinute }

  /// The hours inside both: common days, the later start, the earlier end (perhaps none).
  public func narrowed(by other: RecipientHours) -> RecipientHours {
    RecipientHours(
      weekdays: weekdays.intersection(other.weekdays), startMinute: max(startMinute, other.startMinute),
      endMinute: min(endMinute, other.endMinute))
  }

  /// Whether `date` is inside the hours by `zone`'s clock.
  public func isInside(_ date: Date, in zone: TimeZone) -> Bool {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    let local = calendar.dateComponents([.weekday, .hour, .minute], from: date)
    guard let weekday = local.weekday, let hour = local.hour, let minute = local.minute else { return false }
    let minutes = hour * 60 + minute
    return weekdays.contains(weekday) && startMinute <= minutes && minutes < endMinute
  }

  /// `date` itself when it is inside the hours in every zone, else the first instant after it that
  /// is; `nil` when no instant in the next two weeks is (zones too far apart for the hours).
  /// Local clock times, as the calling window reads them: 09:00 stays 09:00 on the days clocks
  /// change, and a start the change skips opens when the clock resumes.
  public func nextOpening(atOrAfter date: Date, in zones: [TimeZone]) -> Date? {
    let windows = zones.map {
      CallingWindow(timeZone: $0, weekdays: weekdays, startMinute: startMinute, endMinute: endMinute)
    }
    guard !windows.isEmpty, !isEmpty else { return nil }
    let horizon = date.addingTimeInterval(14 * 86_400)
    var candidate = date
    // Each round moves to the latest of the zones' next openings; where none moves it, every zone
    // is open. The candidate only grows, so this ends at the first common instant.
    while candidate < horizon {
      let openings = windows.map { $0.nextOpening(atOrAfter: candidate) }
      guard let latest = openings.max() else { return nil }
      if latest == candidate { return candidate }
      candidate = latest
    }
    return nil
  }

  /// The outer limits a country's law sets, by calling code: India (+91) 09:00–21:00 and the US
  /// and Canada (+1) 08:00–21:00, every day. A tenant's hours can only narrow them.
  public static let countryLimits: [Int: RecipientHours] = [
    91: RecipientHours(startMinute: 9 * 60, endMinute: 21 * 60),
    1: RecipientHours(startMinute: 8 * 60, endMinute: 21 * 60),
  ]

  /// The hours that apply to a number of `callingCode`: `hours` narrowed by its country's limits,
  /// the limits alone when `hours` is nil; `nil` when neither exists (any time).
  public static func effective(_ hours: RecipientHours?, callingCode: Int) -> RecipientHours? {
    let limits = countryLimits[callingCode]
    guard let hours else { return limits }
    guard let limits else { return hours }
    return hours.narrowed(by: limits)
  }
}
