import Foundation

/// One `{name, value}` call parameter passed into the agent.
public struct CallParameter: Sendable, Hashable {
  public var name: String
  public var value: String

  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }
}

/// What an earlier attempt learned, carried into the next one.
public struct RetryContext: Sendable, Hashable {
  public var collectedData: [String: JSONValue]?
  public var initialMessage: String?
  /// BCP 47 language tag.
  public var language: String?
  public var stageID: String?

  public init(
    collectedData: [String: JSONValue]? = nil, initialMessage: String? = nil, language: String? = nil,
    stageID: String? = nil
  ) {
    self.collectedData = collectedData
    self.initialMessage = initialMessage
    self.language = language
    self.stageID = stageID
  }

  public var isEmpty: Bool {
    collectedData == nil && initialMessage == nil && language == nil && stageID == nil
  }
}

/// A MakeCall request as a transport decoded it, before any rule is checked.
public struct MakeCallInput: Sendable {
  public var agentID: Int64?
  public var parameters: [CallParameter]?
  public var conversationID: String?
  public var idempotencyKey: String?
  public var metadata: String?
  public var retryContext: RetryContext?
  public var scheduledFor: Date?
  /// The caller's W3C `traceparent`, as sent (kept only when well formed).
  public var traceparent: String?
  /// The recipient's IANA zone, overriding the one the number's prefix gives.
  public var recipientTimezone: String?

  public init(
    agentID: Int64? = nil, parameters: [CallParameter]? = nil, conversationID: String? = nil,
    idempotencyKey: String? = nil, metadata: String? = nil, retryContext: RetryContext? = nil,
    scheduledFor: Date? = nil
  ) {
    self.agentID = agentID
    self.parameters = parameters
    self.conversationID = conversationID
    self.idempotencyKey = idempotencyKey
    self.metadata = metadata
    self.retryContext = retryContext
    self.scheduledFor = scheduledFor
  }

  /// Takes the key of the `Idempotency-Key` header (gRPC: `idempotency-key` metadata), if sent.
  /// One key, named once: two values, an empty one, or one that says otherwise than the body is
  /// a 400 rather than a guess at what the client meant.
  public mutating func adoptIdempotencyKeyHeader(_ values: [String]) throws(SwitchboardError) {
    guard let header = values.first else { return }
    guard values.count == 1 else { throw .invalid("Idempotency-Key header must be given once") }
    guard !header.isEmpty else { throw .invalid("Idempotency-Key header must not be empty") }
    if let body = idempotencyKey, !body.isEmpty, body != header {
      throw .invalid("idempotency_key and the Idempotency-Key header differ")
    }
    idempotencyKey = header
  }
}

/// A MakeCall request that satisfies every rule of the call contract.
public struct CallRequest: Sendable, Hashable {
  public var agentID: Int64
  public var parameters: [CallParameter]
  public var customerPhone: String
  public var conversation: ConversationReference?
  public var idempotencyKey: String?
  public var metadata: String?
  public var retryContext: RetryContext?
  public var scheduledFor: Date?
  public var traceparent: String?
  /// The recipient's IANA zone when the caller gave one (recipient hours use it).
  public var recipientTimezone: String?
  /// Set when intake deferred a call placed now to an opening (`scheduledFor`): why.
  public var blockedReason: BlockedReason?
}

/// The limits of the call contract (DESIGN §3).
public enum CallContract {
  public static let maxParameters = 100
  public static let maxParameterNameLength = 128
  public static let maxParameterValueLength = 4096
  public static let maxIdempotencyKeyLength = 255
  public static let maxMetadataBytes = 16 * 1024
  public static let maxRetryContextBytes = 64 * 1024
  public static let maxBodyBytes = 256 * 1024
  public static let scheduleSkewSeconds: TimeInterval = 60
  public static let maxScheduleAheadSeconds: TimeInterval = 30 * 24 * 3600
}

