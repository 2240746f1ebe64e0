import Foundation

/// Why a compliance rule held an attempt back or ended it (`blocked_reason`).
public enum BlockedReason: String, Sendable, Hashable, CaseIterable {
  /// The number is on the tenant's or the agent's do-not-call list (source `api` or `import`).
  case suppressed
  /// The number asked, on a call, not to be called again.
  case optOut = "opt_out"
  /// The number was contacted as often as its caps allow.
  case contactLimit = "contact_limit"
  /// It is outside the tenant's (or the agent's) calling hours in the recipient's own zone.
  case outsideRecipientHours = "outside_recipient_hours"
  /// The number's zone is unknown and the tenant's `unknown_timezone` is `refuse`.
  case unknownTimezone = "unknown_timezone"
}

/// Who made a suppression entry.
public enum SuppressionSource: String, Sendable, Hashable, CaseIterable {
  case api, `import`
  case optOut = "opt_out"
}

/// A do-not-call entry: no call of the tenant (or, with `agentID`, of that agent) dials the number.
public struct Suppression: Sendable, Hashable {
  public var phoneNumber: String
  /// `nil`: the tenant's every agent (scope `tenant`).
  public var agentID: Int64?
  public var reason: String?
  public var source: SuppressionSource
  /// For an opt-out, the attempt that heard it.
  public var traceID: UUID?
  public var createdAt: Date
  public var expiresAt: Date?

  public init(
    phoneNumber: String, agentID: Int64?, reason: String?, source: SuppressionSource, traceID: UUID? = nil,
    createdAt: Date, expiresAt: Date? = nil
  ) {
    self.phoneNumber = phoneNumber
    self.agentID = agentID
    self.reason = reason
    self.source = source
    self.traceID = traceID
    self.createdAt = createdAt
    self.expiresAt = expiresAt
  }

  public var scope: String { agentID == nil ? "tenant" : "agent" }

  public var json: JSONValue {
    [
      "phone_number": .string(phoneNumber), "scope": .string(scope),
      "agent_id": agentID.map(JSONValue.integer) ?? .null, "reason": reason.map(JSONValue.string) ?? .null,
      "source": .string(source.rawValue), "trace_id": traceID.map { .string($0.lowercased) } ?? .null,
      "created_at": .string(Timestamp.format(createdAt)),
      "expires_at": expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
    ]
  }

  /// All but the last four digits masked, for logs: `+*******1234`.
  public static func masked(_ phone: String) -> String {
    guard phone.count > 4 else { return String(repeating: "*", count: phone.count) }
    let kept = phone.suffix(4)
    return (phone.hasPrefix("+") ? "+" : "")
      + String(repeating: "*", count: phone.count - 4 - (phone.hasPrefix("+") ? 1 : 0))
      + kept
  }
}

/// A new entry as a client sent it, before it is checked.
public struct SuppressionInput: Sendable, Hashable {
  public var phoneNumber: String?
  public var scope: String?
  public var agentID: Int64?
  public var reason: String?
  public var expiresAt: Date?

  public init(
    phoneNumber: String? = nil, scope: String? = nil, agentID: Int64? = nil, reason: String? = nil,
    expiresAt: Date? = nil
  ) {
    self.phoneNumber = phoneNumber
    self.scope = scope
    self.agentID = agentID
    self.reason = reason
    self.expiresAt = expiresAt
  }
}

/// The rules a suppression entry and a listing obey.
public enum SuppressionContract {
  /// Entries in one `POST /v1/suppressions`.
  public static let maxEntriesPerRequest = 1_000
  /// Rows in one import.
  public static let maxImportRows = 1_000_000
  public static let maxReasonBytes = 1_024

