import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

extension PostgresCallStore {
  public func recordEvent(_ event: CallEvent, traceID: UUID, tenantID: Int64) async throws -> EventOutcome {
    let (outcome, suppressedChains) = try await recordEventWrite(event, traceID: traceID, tenantID: tenantID)
    if case .recorded(let attempt) = outcome { chainChanges?.post(chains: [attempt.conversationID]) }
    chainChanges?.post(chains: suppressedChains)
    return outcome
  }

  private func recordEventWrite(
    _ event: CallEvent, traceID: UUID, tenantID: Int64
  ) async throws -> (EventOutcome, [UUID]) {
    // Marks this request's event row: concurrent replays of one event_id each have their own.
    let requestID = UUID()
    return try await database.write { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        var recorder = EventRecorder(
          connection: connection, logger: logger, tenantID: tenantID, traceID: traceID, requestID: requestID)
        let outcome = try await recorder.record(event)
        return (outcome, recorder.suppressedChains)
      }
    } readingBack: { connection, logger in
      // Every event is logged under its id in the transaction that applies it, marked with the
      // request that wrote it: another request's row (a concurrent replay) makes this one a
      // duplicate.
      let seen = try await connection.query(
        """
        SELECT request_id IS NOT DISTINCT FROM \(requestID) FROM call_events
        WHERE tenant_id = \(tenantID) AND trace_id = \(traceID) AND event_id = \(event.eventID)
        """, logger: logger)
      for try await own in seen.decode(Bool.self) {
        return try await Self.attempt(traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
          .map { (own ? EventOutcome.recorded($0) : .duplicate($0), []) }
      }
      return nil
    } unknown: { cause in
      .outcomeUnknown(traceID: traceID, eventID: event.eventID, cause: cause)
    }
  }
}

/// One event's transaction: the attempt row is locked first, so reports about one attempt take
/// turns and a repeated `event_id` is seen as such.
struct EventRecorder {
  let connection: PostgresConnection
  let logger: Logger
  let tenantID: Int64
  let traceID: UUID
  /// Marks the event row this request writes.
  let requestID: UUID
  /// Chains whose waiting attempts an opt-out ended.
  var suppressedChains: [UUID] = []

  init(connection: PostgresConnection, logger: Logger, tenantID: Int64, traceID: UUID, requestID: UUID) {
    self.connection = connection
    self.logger = logger
    self.tenantID = tenantID
    self.traceID = traceID
    self.requestID = requestID
  }

  mutating func record(_ event: CallEvent) async throws -> EventOutcome {
    guard let current = try await lockAttempt(outcome: event.status.isTerminal) else { return .notFound }
    let transition = CallLifecycle.transition(
      from: current.status, reported: event.status, onlyIfStatus: event.onlyIfStatus)
    if transition == .stale { return .ignored(try await attempt()) }
    let seen = try await connection.query(
      """
      SELECT 1 FROM call_events WHERE tenant_id = \(tenantID) AND trace_id = \(traceID) AND event_id = \(event.eventID)
      """, logger: logger)
    for try await _ in seen { return .duplicate(try await attempt()) }

    let advance: CallLifecycle.Advance?
    switch transition {
    case .stale, .refused: return .invalidTransition(try await attempt())
    case .afterEnd:
      try await insert(event)
      try await optOut(event, current)
      return .ignored(try await attempt())
    case .restated, .amends: advance = nil
    case .advances(let move): advance = move
    }

    try await insert(event)
    if advance != nil || event.carriesRecord {
      // The move, if any, and what the report says of the call: a transcript so far, or (after
      // the end, restating the final status) the recording that comes after the call.
      try await connection.query(
        AttemptTransitions.report(event, advance: advance, traceID: traceID, tenantID: tenantID), logger: logger)
    }
    if event.collectedData != nil || event.stageID != nil {
      // What the report collected joins the chain's state, as a request's context would.
      var context: [String: JSONValue] = [:]
      if let data = event.collectedData { context["collected_data"] = .object(data) }
      if let stage = event.stageID { context["retry_stage_id"] = .string(stage) }
      try await connection.query(
        """
        SELECT 1 FROM switchboard_thread_chain(
          \(tenantID), \(current.conversationID), \(JSONValue.object(context).encoded())::jsonb, false)
        """, logger: logger)
    }
    if let advance, advance.finishes {
      let plan = CallLifecycle.retryPlan(
        after: advance.status, attemptNumber: current.attemptNumber, isLatestInChain: current.isLatest,
        policy: current.policy)
      let retry = try await scheduleRetry(plan, attemptNumber: current.attemptNumber)
      // After the retry is written, so that the opt-out ends it with the number's other attempts.
      try await optOut(event, current)
      let finished = try await attempt()
      try await OutboxWriter(connection: connection, logger: logger).enqueue(
        finished, tenantID: tenantID,
        retry: event.optOut ? .final(attemptNumber: current.attemptNumber, maxAttempts: plan.maxAttempts) : retry,
        webhooks: current.webhooks, optOut: event.optOut)
      return .recorded(finished)
    }
    try await optOut(event, current)
    return .recorded(try await attempt())
  }

