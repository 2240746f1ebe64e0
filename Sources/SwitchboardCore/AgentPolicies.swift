import Foundation

/// When a finished attempt earns another: `{"max_attempts": 3, "retry_on": ["no_answer", "busy"],
/// "delays_seconds": [1800, 3600]}`. Delay n follows attempt n; the last delay repeats.
public struct RetryPolicy: Sendable, Hashable {
  public var maxAttempts: Int
  public var retryOn: Set<CallStatus>
  public var delaysSeconds: [Int]

  public init(maxAttempts: Int, retryOn: Set<CallStatus>, delaysSeconds: [Int]) {
    self.maxAttempts = maxAttempts
    self.retryOn = retryOn
    self.delaysSeconds = delaysSeconds
  }

  /// The delay before the attempt after `attemptNumber`, or `nil` when `status` earns none.
  public func retryDelay(after status: CallStatus, attemptNumber: Int) -> Int? {
    guard retryOn.contains(status), attemptNumber < maxAttempts else { return nil }
    guard let last = delaysSeconds.last else { return 0 }
    return attemptNumber - 1 < delaysSeconds.count ? delaysSeconds[attemptNumber - 1] : last
  }

  public init(json: JSONValue) throws(SwitchboardError) {
    guard let members = json.objectValue else { throw .invalid("retry policy must be an object") }
    guard case .integer(let max)? = members["max_attempts"], (1...20).contains(max) else {
      throw .invalid("retry policy max_attempts must be an integer from 1 to 20")
    }
    var retryOn = Set<CallStatus>()
    if case .array(let items)? = members["retry_on"] {
      for item in items {
        guard let status = item.stringValue.flatMap(CallStatus.init(rawValue:)), status.isRetryable else {
          throw .invalid("retry policy retry_on takes no_answer, busy, failed, unreachable or voicemail")
        }
        retryOn.insert(status)
      }
    } else if members["retry_on"] != nil {
      throw .invalid("retry policy retry_on must be an array of statuses")
    }
    var delays: [Int] = []
    if case .array(let items)? = members["delays_seconds"] {
      for item in items {
        guard case .integer(let seconds) = item, (0...(30 * 86400)).contains(seconds) else {
          throw .invalid("retry policy delays_seconds must be whole seconds, at most 30 days")
        }
        delays.append(Int(seconds))
      }
    }
    self.init(maxAttempts: Int(max), retryOn: retryOn, delaysSeconds: delays)
  }

  public var json: JSONValue {
    [
      "max_attempts": .integer(Int64(maxAttempts)),
      "retry_on": .array(retryOn.map(\.rawValue).sorted().map(JSONValue.string)),
      "delays_seconds": .array(delaysSeconds.map { .integer(Int64($0)) }),
    ]
  }
}

/// When an agent may call: `{"timezone": "Asia/Kolkata", "days": ["mon", …], "start": "09:00",
/// "end": "18:00"}`. Dispatch outside it waits for the next opening.
public struct CallingWindow: Sendable, Hashable {
  public var timeZone: TimeZone
  /// Calendar weekdays, 1 = Sunday … 7 = Saturday.
  public var weekdays: Set<Int>
  /// Minutes after local midnight; `end` is exclusive.
  public var startMinute: Int
  public var endMinute: Int

  static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

  public init(timeZone: TimeZone, weekdays: Set<Int>, startMinute: Int, endMinute: Int) {
    self.timeZone = timeZone
    self.weekdays = weekdays
    self.startMinute = startMinute
    self.endMinute = endMinute
  }

  public init(json: JSONValue) throws(SwitchboardError) {
    guard let members = json.objectValue else { throw .invalid("calling window must be an object") }
    guard let zone = members["timezone"]?.stringValue.flatMap(TimeZone.init(identifier:)) else {
      throw .invalid("calling window timezone must be an IANA time zone such as Asia/Kolkata")
    }
    var weekdays = Set<Int>()
    if case .array(let items)? = members["days"] {
      for item in items {
        guard let index = item.stringValue.flatMap({ Self.dayNames.firstIndex(of: $0.lowercased()) }) else {
          throw .invalid("calling window days are mon, tue, wed, thu, fri, sat, sun")
        }
        weekdays.insert(index + 1)
      }
    } else {
      weekdays = Set(1...7)
    }
    guard let start = members["start"]?.stringValue.flatMap(Self.minutes),
      let end = members["end"]?.stringValue
        .flatMap(Self.minutes), start < end
    else { throw .invalid("calling window start and end must be HH:MM with start before end") }
    self.init(timeZone: zone, weekdays: weekdays, startMinute: start, endMinute: end)
  }

  private static func minutes(_ text: String) -> Int? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...24).contains(hour),
      (0...59).contains(minute), hour * 60 + minute <= 1440
    else { return nil }
    return hour * 60 + minute
  }

  public var json: JSONValue {
    func clock(_ minutes: Int) -> JSONValue { .string(String(format: "%02d:%02d", minutes / 60, minutes % 60)) }
    return [
      "timezone": .string(timeZone.identifier),
      "days": .array(weekdays.sorted().map { .string(Self.dayNames[$0 - 1]) }),
      "start": clock(startMinute), "end": clock(endMinute),
    ]
  }

  /// `date` itself when the window is open then, else the next time it opens.
  public func nextOpening(atOrAfter date: Date) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let today = calendar.startOfDay(for: date)
    for offset in 0...7 {
      guard let day = calendar.date(byAdding: .day, value: offset, to: today),
        weekdays.contains(calendar.component(.weekday, from: day)),
        let opens = Self.wallClock(startMinute, on: day, calendar),
        let closes = Self.wallClock(endMinute, on: day, calendar)
      else { continue }
      if date < opens { return opens }
      if date < closes { return date }
    }
    return date
  }

  /// The instant `minutes` after midnight by the local clock, not by elapsed time: on the days
  /// clocks change, 09:00 is still 09:00. A time the change skips (02:30 when 02:00 becomes 03:00)
  /// is the first instant after the gap; 24:00 is the next day's midnight.
  private static func wallClock(_ minutes: Int, on day: Date, _ calendar: Calendar) -> Date? {
    if minutes >= 24 * 60 { return calendar.date(byAdding: .day, value: 1, to: day) }
    var components = calendar.dateComponents([.year, .month, .day], from: day)
    components.hour = minutes / 60
    components.minute = minutes % 60
    guard let date = calendar.date(from: components) else { return nil }
    // Foundation moves a skipped time forward by the gap (02:30 becomes 03:30); the clock resumed
    // at the transition (03:00), which is already past 02:30.
    let local = calendar.dateComponents([.hour, .minute], from: date)
    if local.hour != components.hour || local.minute != components.minute,
      let transition = calendar.timeZone.nextDaylightSavingTimeTransition(after: date.addingTimeInterval(-3 * 3600)),
      transition <= date
    {
      return transition
    }
    return date
  }
}