  /// A checked entry. `field` prefixes messages (`entries[3].phone_number`).
  public static func validate(
    _ input: SuppressionInput, source: SuppressionSource, now: Date, field: String = ""
  ) throws(SwitchboardError) -> Suppression {
    guard let phone = input.phoneNumber, !phone.isEmpty else { throw .invalid("\(field)phone_number is required") }
    guard PhoneNumber.isE164(phone) else { throw .invalid("\(field)phone_number must be an E.164 phone number") }
    let agent: Int64?
    switch input.scope ?? (input.agentID == nil ? "tenant" : "agent") {
    case "tenant":
      guard input.agentID == nil else { throw .invalid("\(field)agent_id is only given with scope agent") }
      agent = nil
    case "agent":
      guard let id = input.agentID, id > 0 else {
        throw .invalid("\(field)agent_id is required with scope agent and must be a positive integer")
      }
      agent = id
    default: throw .invalid("\(field)scope must be tenant or agent")
    }
    if let reason = input.reason {
      guard reason.utf8.count <= maxReasonBytes else { throw .invalid("\(field)reason must be at most 1024 bytes") }
      guard !reason.containsNUL else { throw .invalid("\(field)reason must not contain NUL characters") }
    }
    if let expires = input.expiresAt {
      guard Timestamp.supported.contains(expires) else { throw .invalid("\(field)expires_at is out of range") }
      guard expires > now else { throw .invalid("\(field)expires_at must be in the future") }
    }
    return Suppression(
      phoneNumber: phone, agentID: agent, reason: input.reason, source: source, createdAt: now,
      expiresAt: input.expiresAt)
  }
}

/// Which entries a listing answers, and where it resumes.
public struct SuppressionFilter: Sendable, Hashable {
  public var phoneNumber: String?
  public var source: SuppressionSource?
  public var agentID: Int64?
  public var limit: Int
  /// Resume after this entry (`next_cursor`): its number, and its agent (0 for the tenant's).
  public var afterPhone: String?
  public var afterAgent: Int64 = 0

  public init(phoneNumber: String? = nil, source: SuppressionSource? = nil, agentID: Int64? = nil, limit: Int = 100) {
    self.phoneNumber = phoneNumber
    self.source = source
    self.agentID = agentID
    self.limit = limit
  }

  /// From a query's text values; each bad one is a 400 naming it.
  public static func parse(
    phoneNumber: String?, source: String?, agentID: String?, limit: String?, cursor: String?
  ) throws(SwitchboardError) -> Self {
    var filter = Self()
    if let phoneNumber {
      guard PhoneNumber.isE164(phoneNumber) else { throw .invalid("phone_number must be an E.164 phone number") }
      filter.phoneNumber = phoneNumber
    }
    if let source {
      guard let parsed = SuppressionSource(rawValue: source) else {
        throw .invalid("source must be api, import or opt_out")
      }
      filter.source = parsed
    }
    if let agentID {
      guard let id = Int64(agentID), id > 0 else { throw .invalid("agent_id must be a positive integer") }
      filter.agentID = id
    }
    if let limit {
      guard let value = Int(limit), (1...1_000).contains(value) else {
        throw .invalid("limit must be an integer between 1 and 1000")
      }
      filter.limit = value
    }
    if let cursor { (filter.afterPhone, filter.afterAgent) = try Self.decodeCursor(cursor) }
    return filter
  }

  /// `next_cursor` after `entry`.
  public static func cursor(after entry: Suppression) -> String {
    Data("\(entry.phoneNumber)|\(entry.agentID ?? 0)".utf8).base64EncodedString()
  }

  static func decodeCursor(_ text: String) throws(SwitchboardError) -> (phone: String, agentID: Int64) {
    guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8) else {
      throw .invalid("cursor is not a next_cursor this service returned")
    }
    let parts = decoded.split(separator: "|", omittingEmptySubsequences: false)
    guard parts.count == 2, PhoneNumber.isE164(String(parts[0])), let agent = Int64(parts[1]), agent >= 0 else {
      throw .invalid("cursor is not a next_cursor this service returned")
    }
    return (String(parts[0]), agent)
  }
}

/// Attempt caps per number: at most `maxAttempts` contacts (attempts handed to a dialer) in any
/// `windowHours`, and none for `quietHoursAfterConversation` after a completed call.
public struct ContactLimits: Sendable, Hashable {
  public struct Limit: Sendable, Hashable {
    public var maxAttempts: Int
    public var windowHours: Double
    public init(maxAttempts: Int, windowHours: Double) {
      self.maxAttempts = maxAttempts
      self.windowHours = windowHours
    }
  }

  public var limits: [Limit]
  public var quietHoursAfterConversation: Double?

  public init(limits: [Limit], quietHoursAfterConversation: Double? = nil) {
    self.limits = limits
    self.quietHoursAfterConversation = quietHoursAfterConversation
  }

  /// Regulation F's presumption: 7 calls in 7 days, and 7 quiet days after a conversation.
  public static let regulationF = ContactLimits(
    limits: [Limit(maxAttempts: 7, windowHours: 168)], quietHoursAfterConversation: 168)