  /// The runtime heard "stop calling": the number is suppressed for the tenant (source opt_out,
  /// this attempt), and every waiting attempt to it ends `suppressed`, in this transaction.
  private mutating func optOut(_ event: CallEvent, _ current: Current) async throws {
    guard event.optOut else { return }
    let entry: JSONValue = [
      [
        "phone_number": .string(current.customerPhone), "agent_id": 0, "reason": "opt_out", "source": "opt_out",
        "trace_id": .string(traceID.lowercased),
      ]
    ]
    suppressedChains = try await PostgresCompliance.suppress(
      entry.encoded(), tenantID: tenantID, on: connection, logger: logger)
    logger.info(
      "opt-out: number suppressed",
      metadata: [
        "tenant_id": "\(tenantID)", "trace_id": "\(traceID.lowercased)",
        "phone": "\(Suppression.masked(current.customerPhone))", "ended_attempts": "\(suppressedChains.count)",
      ])
  }

  struct Current {
    var status: CallStatus
    var attemptNumber: Int
    var conversationID: UUID
    var isLatest: Bool
    var policy: RetryPolicy?
    var webhooks: AgentWebhooks?
    var customerPhone: String
  }

  /// The attempt, locked; with its agent's webhook targets only for a report that may end it
  /// (progress reports, most of them, need none).
  private func lockAttempt(outcome: Bool) async throws -> Current? {
    let rows = try await connection.query(
      """
      SELECT a.status, a.attempt_number, a.conversation_id, a.attempt_number = c.attempt_count,
        g.retry_policy::text, g.agent_id, g.phone_number, a.customer_phone,
        CASE WHEN \(outcome) THEN \(unescaped: AgentWebhooks.targetsColumn(tenantID: "g.tenant_id", agentID: "g.agent_id")) END
      FROM call_attempts a
      JOIN conversations c ON c.tenant_id = a.tenant_id AND c.conversation_id = a.conversation_id
      LEFT JOIN agents g ON g.tenant_id = a.tenant_id AND g.agent_id = a.agent_id
      WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID)
      FOR UPDATE OF a
      """, logger: logger)
    for try await row in rows {
      let (status, number, conversation, latest, policy, agent, phone, customerPhone, targets) = try row.decode(
        (String, Int, UUID, Bool, String?, Int64?, String?, String, String?).self)
      return Current(
        status: try CallStatus(stored: status), attemptNumber: number, conversationID: conversation,
        isLatest: latest, policy: try policy.map { try RetryPolicy(json: JSONValue.decode($0)) },
        webhooks: try agent.map { try AgentWebhooks(agentID: $0, phone: phone, targetsJSON: targets) },
        customerPhone: customerPhone)
    }
    return nil
  }

