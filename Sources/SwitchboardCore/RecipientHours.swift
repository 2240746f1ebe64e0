import Foundation
import Synchronization

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

  /// Hours as stored (their JSON text), parsed once per text: the dispatcher reads them with every
  /// attempt it claims.
  public static func stored(_ text: String) throws -> RecipientHours {
    if let known = storedCache.withLock({ $0[text] }) { return known }
    let hours = try RecipientHours(json: JSONValue.decode(text))
    storedCache.withLock { if $0.count < 10_000 { $0[text] = hours } }
    return hours
  }

  private static let storedCache = Mutex<[String: RecipientHours]>([:])

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

  /// Whether `date` is inside the hours by `zone`'s clock. From the zone's offset at that instant
  /// (no calendar: this runs for every attempt a dispatcher claims).
  public func isInside(_ date: Date, in zone: TimeZone) -> Bool {
    let local = Int((date.timeIntervalSince1970 + Double(zone.secondsFromGMT(for: date))).rounded(.down))
    let (days, seconds) = local.quotientAndRemainder(dividingBy: 86_400)
    let (day, second) = seconds < 0 ? (days - 1, seconds + 86_400) : (days, seconds)
    // 1970-01-01 was a Thursday: weekday 5 with Sunday 1.
    let weekday = ((day % 7 + 7 + 4) % 7) + 1
    let minutes = second / 60
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

/// What a tenant does with a call placed now outside the recipient's hours.
public enum OutsideHours: String, Sendable, Hashable, CaseIterable {
  /// Accept it as scheduled for the next opening (the default).
  case `defer`
  /// Refuse it: 422 `outside_calling_hours` with `next_allowed_at`.
  case reject
}

/// Where a number whose zone the data does not know is taken to be.
public enum UnknownTimezone: String, Sendable, Hashable, CaseIterable {
  /// In the tenant's own zone (the default).
  case tenantZone = "tenant_zone"
  /// Nowhere: such a number is not called (422 `recipient_timezone_unknown` at intake).
  case refuse
}

/// A tenant's recipient-hours rule for one agent: the hours (the agent's, else the tenant's) and
/// the tenant's policies. Decides a call to a number at a time, in the number's candidate zones
/// (or the call's `recipient_timezone`), inside its country's limits.
public struct RecipientHoursPolicy: Sendable, Hashable {
  public var hours: RecipientHours
  public var outsideHours: OutsideHours
  public var unknownTimezone: UnknownTimezone
  /// The tenant's zone, for `unknown_timezone: tenant_zone`.
  public var tenantZone: TimeZone

  public init(
    hours: RecipientHours, outsideHours: OutsideHours = .defer, unknownTimezone: UnknownTimezone = .tenantZone,
    tenantZone: TimeZone = .gmt
  ) {
    self.hours = hours
    self.outsideHours = outsideHours
    self.unknownTimezone = unknownTimezone
    self.tenantZone = tenantZone
  }

  public enum Decision: Sendable, Hashable {
    case inside
    /// Outside; when the hours next open in every candidate zone (`nil`: not in two weeks).
    case outside(nextOpening: Date?)
    /// The number's zone is unknown and the tenant refuses such numbers.
    case unknownZone
  }

  /// The decision for a call to `phone` at `date`. `recipientTimezone` (an IANA name, validated
  /// at intake) overrides the number's zones; the country's limits apply either way.
  public func decide(phone: String, recipientTimezone: String?, at date: Date) -> Decision {
    let location = PhoneTimeZones.locate(phone)
    let names = recipientTimezone.map { [$0] } ?? location?.timeZones ?? []
    var zones = names.compactMap(Self.zone(named:))
    if zones.isEmpty {
      guard unknownTimezone == .tenantZone else { return .unknownZone }
      zones = [tenantZone]
    }
    let effective = RecipientHours.effective(hours, callingCode: location?.callingCode ?? 0) ?? hours
    if zones.allSatisfy({ effective.isInside(date, in: $0) }) { return .inside }
    return .outside(nextOpening: effective.nextOpening(atOrAfter: date, in: zones))
  }

  /// A zone by IANA name, parsed once per name (Foundation reads the zone's file each time).
  public static func zone(named name: String) -> TimeZone? {
    if let known = zones.withLock({ $0[name] }) { return known }
    guard let zone = TimeZone(identifier: name) else { return nil }
    zones.withLock { if $0.count < 10_000 { $0[name] = zone } }
    return zone
  }

  /// Whether `name` is an IANA zone name the time-zone database holds ("Asia/Kolkata", "UTC"),
  /// as a call's `recipient_timezone` must be; an abbreviation ("IST") or an offset ("GMT+5")
  /// is not one. (Foundation's `knownTimeZoneIdentifiers` is an older list without links such as
  /// "Asia/Kolkata", so the name's shape and the database decide.)
  public static func isKnownZone(_ name: String) -> Bool {
    (name == "UTC" || name.contains("/")) && zone(named: name) != nil
  }

  private static let zones = Mutex<[String: TimeZone]>([:])
}

/// A tenant's recipient-hours settings as intake reads them: the tenant's hours and policies, and
/// the hours of each agent that has its own (which replace the tenant's for that agent).
public struct RecipientHoursRules: Sendable, Hashable {
  public var tenantHours: RecipientHours?
  public var agentHours: [Int64: RecipientHours]
  public var outsideHours: OutsideHours
  public var unknownTimezone: UnknownTimezone
  public var tenantZone: TimeZone

  public init(
    tenantHours: RecipientHours?, agentHours: [Int64: RecipientHours] = [:], outsideHours: OutsideHours = .defer,
    unknownTimezone: UnknownTimezone = .tenantZone, tenantZone: TimeZone = .gmt
  ) {
    self.tenantHours = tenantHours
    self.agentHours = agentHours
    self.outsideHours = outsideHours
    self.unknownTimezone = unknownTimezone
    self.tenantZone = tenantZone
  }

  /// The rule for calls of `agentID`; `nil` when neither it nor the tenant has hours.
  public func policy(agentID: Int64) -> RecipientHoursPolicy? {
    guard let hours = agentHours[agentID] ?? tenantHours else { return nil }
    return RecipientHoursPolicy(
      hours: hours, outsideHours: outsideHours, unknownTimezone: unknownTimezone, tenantZone: tenantZone)
  }
}