  /// A year: the longest window or quiet time accepted.
  public static let maxHours = 8_784.0

  public var json: JSONValue {
    var object: [String: JSONValue] = [
      "limits": .array(
        limits.map { ["max_attempts": .integer(Int64($0.maxAttempts)), "window_hours": .double($0.windowHours)] })
    ]
    if let quiet = quietHoursAfterConversation { object["quiet_hours_after_conversation"] = .double(quiet) }
    return .object(object)
  }

  /// The admin CLI's value: a JSON object, `regulation_f`, or `none` (`nil`: no caps).
  public static func parse(_ text: String) throws(SwitchboardError) -> ContactLimits? {
    switch text {
    case "none": return nil
    case "regulation_f": return .regulationF
    default:
      let value: JSONValue
      do { value = try JSONValue.decode(text) } catch { throw .invalid("contact_limits must be a JSON object") }
      return try Self(json: value)
    }
  }

  public init(json: JSONValue) throws(SwitchboardError) {
    guard let object = json.objectValue else { throw .invalid("contact_limits must be a JSON object") }
    let known: Set<String> = ["limits", "quiet_hours_after_conversation"]
    if let unknown = object.keys.first(where: { !known.contains($0) }) {
      throw .invalid("contact_limits has an unknown field \(unknown)")
    }
    var limits: [Limit] = []
    for (index, item) in (object["limits"]?.arrayValue ?? []).enumerated() {
      guard let member = item.objectValue, let max = member["max_attempts"]?.integerValue,
        (1...10_000).contains(max), let hours = member["window_hours"]?.numberValue, hours > 0,
        hours <= Self.maxHours
      else {
        throw .invalid(
          "contact_limits.limits[\(index)] needs max_attempts 1…10000 and window_hours above 0 and at most 8784")
      }
      limits.append(Limit(maxAttempts: Int(max), windowHours: hours))
    }
    if object["limits"] != nil && object["limits"]?.arrayValue == nil {
      throw .invalid("contact_limits.limits must be an array")
    }
    var quiet: Double?
    if let value = object["quiet_hours_after_conversation"], value != .null {
      guard let hours = value.numberValue, hours >= 0, hours <= Self.maxHours else {
        throw .invalid("contact_limits.quiet_hours_after_conversation must be between 0 and 8784")
      }
      quiet = hours
    }
    guard !limits.isEmpty || (quiet ?? 0) > 0 else {
      throw .invalid("contact_limits needs at least one limit or quiet_hours_after_conversation")
    }
    self.init(limits: limits, quietHoursAfterConversation: quiet)
  }
}

/// What `POST /v1/compliance/check` answers: whether a call may start now (or at `at`), the
/// reasons it may not, when the caps allow it, and the zones the number may be in.
public struct ComplianceVerdict: Sendable, Hashable {
  public var allowed: Bool
  public var reasons: [BlockedReason]
  public var nextAllowedAt: Date?
  /// The number's candidate IANA zones (``PhoneTimeZones``); empty when unknown.
  public var recipientTimezones: [String]
  /// The agent's (or tenant's) recipient-hours rule, which the store reads with the verdict and
  /// ``ComplianceOperations/check(customerPhone:agentID:at:tenant:)`` applies. Not answered.
  public var recipientHours: RecipientHoursPolicy?

  public init(allowed: Bool, reasons: [BlockedReason], nextAllowedAt: Date?, recipientTimezones: [String] = []) {
    self.allowed = allowed
    self.reasons = reasons
    self.nextAllowedAt = nextAllowedAt
    self.recipientTimezones = recipientTimezones
  }

  public var json: JSONValue {
    [
      "allowed": .bool(allowed), "reasons": .array(reasons.map { .string($0.rawValue) }),
      "next_allowed_at": nextAllowedAt.map { .string(Timestamp.format($0)) } ?? .null,
      "recipient_timezones": .array(recipientTimezones.map(JSONValue.string)),
    ]
  }
}

/// A page of entries; `nextCursor` when more follow.
public struct SuppressionPage: Sendable, Hashable {
  public var entries: [Suppression]
  public var nextCursor: String?

  public init(entries: [Suppression], nextCursor: String?) {
    self.entries = entries
    self.nextCursor = nextCursor
  }

  public var json: JSONValue {
    [
      "suppressions": .array(entries.map(\.json)), "has_more": .bool(nextCursor != nil),
      "next_cursor": nextCursor.map(JSONValue.string) ?? .null,
    ]
  }
}

