import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import Synchronization

/// The dispatcher's queries. Claiming is the one place that reads across tenants: due work is
/// found by time, then every write names its row by tenant and trace id.
public struct PostgresDispatchStore: DispatchStore {
  let database: Database
  let logger: Logger
  let wakeups = Wakeup()
  /// "The dialer took it" records, written together.
  let dispatched: Coalescer<ClaimedAttempt, Void>
  /// Admissions, decided together.
  let admissions: Coalescer<ClaimedAttempt, Admission>
  /// Where the chains this store changes are posted, for watchers on every replica.
  let chainChanges: Notifier?

  public init(database: Database, logger: Logger, chainChanges: Notifier? = nil) {
    self.database = database
    self.logger = logger
    self.chainChanges = chainChanges
    self.dispatched = Coalescer { attempts in
      do {
        try await database.run { connection, logger in
          try await connection.query(AttemptTransitions.dispatched(attempts), logger: logger)
        }
        chainChanges?.post(chains: attempts.map(\.request.conversationID))
        return attempts.map { _ in .success(()) }
      } catch {
        return attempts.map { _ in .failure(error) }
      }
    }
    // Each tenant's admissions in a statement of their own: one tenant's lock waits (a cancel of a
    // large batch holds its row) never hold up another's.
    self.admissions = Coalescer(
      partitionedBy: { $0.request.tenantID },
      write: { attempts in
        do {
          return try await Self.admit(attempts, database: database).map { .success($0) }
        } catch  where attempts.count > 1 {
          // One attempt that fails its admission must not fail the others: each alone.
          var results: [Result<Admission, any Error>] = []
          for attempt in attempts {
            do { results.append(.success(try await Self.admit([attempt], database: database)[0])) } catch {
              results.append(.failure(error))
            }
          }
          return results
        } catch {
          return [.failure(error)]
        }
      })
  }

  public func claimDue(owner: String, limit: Int, lease: Duration) async throws -> [ClaimedAttempt] {
    let leaseSeconds = lease.inSeconds
    let claimed = try await database.run { connection, logger in
      try await Self.claim(owner: owner, limit: limit, leaseSeconds: leaseSeconds, on: connection, logger: logger)
    }
    chainChanges?.post(chains: claimed.map(\.request.conversationID))
    return claimed
  }

  private static func claim(
    owner: String, limit: Int, leaseSeconds: Double, on connection: PostgresConnection, logger: Logger
  ) async throws -> [ClaimedAttempt] {
    let rows = try await connection.query(
      AttemptTransitions.claim(owner: owner, limit: limit, leaseSeconds: leaseSeconds), logger: logger)
    var claimed: [ClaimedAttempt] = []
    for try await row in rows {
      // One row that cannot be read (a stored value this build does not know) is logged and
      // left to its lease; it never fails the claim of every other tenant's attempts.
      do {
        claimed.append(try Self.claimedAttempt(row, owner: owner))
      } catch {
        let columns = row.makeRandomAccess()
        logger.warning(
          "a claimed attempt could not be read; left to its lease",
          metadata: [
            "tenant_id": "\((try? columns[0].decode(Int64.self)).map(String.init) ?? "?")",
            "trace_id": "\((try? columns[1].decode(UUID.self))?.lowercased ?? "?")", "error": "\(error)",
          ])
      }
    }
    return claimed
  }