extension CallRequest {
  /// Checks every rule of the call contract; the first broken one is the error.
  /// - Parameter now: the clock `scheduled_for` is judged against.
  public static func validate(_ input: MakeCallInput, now: Date) throws(SwitchboardError) -> CallRequest {
    guard let agentID = input.agentID else { throw .invalid("agent_id is required") }
    guard agentID > 0 else { throw .invalid("agent_id must be a positive integer") }
    guard let parameters = input.parameters else { throw .invalid("parameters is required") }
    try checkParameters(parameters)
    guard let phone = parameters.first(where: { $0.name == "customer_phone" })?.value else {
      throw .invalid("customer_phone parameter is required")
    }
    guard PhoneNumber.isE164(phone) else { throw .invalid("customer_phone must be an E.164 phone number") }

    let idempotencyKey = try checkIdempotencyKey(input.idempotencyKey)
    if let metadata = input.metadata, metadata.utf8.count > CallContract.maxMetadataBytes {
      throw .invalid("metadata must be at most \(CallContract.maxMetadataBytes) bytes")
    }
    if input.metadata?.containsNUL == true { throw .invalid("metadata must not contain NUL characters") }
    let retryContext = try input.retryContext.flatMap(checkRetryContext)
    try checkSchedule(input.scheduledFor, now: now)
    let recipientTimezone = input.recipientTimezone.flatMap { $0.isEmpty ? nil : $0 }
    if let recipientTimezone, !RecipientHoursPolicy.isKnownZone(recipientTimezone) {
      throw .invalid("recipient_timezone must be an IANA time zone name such as Asia/Kolkata")
    }
    var conversation: ConversationReference?
    if let raw = input.conversationID, !raw.isEmpty {
      guard let reference = ConversationReference(raw) else { throw .conversationNotFound }
      conversation = reference
    }
    return CallRequest(
      agentID: agentID, parameters: parameters, customerPhone: phone, conversation: conversation,
      idempotencyKey: idempotencyKey, metadata: input.metadata, retryContext: retryContext,
      scheduledFor: input.scheduledFor, traceparent: TraceParent.valid(input.traceparent),
      recipientTimezone: recipientTimezone
    )
  }

  /// An idempotency key as sent: empty is none; at most 255 characters, no NUL.
  static func checkIdempotencyKey(_ key: String?) throws(SwitchboardError) -> String? {
    guard let key, !key.isEmpty else { return nil }
    if key.count > CallContract.maxIdempotencyKeyLength {
      throw .invalid("idempotency_key must be at most \(CallContract.maxIdempotencyKeyLength) characters")
    }
    if key.containsNUL { throw .invalid("idempotency_key must not contain NUL characters") }
    return key
  }

  /// `scheduled_for`: not in the past (a minute's skew allowed), within the next 30 days.
  static func checkSchedule(_ scheduledFor: Date?, now: Date) throws(SwitchboardError) {
    guard let scheduledFor else { return }
    if scheduledFor < now.addingTimeInterval(-CallContract.scheduleSkewSeconds) {
      throw .invalid("scheduled_for must be in the future")
    }
    if scheduledFor > now.addingTimeInterval(CallContract.maxScheduleAheadSeconds) {
      throw .invalid("scheduled_for must be within the next 30 days")
    }
  }

  private static func checkParameters(_ parameters: [CallParameter]) throws(SwitchboardError) {
    guard parameters.count <= CallContract.maxParameters else {
      throw .invalid("parameters must have at most \(CallContract.maxParameters) items")
    }
    var seen = Set<String>()
    for (index, parameter) in parameters.enumerated() {
      guard !parameter.name.isEmpty else { throw .invalid("parameters[\(index)].name is required") }
      guard parameter.name.count <= CallContract.maxParameterNameLength else {
        throw .invalid("parameters[\(index)].name must be at most \(CallContract.maxParameterNameLength) characters")
      }
      guard parameter.value.count <= CallContract.maxParameterValueLength else {
        throw .invalid(
          "parameters[\(index)].value must be at most \(CallContract.maxParameterValueLength) characters")
      }
      guard !parameter.name.containsNUL, !parameter.value.containsNUL else {
        throw .invalid("parameters[\(index)] must not contain NUL characters")
      }
      guard seen.insert(parameter.name).inserted else {
        throw .invalid("parameters[\(index)].name \"\(parameter.name)\" is a duplicate")
      }
    }
  }

