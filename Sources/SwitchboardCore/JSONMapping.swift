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
      "blocked_reason": text(blockedReason?.rawValue),
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