  private static func claimedAttempt(_ row: PostgresRow, owner: String) throws -> ClaimedAttempt {
    let (tenant, trace, conversation, number, agent, agentPhone, phone, parameters, metadata, context) =
      try row.decode((Int64, UUID, UUID, Int, Int64, String, String, String, String?, String).self)
    let columns = row.makeRandomAccess()
    let scheduledFor = try columns[10].decode(Date?.self)
    let limitsPending = try columns[11].decode(Bool.self)
    let window = try columns[12].decode(String?.self)
    let dueAt = try columns[13].decode(Date.self)
    let traceparent = try columns[14].decode(String?.self)
    let request = DialRequest(
      tenantID: tenant, traceID: trace, conversationID: conversation, attemptNumber: number, agentID: agent,
      agentPhone: agentPhone, customerPhone: phone, parameters: try AttemptRow.parameters(from: parameters),
      metadata: metadata, retryContext: try RetryContext(json: JSONValue.decode(context)), scheduledFor: scheduledFor,
      traceparent: traceparent)
    var claimed = ClaimedAttempt(
      request: request, callingWindow: try window.map { try CallingWindow(json: JSONValue.decode($0)) },
      limitsPending: limitsPending, leaseOwner: owner, dueAt: dueAt)
    claimed.compliancePending = try columns[15].decode(Bool.self)
    if let hours = try columns[16].decode(String?.self) {
      claimed.recipientHours = RecipientHoursPolicy(
        hours: try RecipientHours.stored(hours),
        unknownTimezone: UnknownTimezone(rawValue: try columns[18].decode(String.self)) ?? .tenantZone,
        tenantZone: RecipientHoursPolicy.zone(named: try columns[19].decode(String.self)) ?? .gmt)
      claimed.recipientTimezone = try columns[17].decode(String?.self)
    }
    return claimed
  }

