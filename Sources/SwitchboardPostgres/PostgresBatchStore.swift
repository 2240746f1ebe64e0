import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// Batch calls in PostgreSQL: a batch and all its recipients written in one statement
/// (`switchboard_create_batch`), every query scoped to one tenant.
public struct PostgresBatchStore: BatchStore {
  let database: Database
  let logger: Logger
  /// Where the chains a cancel ends are posted, for watchers on every replica.
  let chainChanges: Notifier?
  /// A 100,000-row batch takes seconds to write (about 5 on 2 cores), a cancel of it about one:
  /// they get this many times the database deadline (`--database-timeout`, 5 s by default), not
  /// a call's. Their lost answers are waited for that long.
  static let writeDeadlineFactor = 12
  static let cancelDeadlineFactor = 4
  var writeDeadline: Duration { database.timeout * Self.writeDeadlineFactor }
  /// How long a pause waits for attempts already admitted to reach the dialer.
  static let pauseSettleDeadline: Duration = .seconds(5)
  /// An upload's idempotency key names its batch this long, as a call's does
  /// (`--idempotency-hours`).
  let idempotencyRetentionSeconds: Int

  public init(
    database: Database, idempotencyRetentionSeconds: Int, logger: Logger, chainChanges: Notifier? = nil
  ) {
    self.database = database
    self.idempotencyRetentionSeconds = idempotencyRetentionSeconds
    self.logger = logger
    self.chainChanges = chainChanges
  }