  private static func checkRetryContext(_ context: RetryContext) throws(SwitchboardError) -> RetryContext? {
    if context.isEmpty { return nil }
    if let language = context.language, !LanguageTag.isValid(language) {
      throw .invalid("retry_context.retry_language must be a BCP 47 language tag")
    }
    if context.approximateSize > CallContract.maxRetryContextBytes {
      throw .invalid("retry_context must be at most \(CallContract.maxRetryContextBytes) bytes")
    }
    if context.containsNUL { throw .invalid("retry_context must not contain NUL characters") }
    if let data = context.collectedData, JSONValue.object(data).containsNonFiniteNumber {
      throw .invalid("retry_context.collected_data must hold only finite numbers")
    }
    return context
  }
}

extension RetryContext {
  /// The size of the context as JSON, within a few bytes; enough to enforce the 64 KiB cap
  /// without encoding it.
  var approximateSize: Int {
    var size = 0
    size += initialMessage?.utf8.count ?? 0
    size += language?.utf8.count ?? 0
    size += stageID?.utf8.count ?? 0
    if let collectedData { size += JSONValue.object(collectedData).approximateSize }
    return size
  }

  var containsNUL: Bool {
    [initialMessage, language, stageID].contains { $0?.containsNUL == true }
      || collectedData.map { JSONValue.object($0).containsNUL } == true
  }
}

// PostgreSQL text and jsonb cannot hold U+0000, so the contract refuses it in every string it
// stores rather than letting the database fail the call.
extension String {
  var containsNUL: Bool { utf8.contains(0) }
}

extension JSONValue {
  /// Whether a NUL character appears in any string or object key.
  var containsNUL: Bool {
    switch self {
    case .null, .bool, .integer, .double: false
    case .string(let text): text.containsNUL
    case .array(let items): items.contains { $0.containsNUL }
    case .object(let members): members.contains { $0.key.containsNUL || $0.value.containsNUL }
    }
  }

  /// Whether a number is NaN or infinite (gRPC's `Struct` can carry them; JSON and jsonb cannot).
  var containsNonFiniteNumber: Bool {
    switch self {
    case .null, .bool, .integer, .string: false
    case .double(let number): !number.isFinite
    case .array(let items): items.contains { $0.containsNonFiniteNumber }
    case .object(let members): members.values.contains { $0.containsNonFiniteNumber }
    }
  }

  var approximateSize: Int {
    switch self {
    case .null, .bool: 5
    case .integer, .double: 20
    case .string(let text): text.utf8.count + 2
    case .array(let items): items.reduce(2) { $0 + $1.approximateSize + 1 }
    case .object(let members): members.reduce(2) { $0 + $1.key.utf8.count + 4 + $1.value.approximateSize }
    }
  }
}

/// Phone numbers in E.164: `+` and 8 to 15 digits, the first not zero.
public enum PhoneNumber {
  public static func isE164(_ text: String) -> Bool {
    let utf8 = Array(text.utf8)
    guard utf8.count >= 9, utf8.count <= 16, utf8[0] == UInt8(ascii: "+") else { return false }
    guard utf8[1] != UInt8(ascii: "0") else { return false }
    return utf8.dropFirst().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
  }
}

/// BCP 47 tags in their common shape: a 2–8 letter language, then 1–8 letter-or-digit subtags.
public enum LanguageTag {
  public static func isValid(_ tag: String) -> Bool {
    let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
    guard let language = parts.first, (2...8).contains(language.count),
      language.allSatisfy({ $0.isASCII && $0.isLetter })
    else { return false }
    return parts.dropFirst().allSatisfy { part in
      (1...8).contains(part.count) && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
  }
}
