import Foundation

// The JSON shapes of the call contract, shared by the gateway and storage.

extension RetryContext {
  /// `{"collected_data", "retry_initial_message", "retry_language", "retry_stage_id"}`,
  /// without the absent fields.
  public var json: JSONValue {
    var members: [String: JSONValue] = [:]
    if let collectedData { members["collected_data"] = .object(collectedData) }
    if let initialMessage { members["retry_initial_message"] = .string(initialMessage) }
    if let language { members["retry_language"] = .string(language) }
    if let stageID { members["retry_stage_id"] = .string(stageID) }
    return .object(members)
  }

  /// Reads the object a `retry_context` field holds; the message names the first bad field.
  public init(json: JSONValue, field: String = "retry_context") throws(SwitchboardError) {
    guard let members = json.objectValue else { throw .invalid("\(field) must be an object") }
    func text(_ key: String) throws(SwitchboardError) -> String? {
      switch members[key] {
      case nil, .null?: return nil
      case .string(let value)?: return value
      case let other?: throw .invalid("\(field).\(key) must be a string, not \(other.typeName)")
      }
    }
    var collected: [String: JSONValue]?
    switch members["collected_data"] {
    case nil, .null?: collected = nil
    case .object(let object)?: collected = object
    case let other?: throw .invalid("\(field).collected_data must be an object, not \(other.typeName)")
    }
    self.init(
      collectedData: collected, initialMessage: try text("retry_initial_message"),
      language: try text("retry_language"), stageID: try text("retry_stage_id"))
  }
}

extension CallParameter {
  public var json: JSONValue { .object(["name": .string(name), "value": .string(value)]) }
}

extension ThreadedState {
  public var json: JSONValue {
    var members: [String: JSONValue] = ["collected_data": .object(collectedData)]
    if let language { members["language"] = .string(language) }
    if let stageID { members["stage_id"] = .string(stageID) }
    return .object(members)
  }
}

extension JSONValue {
  /// Compact JSON text, object keys sorted. Written by hand: JSONEncoder was a measurable share
  /// of each call's CPU, and this enum needs none of its generality.
  public func encoded() -> String {
    var output: [UInt8] = []
    output.reserveCapacity(256)
    write(to: &output)
    return String(decoding: output, as: UTF8.self)
  }

  private func write(to output: inout [UInt8]) {
    switch self {
    case .null: output.append(contentsOf: "null".utf8)
    case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
    case .integer(let number): output.append(contentsOf: String(number).utf8)
    case .double(let number):
      if number.isFinite {
        output.append(contentsOf: scalarText?.utf8 ?? "null".utf8)
      } else {
        output.append(contentsOf: "null".utf8)
      }
    case .string(let text): Self.writeString(text, to: &output)
    case .array(let items):
      output.append(UInt8(ascii: "["))
      for (index, item) in items.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        item.write(to: &output)
      }
      output.append(UInt8(ascii: "]"))
    case .object(let members):
      output.append(UInt8(ascii: "{"))
      for (index, key) in members.keys.sorted().enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        Self.writeString(key, to: &output)
        output.append(UInt8(ascii: ":"))
        members[key]?.write(to: &output)
      }
      output.append(UInt8(ascii: "}"))
    }
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  private static func writeString(_ text: String, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
      case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
      case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
      case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
      case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
      case 0..<0x20:
        output.append(contentsOf: "\\u00".utf8)
        output.append(hexDigits[Int(byte >> 4)])
        output.append(hexDigits[Int(byte & 0x0F)])
      default: output.append(byte)
      }
    }
    output.append(UInt8(ascii: "\""))
  }

  /// Parses JSON text.
  public static func decode(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
  }
}

extension CallReceipt {
  public var json: JSONValue {
    .object([
      "agent_id": .integer(agentID),
      "conversation_id": .string(conversationID.lowercased),
      "scheduled_for": scheduledFor.map { .string(Timestamp.format($0)) } ?? .null,
      "status": .string(status.rawValue),
      "trace_id": .string(traceID.lowercased),
      "attempt_number": .integer(Int64(attemptNumber)),
    ])
  }
}