  private func insert(_ event: CallEvent) async throws {
    try await connection.query(
      """
      INSERT INTO call_events (tenant_id, trace_id, event_id, status, collected_data, stage_id, results,
        duration_seconds, failure_reason, transcript, recording_url, answered_by, failure_type, request_id)
      VALUES (\(tenantID), \(traceID), \(event.eventID), \(event.status.rawValue),
        \(event.collectedData.map { JSONValue.object($0).encoded() })::jsonb, \(event.stageID),
        \(event.results.map { JSONValue.object($0).encoded() })::jsonb, \(event.durationSeconds), \(event.failureReason),
        \(event.transcriptJSON)::jsonb, \(event.recordingURL), \(event.answeredBy?.rawValue),
        \(event.failureType?.rawValue), \(requestID))
      """, logger: logger)
  }

  /// Appends the next attempt when the plan has one; the new attempt is scheduled and its
  /// effective context is the chain's threaded state.
  private func scheduleRetry(_ plan: CallLifecycle.RetryPlan, attemptNumber: Int) async throws -> RetryStatus {
    guard let delay = plan.delaySeconds else {
      return RetryStatus(
        attemptNumber: attemptNumber, maxAttempts: plan.maxAttempts, isFinalAttempt: plan.isFinalAttempt,
        nextRetryAt: nil)
    }
    // A canceled batch makes no retries. Its row is read under a key-share lock, which only the
    // cancel's FOR UPDATE conflicts with (admissions' and other outcomes' locks do not): a cancel
    // that came first is seen here, and one that comes after waits for this transaction and
    // then ends the retry with the batch's other waiting attempts.
    let batch = try await connection.query(
      """
      SELECT b.status FROM call_attempts a JOIN batches b ON b.tenant_id = a.tenant_id AND b.batch_id = a.batch_id
      WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID)
      FOR KEY SHARE OF b
      """, logger: logger)
    for try await status in batch.decode(String.self) where status == BatchStatus.canceled.rawValue {
      return .final(attemptNumber: attemptNumber, maxAttempts: plan.maxAttempts)
    }
    // The retry is the system's own call: no idempotency key, and no per-number or concurrency
    // limit now (a scheduled attempt meets them at dispatch). It joins the chain as its next
    // attempt, in its batch if it has one (paced, paused and counted with it); its context is the
    // chain's threaded state.
    let rows = try await connection.query(
      """
      SELECT \(unescaped: Appended.columns(of: "r"))
      FROM call_attempts a,
        LATERAL switchboard_append_attempt(
          p_tenant_id => a.tenant_id, p_agent_id => a.agent_id, p_trace_id => switchboard_uuid_v7(),
          p_new_conversation_id => NULL, p_conversation_id => a.conversation_id, p_conversation_attempt => NULL,
          p_customer_phone => a.customer_phone, p_parameters => a.parameters, p_metadata => a.metadata,
          p_idempotency_key => NULL, p_idempotency_ttl_seconds => 0, p_retry_context => NULL,
          p_scheduled_for => now() + make_interval(secs => \(delay)), p_batch_id => a.batch_id, p_traceparent => NULL,
          p_rate_limit => 0, p_rate_period_seconds => 0, p_rate_burst => 0, p_max_concurrent_calls => 0,
          p_check_compliance => false, p_recipient_timezone => a.recipient_timezone) r
      WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID)
      """, logger: logger)
    for try await row in rows {
      let appended = try Appended(row.makeRandomAccess())
      if appended.outcome == .accepted {
        return RetryStatus(
          attemptNumber: attemptNumber, maxAttempts: plan.maxAttempts, isFinalAttempt: false,
          nextRetryAt: appended.scheduledFor)
      }
    }
    // The agent lost its phone number since: the chain ends here.
    return .final(attemptNumber: attemptNumber, maxAttempts: plan.maxAttempts)
  }

  private func attempt() async throws -> CallAttempt {
    guard
      let attempt = try await PostgresCallStore.attempt(
        traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
    else { throw SwitchboardError.callNotFound }
    return attempt
  }
}

extension CallEvent {
  /// Whether the report says anything of the call's record beside its status.
  var carriesRecord: Bool {
    results != nil || durationSeconds != nil || failureReason != nil || transcript != nil || recordingURL != nil
      || answeredBy != nil || failureType != nil
  }

  /// The transcript as stored.
  var transcriptJSON: String? { transcript.map { JSONValue.array($0.map(\.json)).encoded() } }
}
