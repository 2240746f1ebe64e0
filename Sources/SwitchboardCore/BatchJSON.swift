import Foundation

// The JSON shapes of batches, as the gateway answers them.

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
      "suppressed_count": count(suppressedCount),
      "deferred_contact_limit_count": count(deferredContactLimitCount),
      "deferred_outside_hours_count": count(deferredOutsideHoursCount),
      "waiting_count": count(waitingCount),
      "total_recipients": count(totalRecipients),
    ])
  }
}