/// Where suppression lists live. Every method is scoped to one tenant.
public protocol ComplianceStore: Sendable {
  /// Writes the entries (replacing an entry of the same number and scope) and ends the tenant's
  /// waiting attempts to those numbers in scope; returns once no dial of them can start.
  /// `agentExists` is false when an entry names an agent the tenant does not have (nothing written).
  func suppress(_ entries: [Suppression], tenantID: Int64) async throws -> SuppressOutcome
  func suppressions(_ filter: SuppressionFilter, tenantID: Int64) async throws -> SuppressionPage
  /// Removes the number's entry in one scope; false when there was none.
  func removeSuppression(phoneNumber: String, agentID: Int64?, tenantID: Int64) async throws -> Bool
  func check(phoneNumber: String, agentID: Int64, at: Date?, tenantID: Int64) async throws -> ComplianceVerdict?
}

public enum SuppressOutcome: Sendable, Hashable {
  /// Written: how many entries, and how many waiting attempts ended.
  case written(entries: Int, endedAttempts: Int)
  case agentNotFound(Int64)
}

/// Suppression lists and the compliance check behind both transports: the checks are here, the
/// rules' application in the store.
public struct ComplianceOperations: Sendable {
  /// Authenticates callers; `nil` for the admin CLI, which names the tenant itself.
  public let calls: CallOperations?
  public let store: any ComplianceStore
  private let now: @Sendable () -> Date

  public init(calls: CallOperations?, store: any ComplianceStore, now: @escaping @Sendable () -> Date = { Date() }) {
    self.calls = calls
    self.store = store
    self.now = now
  }

  public func authenticate(authorization: String?) async throws(SwitchboardError) -> Tenant {
    guard let calls else { throw .invalidAPIKey }
    return try await calls.authenticate(authorization: authorization)
  }

  /// Adds entries from the API (1…1,000); each bad one is a 400 naming it, and nothing is written.
  public func add(_ inputs: [SuppressionInput], tenant: Tenant) async throws(SwitchboardError) -> SuppressOutcomeCounts
  {
    guard !inputs.isEmpty else { throw .invalid("entries must not be empty") }
    guard inputs.count <= SuppressionContract.maxEntriesPerRequest else {
      throw .invalid("entries must hold at most \(SuppressionContract.maxEntriesPerRequest) entries")
    }
    let clock = now()
    var entries: [Suppression] = []
    for (index, input) in inputs.enumerated() {
      let field = inputs.count == 1 ? "" : "entries[\(index)]."
      entries.append(try SuppressionContract.validate(input, source: .api, now: clock, field: field))
    }
    return try await write(entries, tenant: tenant)
  }

  /// Adds imported numbers, already checked (``SuppressionImport``).
  public func `import`(_ entries: [Suppression], tenant: Tenant) async throws(SwitchboardError) -> SuppressOutcomeCounts
  {
    try await write(entries, tenant: tenant)
  }

  private func write(_ entries: [Suppression], tenant: Tenant) async throws(SwitchboardError) -> SuppressOutcomeCounts {
    guard !entries.isEmpty else { return SuppressOutcomeCounts(entries: 0, endedAttempts: 0) }
    switch try await CallOperations.mapped({ try await store.suppress(entries, tenantID: tenant.id) }) {
    case .written(let count, let ended): return SuppressOutcomeCounts(entries: count, endedAttempts: ended)
    case .agentNotFound: throw .agentNotFound
    }
  }

  public func list(_ filter: SuppressionFilter, tenant: Tenant) async throws(SwitchboardError) -> SuppressionPage {
    try await CallOperations.mapped { try await store.suppressions(filter, tenantID: tenant.id) }
  }

  /// Removes the number's entry (the agent's with `agentID`): 404 when there is none.
  public func remove(phoneNumber: String, agentID: String?, tenant: Tenant) async throws(SwitchboardError) {
    guard PhoneNumber.isE164(phoneNumber) else { throw .invalid("phone_number must be an E.164 phone number") }
    var agent: Int64?
    if let agentID {
      guard let id = Int64(agentID), id > 0 else { throw .invalid("agent_id must be a positive integer") }
      agent = id
    }
    let removed = try await CallOperations.mapped {
      try await store.removeSuppression(phoneNumber: phoneNumber, agentID: agent, tenantID: tenant.id)
    }
    guard removed else { throw .suppressionNotFound }
  }

