import Foundation
import SwitchboardCore

// The JSON shapes of the gateway's responses.

extension CallReceipt {
  var json: JSONValue {
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
  var json: JSONValue {
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
    ])
  }
}

extension ConversationChain {
  func json(withAttempts: Bool) -> JSONValue {
    var members: [String: JSONValue] = [
      "conversation_id": .string(conversationID.lowercased),
      "agent_id": .integer(agentID),
      "customer_phone": .string(customerPhone),
      "attempt_count": .integer(Int64(attemptCount)),
      "state": state.json,
      "latest_status": .string(latestStatus.rawValue),
      "created_at": .string(Timestamp.format(createdAt)),
      "updated_at": .string(Timestamp.format(updatedAt)),
    ]
    if withAttempts { members["attempts"] = .array(attempts.map(\.json)) }
    return .object(members)
  }
}
