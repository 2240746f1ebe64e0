import Foundation
import Synchronization

/// The one code path behind both transports: authentication, the call contract, and reads.
/// Transports translate wire types to these calls and ``SwitchboardError`` back to the wire.
public struct CallOperations: Sendable {
  public let store: any CallStore
  /// This replica's `WatchConversation` streams; someone must `run()` it for them to see changes.
  public let watchers: ConversationWatchers
  /// The dialer secret: a voice runtime serving every tenant reports events with it as its bearer
  /// token, naming the tenant in a `Switchboard-Tenant` header.
  private let runtimeSecret: Secret?
  private let now: @Sendable () -> Date
  private let recentKeys = RecentKeys()
  private let hoursRules = RecentHoursRules()

  public init(store: any CallStore, runtimeSecret: Secret? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
    self.store = store
    self.watchers = ConversationWatchers(store: store)
    self.runtimeSecret = runtimeSecret
    self.now = now
  }

  /// Who may report call events: a tenant's API key, or the dialer secret with the tenant's id
  /// (every query that follows is scoped to that tenant, so a wrong id finds nothing).
  public func authenticateReporter(
    authorization: String?, tenantHeader: String?
  ) async throws(SwitchboardError)
    -> Tenant
  {
    if let runtimeSecret, let authorization {
      let parts = authorization.split(separator: " ", maxSplits: 1)
      if parts.count == 2, parts[0].lowercased() == "bearer",
        Self.constantTimeEqual(String(parts[1]), runtimeSecret.reveal)
      {
        guard let id = tenantHeader.flatMap({ Int64($0) }), id > 0 else {
          throw .invalid("Switchboard-Tenant header is required with the dialer secret")
        }
        return Tenant(id: id, name: "")
      }
    }
    return try await authenticate(authorization: authorization)
  }