  /// Across tenants, like the claim: open batches whose start has come and whose every chain is
  /// final. A chain's retry is written with the outcome that earns it, so a batch with no attempt
  /// waiting or active has no chain left to move.
  public func finishedBatches(limit: Int, excluding: [Int64]) async throws -> [BatchKey] {
    try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT b.tenant_id, b.batch_id FROM batches b
        WHERE b.status = ANY(switchboard_open_batch_statuses()) AND coalesce(b.scheduled_for, b.created_at) <= now()
          AND NOT (b.batch_id = ANY(\(excluding)::bigint[]))
          AND \(unescaped: BatchTransitions.finished)
        ORDER BY b.batch_id LIMIT \(limit)
        """, logger: logger)
      var batches: [BatchKey] = []
      for try await (tenant, batch) in rows.decode((Int64, Int64).self) {
        batches.append(BatchKey(tenantID: tenant, batchID: batch))
      }
      return batches
    }
  }

  /// Under the batch's row lock (admission and pause/cancel take it too), checked again.
  public func completeBatch(_ key: BatchKey) async throws -> Bool {
    try await database.run { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        let rows = try await connection.query(BatchTransitions.complete(key), logger: logger)
        var completed = false
        for try await _ in rows.decode(Int64.self) { completed = true }
        guard completed,
          let batch = try await PostgresBatchStore.batch(
            key.batchID, tenantID: key.tenantID, on: connection, logger: logger),
          let metrics = try await PostgresBatchStore.metrics(
            key.batchID, tenantID: key.tenantID, on: connection, logger: logger)
        else { return completed }
        let outbox = OutboxWriter(connection: connection, logger: logger)
        let webhooks = try await outbox.webhooks(tenantID: key.tenantID, agentID: batch.agentID)
        try await outbox.enqueue(
          BatchEnvelope.completed, batch, metrics: metrics, tenantID: key.tenantID, webhooks: webhooks)
        return true
      }
    }
  }

  /// For metrics, across tenants: attempts due and not yet claimed, and outcome events still to
  /// be delivered (both counted from partial indexes).
  public func backlog() async throws -> (dueWaiting: Int, outboxPending: Int) {
    try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT (SELECT count(*) FROM call_attempts
            WHERE status = ANY(switchboard_due_statuses()) AND batch_id IS NULL AND due_at <= now())
          + (SELECT count(*) FROM call_attempts
            WHERE status = ANY(switchboard_due_statuses()) AND batch_id IS NOT NULL AND due_at <= now()),
          (SELECT count(*) FROM event_deliveries WHERE delivered_at IS NULL AND next_attempt_at < 'infinity')
        """, logger: logger)
      for try await (due, pending) in rows.decode((Int, Int).self) { return (due, pending) }
      return (0, 0)
    }
  }

  /// Batched: the admissions asked for in the last couple of milliseconds are decided in one
  /// statement and one commit (switchboard_admit_dispatches).
  public func admit(_ attempt: ClaimedAttempt) async throws -> Admission {
    try await admissions.submit(attempt)
  }

  private static func admit(_ attempts: [ClaimedAttempt], database: Database) async throws -> [Admission] {
    let requests = attempts.map(\.request)
    let decided = try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT o_trace_id, o_decision, o_retry_at, o_reason
        FROM switchboard_admit_dispatches(\(requests.map(\.tenantID)), \(requests.map(\.traceID)),
          \(requests.map(\.agentID)), \(requests.map(\.customerPhone)), \(attempts.map(\.limitsPending)),
          \(attempts.map(\.compliancePending)))
        """, logger: logger)
      var decided: [UUID: Admission] = [:]
      for try await (trace, decision, retryAt, reasonText) in rows.decode((UUID, String, Date?, String?).self) {
        let reason = reasonText.flatMap(BlockedReason.init(rawValue:))
        decided[trace] =
          switch (decision, retryAt) {
          case ("admitted", _): .admitted
          case ("canceled", _): .canceled
          case ("suppressed", _): .suppressed(reason ?? .suppressed)
          case ("deferred", let until?): reason.map { .held(until: until, reason: $0) } ?? .deferred(until: until)
          default: throw UnknownStoredValue(column: "switchboard_admit_dispatch", value: decision)
          }
      }
      return decided
    }
    return try requests.map { request in
      guard let admission = decided[request.traceID] else { throw SwitchboardError.internalError() }
      return admission
    }
  }

  public func postpone(_ attempt: ClaimedAttempt, until: Date, reason: BlockedReason?) async throws {
    try await database.run { connection, logger in
      try await connection.query(AttemptTransitions.postpone(attempt, until: until, reason: reason), logger: logger)
    }
    chainChanges?.post(chains: [attempt.request.conversationID])
  }

  public func suppress(_ attempt: ClaimedAttempt, reason: BlockedReason) async throws {
    let tenantID = attempt.request.tenantID
    try await database.run { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        let rows = try await connection.query(AttemptTransitions.suppress(attempt, reason: reason), logger: logger)
        var ended: [UUID] = []
        for try await trace in rows.decode(UUID.self) { ended.append(trace) }
        try await PostgresCompliance.announceSuppressed(ended, tenantID: tenantID, on: connection, logger: logger)
      }
    }
    chainChanges?.post(chains: [attempt.request.conversationID])
  }

  /// Batched: the dials of the last couple of milliseconds are recorded in one statement, one
  /// commit (one commit per dial capped dispatch at ~800/s on 2 cores).
  public func markDispatched(_ attempt: ClaimedAttempt) async throws {
    try await dispatched.submit(attempt)
  }

  public func waitForWork(timeout: Duration) async {
    await wakeups.wait(timeout: timeout)
  }

  /// Listens for accepted immediate calls and writes dispatched records, until cancelled.
  public func run() async {
    let due = NotificationListener(client: database.client, channel: .due, logger: logger)
    await withDiscardingTaskGroup { group in
      group.addTask { await due.listen { _ in wakeups.signal() } }
      group.addTask { await dispatched.run() }
      group.addTask { await admissions.run() }
    }
  }

  /// Like the claim, this reads across tenants (silence is found by time); the event that ends
  /// each attempt names it by tenant and trace id.
  public func silentAttempts(
    ringTimeout: Duration, maxCallDuration: Duration, limit: Int, excluding: [UUID]
  ) async throws -> [SilentAttempt] {
    let (ring, longest) = (ringTimeout.inSeconds, maxCallDuration.inSeconds)
    return try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT tenant_id, trace_id, status, updated_at FROM call_attempts
        WHERE ((status IN ('dispatched', 'ringing') AND updated_at < now() - make_interval(secs => \(ring)))
          OR (status = 'in_progress' AND updated_at < now() - make_interval(secs => \(longest))))
          AND NOT (trace_id = ANY(\(excluding)::uuid[]))
        ORDER BY updated_at LIMIT \(limit)
        """, logger: logger)
      var silent: [SilentAttempt] = []
      for try await (tenant, trace, status, since) in rows.decode((Int64, UUID, String, Date).self) {
        silent.append(
          SilentAttempt(tenantID: tenant, traceID: trace, status: try CallStatus(stored: status), since: since))
      }
      return silent
    }
  }
}