  /// Writes the batch, a chain and a first attempt per call, or nothing: one transaction, the
  /// recipients in chunks of ``chunkSize`` (a 100,000-row batch as one JSON document cost the
  /// service some 400 MB of memory to build and send). Each chain starts from its request's
  /// context, as a single call's would.
  public func suppressed(among phones: [String], agentID: Int64, tenantID: Int64) async throws -> Set<String> {
    try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT DISTINCT s.phone_number FROM suppressions s
        WHERE s.tenant_id = \(tenantID) AND s.phone_number = ANY(\(phones)::text[]) AND s.agent_id IN (0, \(agentID))
          AND (s.expires_at IS NULL OR s.expires_at > now())
        """, logger: logger)
      var found: Set<String> = []
      for try await phone in rows.decode(String.self) { found.insert(phone) }
      return found
    }
  }

  public func create(_ batch: BatchCreation, tenantID: Int64) async throws -> BatchCreateOutcome {
    guard !batch.calls.isEmpty else { throw SwitchboardError.invalid("a batch needs at least one recipient") }
    let firstTrace = UUID.v7()
    let budget = writeDeadline
    return try await database.write(until: .now + budget) { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        try await Self.allow(budget, on: connection, logger: logger)
        let rows = try await connection.query(
          """
          SELECT outcome, batch_id FROM switchboard_create_batch(
            p_tenant_id => \(tenantID), p_agent_id => \(batch.agentID), p_name => \(batch.name),
            p_max_concurrency => \(batch.maxConcurrency)::integer, p_scheduled_for => \(batch.scheduledFor)::timestamptz,
            p_total_recipients => \(batch.calls.count)::integer, p_idempotency_key => \(batch.idempotencyKey)::text,
            p_idempotency_ttl_seconds => \(idempotencyRetentionSeconds)::integer)
          """, logger: logger)
        var decided: (outcome: String, id: Int64?)?
        for try await (outcome, id) in rows.decode((String, Int64?).self) { decided = (outcome, id) }
        guard let decided else { throw SwitchboardError.internalError() }
        switch decided.outcome {
        case "agent_not_found": return .agentNotFound
        case "agent_has_no_phone": return .agentHasNoPhone
        default: break
        }
        guard let id = decided.id else { throw SwitchboardError.internalError() }
        if decided.outcome == "created" {
          var start = 0
          while start < batch.calls.count {
            let end = min(start + Self.chunkSize, batch.calls.count)
            let chunk = Self.recipientsJSON(batch.calls[start..<end], firstTrace: start == 0 ? firstTrace : nil)
            try await connection.query(
              """
              SELECT switchboard_add_batch_recipients(
                p_tenant_id => \(tenantID), p_batch_id => \(id), p_recipients => \(chunk)::jsonb)
              """, logger: logger)
            start = end
          }
        }
        guard let found = try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger) else {
          throw SwitchboardError.internalError()
        }
        return decided.outcome == "duplicate" ? .duplicate(found) : .created(found)
      }
    } readingBack: { connection, logger -> BatchCreateOutcome? in
      // The first recipient's attempt names the batch the lost answer was about.
      let rows = try await connection.query(
        "SELECT batch_id FROM call_attempts WHERE tenant_id = \(tenantID) AND trace_id = \(firstTrace)", logger: logger)
      var written: Int64?
      for try await id in rows.decode(Int64?.self) { written = id }
      guard let written else { return nil }
      return try await Self.batch(written, tenantID: tenantID, on: connection, logger: logger).map { .created($0) }
    } unknown: { cause in
      .outcomeUnknown(traceID: firstTrace, cause: cause)
    }
  }

  /// Lets this transaction's statements run for `budget` (the connection's own limit is the
  /// database deadline, shorter than a batch write's).
  private static func allow(_ budget: Duration, on connection: PostgresConnection, logger: Logger) async throws {
    let seconds = max(1, Int(budget.components.seconds))
    try await connection.query("SET LOCAL statement_timeout = '\(unescaped: String(seconds))s'", logger: logger)
  }

  /// Recipients per statement of a batch write.
  static let chunkSize = 5_000

  /// The recipients as `switchboard_add_batch_recipients` reads them, with their ids; the first
  /// attempt's trace id is `firstTrace` when given.
  static func recipientsJSON(_ calls: ArraySlice<CallRequest>, firstTrace: UUID?) -> String {
    JSONValue.array(
      calls.indices.map { index in
        let call = calls[index]
        let trace = index == calls.startIndex ? firstTrace ?? UUID.v7() : UUID.v7()
        var members: [String: JSONValue] = [
          "trace_id": .string(trace.uuidString), "conversation_id": .string(UUID.v7().uuidString),
          "customer_phone": .string(call.customerPhone), "parameters": .array(call.parameters.map(\.json)),
        ]
        if let metadata = call.metadata { members["metadata"] = .string(metadata) }
        if let context = call.retryContext { members["retry_context"] = context.json }
        return .object(members)
      }
    ).encoded()
  }

  /// One batch of one tenant.
  public func batch(_ id: Int64, tenantID: Int64) async throws -> Batch? {
    try await database.run { connection, logger in
      try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger)
    }
  }

  static let columns =
    "batch_id, agent_id, name, status, total_recipients, max_concurrency, scheduled_for, created_at, completed_at"

  static func batch(
    _ id: Int64, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws
    -> Batch?
  {
    let rows = try await connection.query(
      "SELECT \(unescaped: columns) FROM batches WHERE tenant_id = \(tenantID) AND batch_id = \(id)", logger: logger)
    return try await decode(rows).first
  }

  static func decode(_ rows: PostgresRowSequence) async throws -> [Batch] {
    var batches: [Batch] = []
    for try await (id, agent, name, status, total, cap, scheduled, created, completed) in rows.decode(
      (Int64, Int64, String, String, Int, Int?, Date?, Date, Date?).self)
    {
      guard let status = BatchStatus(rawValue: status) else {
        throw UnknownStoredValue(column: "batches.status", value: status)
      }
      batches.append(
        Batch(
          id: id, agentID: agent, name: name, status: status, totalRecipients: total, maxConcurrency: cap,
          scheduledFor: scheduled, createdAt: created, completedAt: completed))
    }
    return batches
  }

  public func batches(tenantID: Int64, agentID: Int64?, limit: Int, offset: Int) async throws -> BatchPage {
    try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT \(unescaped: Self.columns) FROM batches
        WHERE tenant_id = \(tenantID) AND (\(agentID)::bigint IS NULL OR agent_id = \(agentID))
        ORDER BY batch_id DESC LIMIT \(limit + 1) OFFSET \(offset)
        """, logger: logger)
      var batches = try await Self.decode(rows)
      let hasMore = batches.count > limit
      if hasMore { batches.removeLast() }
      let counts = try await connection.query(
        """
        SELECT count(*) FROM batches
        WHERE tenant_id = \(tenantID) AND (\(agentID)::bigint IS NULL OR agent_id = \(agentID))
        """, logger: logger)
      var total = 0
      for try await count in counts.decode(Int.self) { total = count }
      return BatchPage(batches: batches, hasMore: hasMore, total: total)
    }
  }

  public func metrics(_ id: Int64, tenantID: Int64) async throws -> BatchMetrics? {
    try await database.run { connection, logger in
      try await Self.metrics(id, tenantID: tenantID, on: connection, logger: logger)
    }
  }

  /// From `batch_progress`, the analysts' view: the route and the analysts count alike.
  static func metrics(
    _ id: Int64, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> BatchMetrics? {
    let rows = try await connection.query(
      """
      SELECT total_recipients, waiting_count, pending_retry_count, in_progress_count, completed_count,
        no_answer_count, busy_count, failed_count, unreachable_count, canceled_count, avg_duration_seconds::float8,
        voicemail_count, socket_failure_count, suppressed_count, deferred_contact_limit_count,
        deferred_outside_hours_count
      FROM batch_progress WHERE tenant_id = \(tenantID) AND batch_id = \(id)
      """, logger: logger)
    for try await row in rows {
      let (total, waiting, retry, active, completed, noAnswer, busy, failed, unreachable, canceled) = try row.decode(
        (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int).self)
      var metrics = BatchMetrics()
      metrics.totalRecipients = total
      metrics.waitingCount = waiting
      metrics.pendingRetryCount = retry
      metrics.inProgressCount = active
      metrics.completedCount = completed
      metrics.noAnswerCount = noAnswer
      metrics.busyCount = busy
      metrics.failedCount = failed
      metrics.unreachableCount = unreachable
      metrics.canceledCount = canceled
      let columns = row.makeRandomAccess()
      metrics.averageDurationSeconds = try columns[10].decode(Double?.self)
      metrics.voicemailCount = try columns[11].decode(Int.self)
      metrics.socketFailureCount = try columns[12].decode(Int.self)
      metrics.suppressedCount = try columns[13].decode(Int.self)
      metrics.deferredContactLimitCount = try columns[14].decode(Int.self)
      metrics.deferredOutsideHoursCount = try columns[15].decode(Int.self)
      return metrics
    }
    return nil
  }

  /// A write: its answer, when lost, is read back from the batch's status. A cancel ends every
  /// waiting attempt of the batch in one statement, so it gets a longer deadline.
  public func control(_ action: BatchAction, batch id: Int64, tenantID: Int64) async throws -> BatchControlOutcome {
    let budget = action == .cancel ? database.timeout * Self.cancelDeadlineFactor : database.timeout
    let (outcome, canceledChains) = try await database.write(until: .now + budget) { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        try await Self.allow(budget, on: connection, logger: logger)
        return try await Self.control(action, batch: id, tenantID: tenantID, on: connection, logger: logger)
      }
    } readingBack: { connection, logger -> (BatchControlOutcome, [UUID])? in
      guard let batch = try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger),
        action.done.contains(batch.status)
      else { return nil }
      return (.done(batch), [])
    } unknown: { cause in
      .outcomeUnknown(batchID: id, cause: cause)
    }
    chainChanges?.post(chains: canceledChains)
    if action == .pause, case .done = outcome { await settle(batch: id, tenantID: tenantID) }
    return outcome
  }

  /// Under the batch's row lock, which admission takes too: an admission either finished before
  /// (its attempt is counted by ``settle(batch:tenantID:)``) or sees the new status. A cancel
  /// locks `FOR UPDATE`, which also waits for an outcome creating a retry (it holds the row
  /// `FOR KEY SHARE`), so that retry is ended with the rest.
  private static func control(
    _ action: BatchAction, batch id: Int64, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> (BatchControlOutcome, [UUID]) {
    let locked = try await connection.query(
      """
      SELECT status, coalesce(scheduled_for, created_at) > now() FROM batches
      WHERE tenant_id = \(tenantID) AND batch_id = \(id) \(unescaped: action == .cancel ? "FOR UPDATE" : "FOR NO KEY UPDATE")
      """, logger: logger)
    var current: (status: BatchStatus, notStarted: Bool)?
    for try await (status, notStarted) in locked.decode((String, Bool).self) {
      guard let status = BatchStatus(rawValue: status) else {
        throw UnknownStoredValue(column: "batches.status", value: status)
      }
      current = (status, notStarted)
    }
    guard let current else { return (.notFound, []) }
    func batch() async throws -> Batch {
      guard let batch = try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger) else {
        throw SwitchboardError.internalError()
      }
      return batch
    }
    if action.done.contains(current.status) { return (.done(try await batch()), []) }
    guard action.from.contains(current.status) else { return (.notAllowed(try await batch()), []) }

    let next = action.target(startHasCome: !current.notStarted)
    try await connection.query(BatchTransitions.move(id, tenantID: tenantID, to: next), logger: logger)
    var chains: [UUID] = []
    if action == .cancel {
      let canceled = try await connection.query(
        AttemptTransitions.cancelWaiting(ofBatch: id, tenantID: tenantID), logger: logger)
      for try await chain in canceled.decode(UUID.self) { chains.append(chain) }
      // One event for the batch: a campaign's cancel is not one webhook per contact.
      let canceledBatch = try await batch()
      if let metrics = try await Self.metrics(id, tenantID: tenantID, on: connection, logger: logger) {
        let outbox = OutboxWriter(connection: connection, logger: logger)
        try await outbox.enqueue(
          BatchEnvelope.canceled, canceledBatch, metrics: metrics, tenantID: tenantID,
          webhooks: try await outbox.webhooks(tenantID: tenantID, agentID: canceledBatch.agentID))
      }
      return (.done(canceledBatch), chains)
    }
    return (.done(try await batch()), chains)
  }

  /// Waits until no attempt of the batch is between admission and the dialer (admitted before
  /// the pause, its dial starting now), so that no dial starts after the pause is answered. An
  /// attempt still there after ``pauseSettleDeadline`` is with a dialer that has not answered.
  /// The pause is written either way: a failure to look is logged, not answered as a 503.
  private func settle(batch id: Int64, tenantID: Int64) async {
    await database.waitForNone(
      until: .now + Self.pauseSettleDeadline, "paused batch", metadata: ["batch_id": "\(id)"]
    ) { connection, logger in
      let rows = try await connection.query(
        """
        SELECT count(*) FROM call_attempts
        WHERE tenant_id = \(tenantID) AND batch_id = \(id) AND status = ANY(switchboard_active_statuses())
          AND status = 'dispatching' AND limits_charged_at IS NOT NULL AND lease_expires_at > now()
        """, logger: logger)
      for try await count in rows.decode(Int.self) { return count }
      return 0
    }
  }
}