  private static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
    let (a, b) = (Array(left.utf8), Array(right.utf8))
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
  }

  /// The tenant behind an `Authorization` value (`Bearer sk_…`).
  public func authenticate(authorization: String?) async throws(SwitchboardError) -> Tenant {
    guard let key = APIKey.fromAuthorization(authorization) else { throw .invalidAPIKey }
    let tenant = try await Self.mapped { try await store.tenant(forAPIKey: key) }
    guard let tenant else { throw .invalidAPIKey }
    return tenant
  }

  /// The caller of MakeCall behind an `Authorization` value. A key seen valid in the last
  /// ``RecentKeys/maxAge`` is not looked up again: recording the call checks it anyway, in the
  /// same statement, so MakeCall costs one database round trip.
  public func authenticateCaller(authorization: String?) async throws(SwitchboardError) -> Caller {
    guard let key = APIKey.fromAuthorization(authorization) else { throw .invalidAPIKey }
    let clock = now()
    if !recentKeys.contains(key, now: clock) {
      guard try await Self.mapped({ try await store.tenant(forAPIKey: key) }) != nil else { throw .invalidAPIKey }
      recentKeys.remember(key, now: clock)
    }
    return Caller(apiKey: key)
  }

  /// Validates and records one call attempt.
  /// The recipient's hours, when the tenant or the agent has them. A call placed now outside them
  /// is deferred to the next opening (scheduled, with its reason) or refused (422), by the
  /// tenant's `outside_hours`; a number of unknown zone is refused under `unknown_timezone:
  /// refuse`. A scheduled call is left to dispatch, which checks every attempt when it falls due.
  /// The settings are read at most every ``RecentHoursRules/maxAge`` per key: a change reaches
  /// intake within that, and dispatch at once.
  private func applyRecipientHours(
    to request: inout CallRequest, apiKey: String, now clock: Date
  ) async throws(SwitchboardError) {
    let rules: RecipientHoursRules?
    if let cached = hoursRules.lookup(apiKey, now: clock) {
      rules = cached
    } else {
      rules = try await Self.mapped { try await store.recipientHoursRules(apiKey: apiKey) }
      hoursRules.remember(apiKey, rules, now: clock)
    }
    guard let policy = rules?.policy(agentID: request.agentID) else { return }
    let decision = policy.decide(
      phone: request.customerPhone, recipientTimezone: request.recipientTimezone, at: request.scheduledFor ?? clock)
    switch decision {
    case .inside: return
    case .unknownZone:
      Telemetry.complianceBlocked(reason: .unknownTimezone)
      throw .recipientTimezoneUnknown
    case .outside(let opening):
      guard request.scheduledFor == nil else { return }
      Telemetry.complianceBlocked(reason: .outsideRecipientHours)
      guard policy.outsideHours == .defer, let opening else { throw .outsideCallingHours(nextAllowedAt: opening) }
      request.scheduledFor = opening
      request.blockedReason = .outsideRecipientHours
    }
  }

  public func makeCall(_ input: MakeCallInput, caller: Caller) async throws(SwitchboardError) -> AcceptedCall {
    let clock = now()
    var request = try CallRequest.validate(input, now: clock)
    try await applyRecipientHours(to: &request, apiKey: caller.apiKey, now: clock)
    let outcome = try await Self.mapped {
      try await store.accept(
        request, traceID: .v7(now: clock), newConversationID: .v7(now: clock), apiKey: caller.apiKey)
    }
    switch outcome {
    case .invalidAPIKey:
      recentKeys.forget(caller.apiKey)
      throw .invalidAPIKey
    case .accepted(let call):
      Telemetry.callAccepted(status: call.receipt.status)
      return call
    case .duplicate(let original): throw .duplicate(original)
    case .agentNotFound: throw .agentNotFound
    case .agentHasNoPhone: throw .agentHasNoPhone
    case .conversationNotFound: throw .conversationNotFound
    case .rateLimited(let status): throw .rateLimited(status)
    case .concurrencyLimited(let current, let max): throw .concurrencyLimited(current: current, max: max)
    case .suppressed:
      Telemetry.complianceBlocked(reason: .suppressed)
      throw .numberSuppressed
    case .contactLimited(let next):
      Telemetry.complianceBlocked(reason: .contactLimit)
      throw .contactLimited(nextAllowedAt: next)
    }
  }

  public func call(traceID: String, tenant: Tenant) async throws(SwitchboardError) -> CallAttempt {
    guard let id = UUID(uuidString: traceID) else { throw .callNotFound }
    let attempt = try await Self.mapped { try await store.call(traceID: id, tenantID: tenant.id) }
    guard let attempt else { throw .callNotFound }
    return attempt
  }

  /// Cancels an attempt that is `scheduled` or `initiated`; a dispatched one is a conflict.
  public func cancelCall(traceID: String, tenant: Tenant) async throws(SwitchboardError) -> CallAttempt {
    guard let id = UUID(uuidString: traceID) else { throw .callNotFound }
    let outcome = try await Self.mapped { try await store.cancelCall(traceID: id, tenantID: tenant.id) }
    switch outcome {
    case .canceled(let attempt): return attempt
    case .notFound: throw .callNotFound
    case .notCancelable(let attempt):
      throw SwitchboardError(.conflict, "call is \(attempt.status.rawValue) and can no longer be canceled")
    }
  }

  public func conversation(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> ConversationChain {
    guard let reference = ConversationReference(id) else { throw .conversationNotFound }
    let chain = try await Self.mapped { try await store.conversation(reference, tenantID: tenant.id) }
    guard let chain else { throw .conversationNotFound }
    return chain
  }

  /// Attempt n of a chain named `<id>_<n>`, or the chain's latest attempt when the name has no `_<n>`.
  public func conversationAttempt(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> CallAttempt {
    guard let reference = ConversationReference(id),
      let attempt = try await conversation(id, tenant: tenant).attempt(reference)
    else { throw .conversationNotFound }
    return attempt
  }

  /// Where the recording of attempt n (`<id>_<n>`), or of the chain's latest attempt, is.
  public func recordingURL(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> String {
    guard let url = try await conversationAttempt(id, tenant: tenant).recordingURL else { throw .recordingNotFound }
    return url
  }

  /// Every attempt of the chain, then each attempt again whenever it changes (see
  /// ``ConversationWatchers``), until the caller stops reading.
  public func watchConversation(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> AsyncStream<CallAttempt>
  {
    let chain = try await conversation(id, tenant: tenant)
    return watchers.watch(chain.conversationID, tenant: tenant)
  }

  /// A page of chains, newest first, by `offset` or by the `cursor` of the page before.
  public func conversations(
    _ filter: ConversationFilter, paging: ConversationPaging, tenant: Tenant
  ) async throws(SwitchboardError) -> ConversationPage {
    let filter = try filter.validated()
    return try await Self.mapped { try await store.conversations(tenantID: tenant.id, filter: filter, paging: paging) }
  }

  /// Records a dialer's or voice runtime's report. A repeat of an `event_id` and a report about a
  /// finished attempt change nothing; a report that would move the attempt backwards is a conflict.
  public func reportEvent(
    traceID: String, _ input: CallEventInput, tenant: Tenant
  ) async throws(SwitchboardError)
    -> (attempt: CallAttempt, duplicate: Bool)
  {
    guard let id = UUID(uuidString: traceID) else { throw .callNotFound }
    let event = try CallEvent.validate(input)
    let outcome = try await Self.mapped { try await store.recordEvent(event, traceID: id, tenantID: tenant.id) }
    switch outcome {
    case .recorded(let attempt): return (attempt, false)
    case .duplicate(let attempt), .ignored(let attempt): return (attempt, true)
    case .notFound: throw .callNotFound
    case .invalidTransition(let attempt):
      throw SwitchboardError(
        .conflict, "call is \(attempt.status.rawValue) and cannot move to \(event.status.rawValue)")
    }
  }

  /// Records a report from inside the service (the simulated dialer, a failed dial), for a tenant
  /// known by id.
  public func recordInternally(
    _ input: CallEventInput, traceID: UUID, tenantID: Int64
  ) async throws(SwitchboardError)
    -> EventOutcome
  {
    let event = try CallEvent.validate(input)
    return try await Self.mapped { try await store.recordEvent(event, traceID: traceID, tenantID: tenantID) }
  }

  /// Runs a store call, letting ``SwitchboardError`` through and turning anything else into an
  /// internal error that keeps its cause for the logs.
  static func mapped<T>(_ body: () async throws -> T) async throws(SwitchboardError) -> T {
    do {
      return try await body()
    } catch let error as SwitchboardError {
      throw error
    } catch {
      throw .internalError(cause: error)
    }
  }
}

/// API keys: `sk_` and 32 random letters and digits. Only their SHA-256 is stored.
public enum APIKey {
  public static let prefix = "sk_"
  static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

  /// A new random key.
  public static func generate() -> String {
    var generator = SystemRandomNumberGenerator()
    return prefix + String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
  }

  /// The key of `Bearer sk_…`, or `nil` when the value is missing or not shaped like a key.
  /// Read byte by byte: it runs on every call, and splitting and trimming with Foundation cost
  /// more than the rest of authentication.
  public static func fromAuthorization(_ authorization: String?) -> String? {
    guard let authorization else { return nil }
    let bytes = Array(authorization.utf8)
    let scheme = Array("bearer".utf8)
    func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    func isLetterOrDigit(_ byte: UInt8) -> Bool {
      (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
    }
    var start = 0
    while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
    guard bytes.count - start > scheme.count,
      zip(bytes[start..<start + scheme.count], scheme).allSatisfy({ $0 | 0x20 == $1 }),
      bytes[start + scheme.count] == UInt8(ascii: " ")
    else { return nil }
    var keyStart = start + scheme.count
    var keyEnd = bytes.count
    while keyStart < keyEnd, isSpace(bytes[keyStart]) { keyStart += 1 }
    while keyEnd > keyStart, isSpace(bytes[keyEnd - 1]) { keyEnd -= 1 }
    let key = bytes[keyStart..<keyEnd]
    guard key.count == prefix.utf8.count + 32, key.starts(with: prefix.utf8),
      key.dropFirst(prefix.utf8.count).allSatisfy({ isLetterOrDigit($0) })
    else { return nil }
    return String(decoding: key, as: UTF8.self)
  }
}

/// Who is calling MakeCall: the key it presented, seen valid lately and checked again when the
/// call is recorded.
public struct Caller: Sendable, CustomStringConvertible {
  let apiKey: String

  /// The key stays out of logs.
  public var description: String { "Caller(sk_…)" }
}

/// API keys seen valid lately, so that MakeCall need not look its key up on every call. Only
/// MakeCall uses them, and it checks the key again in the statement that records the call: a
/// revoked key never places a call; it may at most be told of a bad request body (400) before
/// it is told of the key (401), for up to ``maxAge``.
/// Each key's tenant's recipient-hours settings, as last read (`nil` inside: it has none), for
/// ``maxAge``.
final class RecentHoursRules: Sendable {
  static let maxAge: TimeInterval = 5
  static let capacity = 10_000

  private let seen = Mutex<[String: (rules: RecipientHoursRules?, at: Date)]>([:])

  /// The settings read less than ``maxAge`` ago; `nil` when they must be read (an outer `nil`).
  func lookup(_ key: String, now: Date) -> RecipientHoursRules?? {
    seen.withLock { seen in
      guard let entry = seen[key], now.timeIntervalSince(entry.at) < Self.maxAge, entry.at <= now else {
        return nil
      }
      return .some(entry.rules)
    }
  }

  func remember(_ key: String, _ rules: RecipientHoursRules?, now: Date) {
    seen.withLock { seen in
      if seen.count >= Self.capacity { seen.removeAll(keepingCapacity: true) }
      seen[key] = (rules, now)
    }
  }
}

final class RecentKeys: Sendable {
  static let maxAge: TimeInterval = 30
  static let capacity = 10_000

  /// When each key was last seen valid.
  private let seen = Mutex<[String: Date]>([:])

  func contains(_ key: String, now: Date) -> Bool {
    seen.withLock { seen in
      guard let time = seen[key] else { return false }
      guard now.timeIntervalSince(time) < Self.maxAge else {
        seen[key] = nil
        return false
      }
      return true
    }
  }

  func remember(_ key: String, now: Date) {
    seen.withLock { seen in
      if seen.count >= Self.capacity { seen.removeAll(keepingCapacity: true) }
      seen[key] = now
    }
  }

  func forget(_ key: String) {
    _ = seen.withLock { $0.removeValue(forKey: key) }
  }
}