extension CallAttempt {
  public var json: JSONValue {
    func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
    func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    return .object([
      "trace_id": .string(traceID.lowercased),
      "conversation_id": .string(conversationID.lowercased),
      "attempt_number": .integer(Int64(attemptNumber)),
      "agent_id": .integer(agentID),
      "status": .string(status.rawValue),
      "customer_phone": .string(customerPhone),
      "parameters": .array(parameters.map(\.json)),
      "metadata": text(metadata),
      "idempotency_key": text(idempotencyKey),
      "retry_context": retryContext?.json ?? .null,
      "effective_retry_context": effectiveRetryContext.json,
      "scheduled_for": time(scheduledFor),
      "created_at": time(createdAt),
      "updated_at": time(updatedAt),
      "dispatched_at": time(dispatchedAt),
      "ended_at": time(endedAt),
      "failure_reason": text(failureReason),
      "results": results.map(JSONValue.object) ?? .null,
      "duration_seconds": durationSeconds.map(JSONValue.double) ?? .null,
      "batch_id": batchID.map(JSONValue.integer) ?? .null,
      "transcript": transcript.map { .array($0.map(\.json)) } ?? .null,
      "recording_url": text(recordingURL),
      "answered_by": text(answeredBy?.rawValue),
      "failure_type": text(failureType?.rawValue),
      // The seed system's names for what the fields above also say.
      "contact_number": .string(customerPhone),
      "start_timestamp": startTimestamp.map(JSONValue.integer) ?? .null,
      "end_timestamp": endTimestamp.map(JSONValue.integer) ?? .null,
    ])
  }

  /// The keys of ``json`` that repeat another field under the seed system's name.
  public static let seedFields: Set<String> = ["contact_number", "start_timestamp", "end_timestamp"]

  /// When the call started (the dialer took it), in milliseconds since 1970: the seed system's
  /// `start_timestamp`.
  public var startTimestamp: Int64? { dispatchedAt.map(Self.epochMilliseconds) }
  /// When the call ended, in milliseconds since 1970.
  public var endTimestamp: Int64? { endedAt.map(Self.epochMilliseconds) }

  static func epochMilliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}

extension ConversationChain {
  public func json(withAttempts: Bool) -> JSONValue {
    var members: [String: JSONValue] = [
      "conversation_id": .string(conversationID.lowercased),
      "agent_id": .integer(agentID),
      "customer_phone": .string(customerPhone),
      "attempt_count": .integer(Int64(attemptCount)),
      "state": state.json,
      "latest_status": .string(latestStatus.rawValue),
      "created_at": .string(Timestamp.format(createdAt)),
      "updated_at": .string(Timestamp.format(updatedAt)),
      "batch_id": batchID.map(JSONValue.integer) ?? .null,
    ]
    if withAttempts { members["attempts"] = .array(attempts.map(\.json)) }
    if case .object(let attempt)? = latest?.json {
      for key in Self.latestFields { members[key] = attempt[key] }
    }
    return .object(members)
  }

  /// What a chain shows of its latest attempt, as the seed system's conversation does.
  public static let latestFields = [
    "contact_number", "start_timestamp", "end_timestamp", "duration_seconds", "failure_reason", "results",
    "transcript", "trace_id", "recording_url",
  ]
}

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

extension Batch {
  /// The seed system's batch (`id` an integer), and this service's options beside it.
  public var json: JSONValue {
    func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
    return .object([
      "id": .integer(id),
      "name": .string(name),
      "agent_id": .integer(agentID),
      "status": .string(status.rawValue),
      "total_recipients": .integer(Int64(totalRecipients)),
      "created_at": time(createdAt),
      "scheduled_for": time(scheduledFor),
      "max_concurrency": maxConcurrency.map { .integer(Int64($0)) } ?? .null,
      "completed_at": time(completedAt),
    ])
  }
}

extension BatchReceipt {
  /// The batch, with `total_rejected` and `rejected_rows` when a row was left out.
  public var json: JSONValue {
    guard totalRejected > 0, case .object(var members) = batch.json else { return batch.json }
    members["total_rejected"] = .integer(Int64(totalRejected))
    members["rejected_rows"] = .array(rejected.map(\.json))
    return .object(members)
  }
}

extension RejectedRecipient {
  public var json: JSONValue { ["line": .integer(Int64(line)), "message": .string(message)] }
}

extension BatchMetrics {
  /// The seed system's metrics, and this service's counts beside them.
  public var json: JSONValue {
    func count(_ value: Int) -> JSONValue { .integer(Int64(value)) }
    return .object([
      "avg_duration_seconds": .double(averageDurationSeconds ?? 0),
      "busy_count": count(busyCount),
      "completed_count": count(completedCount),
      "failed_count": count(failedCount),
      "in_progress_count": count(inProgressCount),
      "no_answer_count": count(noAnswerCount),
      "pending_retry_count": count(pendingRetryCount),
      "socket_failure_count": count(socketFailureCount),
      "success_count": count(successCount),
      "success_rate": .double(successRate),
      "total_processed": count(totalProcessed),
      "unreachable_count": count(unreachableCount),
      "canceled_count": count(canceledCount),
      "voicemail_count": count(voicemailCount),
      "waiting_count": count(waitingCount),
      "total_recipients": count(totalRecipients),
    ])
  }
}