  /// Whether a call to the number may start now (or at `at`), writing nothing.
  public func check(
    customerPhone: String?, agentID: Int64?, at: Date?, tenant: Tenant
  ) async throws(SwitchboardError) -> ComplianceVerdict {
    guard let phone = customerPhone, !phone.isEmpty else { throw .invalid("customer_phone is required") }
    guard PhoneNumber.isE164(phone) else { throw .invalid("customer_phone must be an E.164 phone number") }
    guard let agentID else { throw .invalid("agent_id is required") }
    guard agentID > 0 else { throw .invalid("agent_id must be a positive integer") }
    if let at, !Timestamp.supported.contains(at) { throw .invalid("at is out of range") }
    let verdict = try await CallOperations.mapped {
      try await store.check(phoneNumber: phone, agentID: agentID, at: at, tenantID: tenant.id)
    }
    guard var verdict else { throw .agentNotFound }
    verdict.recipientTimezones = PhoneTimeZones.locate(phone)?.timeZones ?? []
    if let policy = verdict.recipientHours {
      let when = at ?? now()
      switch policy.decide(phone: phone, recipientTimezone: nil, at: when) {
      case .inside: break
      case .unknownZone: verdict.reasons.append(.unknownTimezone)
      case .outside: verdict.reasons.append(.outsideRecipientHours)
      }
      // The first time both the caps and the hours allow (none while suppressed or refused).
      if verdict.reasons.contains(where: { [.suppressed, .optOut, .unknownTimezone].contains($0) }) {
        verdict.nextAllowedAt = nil
      } else if verdict.reasons.contains(.outsideRecipientHours) || verdict.nextAllowedAt != nil {
        let from = max(verdict.nextAllowedAt ?? when, when)
        if case .outside(let opening) = policy.decide(phone: phone, recipientTimezone: nil, at: from) {
          verdict.nextAllowedAt = opening
        } else {
          verdict.nextAllowedAt = from
        }
      }
      verdict.allowed = verdict.reasons.isEmpty
    }
    return verdict
  }
}

/// What a suppression write did.
public struct SuppressOutcomeCounts: Sendable, Hashable {
  public var entries: Int
  public var endedAttempts: Int

  public var json: JSONValue { ["added": .integer(Int64(entries)), "ended_attempts": .integer(Int64(endedAttempts))] }
}

/// An import's numbers, checked one by one: the kept entries and the rejected rows by line.
public struct SuppressionImport: Sendable {
  public var entries: [Suppression] = []
  public var rejected: [RejectedRecipient] = []
  public var totalRejected = 0
  private var seen: Set<String> = []
  let agentID: Int64?
  let reason: String?
  let now: Date

  /// `scope`, `agentID` and `reason` apply to every number; a bad one is a 400.
  public init(scope: String?, agentID: Int64?, reason: String?, now: Date) throws(SwitchboardError) {
    let probe = try SuppressionContract.validate(
      SuppressionInput(phoneNumber: "+10000000000", scope: scope, agentID: agentID, reason: reason), source: .import,
      now: now)
    self.agentID = probe.agentID
    self.reason = reason
    self.now = now
  }

  public var count: Int { entries.count + totalRejected }

  public mutating func add(_ phone: String, line: Int) throws(SwitchboardError) {
    guard count < SuppressionContract.maxImportRows else {
      throw SwitchboardError(
        .payloadTooLarge, "an import must have at most \(SuppressionContract.maxImportRows) rows")
    }
    let phone = phone.trimmingCharacters(in: .whitespaces)
    guard PhoneNumber.isE164(phone) else {
      reject(line, "phone_number must be an E.164 phone number")
      return
    }
    guard seen.insert(phone).inserted else { return }
    entries.append(
      Suppression(
        phoneNumber: phone, agentID: agentID, reason: reason, source: .import, createdAt: now))
  }

  public mutating func reject(_ line: Int, _ message: String) {
    totalRejected += 1
    if rejected.count < BatchContract.maxRejectedListed {
      rejected.append(RejectedRecipient(line: line, message: message))
    }
  }

  public func json(_ counts: SuppressOutcomeCounts) -> JSONValue {
    [
      "imported": .integer(Int64(counts.entries)), "ended_attempts": .integer(Int64(counts.endedAttempts)),
      "total_rejected": .integer(Int64(totalRejected)), "rejected_rows": .array(rejected.map(\.json)),
    ]
  }
}
