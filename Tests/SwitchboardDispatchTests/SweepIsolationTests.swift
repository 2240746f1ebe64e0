import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Synchronization
import Testing

/// Issue #20, findings 2 and 5: the shared sweeps isolate each tenant's rows, and a canceled
/// batch strands nothing.
@Suite("Shared sweeps, one tenant poisoned", .isolatedDatabases)
struct SweepIsolationTests {
  /// A batch of `size` contacts for agent 7.
  func batch(_ database: IsolatedDatabase, _ tenant: Tenant, size: Int, prefix: String) async throws -> Batch {
    let operations = BatchOperations(
      calls: database.operations,
      store: PostgresBatchStore(
        database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger))
    var recipients = BatchRecipients()
    for index in 0..<size {
      let phone = CallParameter(name: "customer_phone", value: "+91\(prefix)\(String(format: "%06d", index))")
      recipients.add(BatchRecipientInput(line: index + 2, parameters: [phone]), agentID: 7, now: Date())
    }
    return try await operations.create(
      BatchOptions.validate(BatchOptionsInput(agentID: 7, name: "sweep"), now: Date()), recipients: recipients,
      tenant: tenant
    ).batch
  }

  /// Makes every write to `table` for `tenant` fail, as a row a sweep cannot handle would.
  func poison(
    _ database: IsolatedDatabase, _ table: String, tenant: Tenant, when condition: String = "true"
  )
    async throws
  {
    try await database.client.query(
      """
      CREATE OR REPLACE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'poisoned row of tenant %', OLD.tenant_id; END $$
      """)
    try await database.client.query(
      """
      CREATE TRIGGER poisoned_\(unescaped: table) BEFORE UPDATE ON \(unescaped: table) FOR EACH ROW
      WHEN (OLD.tenant_id = \(unescaped: String(tenant.id)) AND \(unescaped: condition)) EXECUTE FUNCTION poisoned()
      """)
  }

  /// A clock the test moves.
  final class TestClock: Sendable {
    let offset = Mutex(Duration.zero)
    let start = ContinuousClock.now
    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    func advance(_ by: Duration) { offset.withLock { $0 += by } }
  }

  @Test("admission: a tenant whose batch row is held (a long cancel) does not hold up another tenant's admissions")
  func admission() async throws {
    let database = try await IsolatedDatabase.make()
    let stuck = try await database.tenant()
    let other = try await database.tenant()
    let batch = try await database.batch(stuck, phones: (0..<5).map { "+9198100000\($0)" }, name: "held").batch
    // Running already (a pending batch's first claim updates its row, which the claim would wait for).
    try await database.client.query("UPDATE batches SET status = 'running' WHERE batch_id = \(batch.id)")
    let (held, holding) = AsyncStream<Void>.makeStream()
    let (released, release) = AsyncStream<Void>.makeStream()
    let holder = Task {
      try await database.client.withConnection { connection in
        try await connection.query("BEGIN", logger: database.logger)
        try await connection.query(
          "SELECT 1 FROM batches WHERE batch_id = \(batch.id) FOR UPDATE", logger: database.logger)
        holding.yield()
        for await _ in released { break }
        try await connection.query("ROLLBACK", logger: database.logger)
      }
    }
    for await _ in held { break }
    // The other tenant's scheduled calls go through admission (their limits are charged there). All
    // are due before the dispatchers start, so one claim takes both tenants' attempts together.
    for index in 0..<3 {
      _ = try await database.call(other, phone: "+9198200000\(index)", scheduledFor: Date().addingTimeInterval(60))
    }
    try await database.client.query("UPDATE call_attempts SET due_at = now() WHERE tenant_id = \(other.id)")
    let dialer = RecordingDialer()
    let (others, stuckWhileHeld, stuckAfter) = try await whileRunning([
      database.dispatcher("a", dialer: dialer), database.dispatcher("b", dialer: dialer),
    ]) {
      let others = try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE tenant_id = \(other.id) AND status = 'dispatched'") == 3
      }
      let stuckWhileHeld = try await database.count(
        "SELECT count(*) FROM call_attempts WHERE tenant_id = \(stuck.id) AND status = 'dispatched'")
      release.yield()
      let stuckAfter = try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE tenant_id = \(stuck.id) AND status = 'dispatched'") == 5
      }
      return (others, stuckWhileHeld, stuckAfter)
    }
    try await holder.value
    #expect(others, "the other tenant's calls were admitted and dialed while the batch row was held")
    #expect(stuckWhileHeld == 0, "the held batch's admissions waited for its row")
    #expect(stuckAfter, "and went on once it was released")
  }

  @Test("batch completion: a tenant whose batches fail to complete does not hold up another's")
  func batchCompletion() async throws {
    let database = try await IsolatedDatabase.make()
    let poisoned = try await database.tenant()
    let healthy = try await database.tenant()
    var poisonedBatches: [Batch] = []
    for index in 0..<3 { poisonedBatches.append(try await batch(database, poisoned, size: 2, prefix: "981\(index)")) }
    let healthyBatch = try await batch(database, healthy, size: 2, prefix: "9820")
    // Every contact reached its end (as reported outcomes would leave them).
    try await database.client.query(
      "UPDATE call_attempts SET status = 'completed', ended_at = now() WHERE batch_id IS NOT NULL")
    try await poison(database, "batches", tenant: poisoned)

    var configuration = Reaper.Configuration.defaults
    configuration.batchSize = 2
    let clock = TestClock()
    let reaper = Reaper(
      store: PostgresDispatchStore(database: database.database, logger: database.logger),
      configuration: configuration, logger: database.logger, now: { clock.now }, record: { _, _ in false })
    // Look 1 takes the two oldest (poisoned) batches and sets them aside; look 2 reaches past them.
    #expect(await reaper.completeBatchesOnce() == 0)
    #expect(await reaper.completeBatchesOnce() == 1)
    #expect(
      try await database.count(
        "SELECT count(*) FROM batches WHERE batch_id = \(healthyBatch.id) AND status = 'completed'") == 1)
    #expect(
      try await database.count("SELECT count(*) FROM batches WHERE tenant_id = \(poisoned.id) AND status = 'completed'")
        == 0)
    // Repaired, the set-aside batches complete once their wait has passed.
    try await database.client.query("DROP TRIGGER poisoned_batches ON batches")
    #expect(await reaper.completeBatchesOnce() == 0, "still set aside")
    clock.advance(.seconds(3600))
    #expect(await reaper.completeBatchesOnce() == 2)
    #expect(await reaper.completeBatchesOnce() == 1)
    #expect(
      try await database.count("SELECT count(*) FROM batches WHERE tenant_id = \(poisoned.id) AND status = 'completed'")
        == poisonedBatches.count)
  }

  @Test("a duration that would overflow an average cannot be stored; the batch's metrics answer")
  func durationOverflow() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let created = try await batch(database, tenant, size: 2, prefix: "9830")
    await #expect(throws: PSQLError.self) {
      try await database.client.query(
        "UPDATE call_attempts SET duration_seconds = 1e200 WHERE batch_id = \(created.id)")
    }
    let receipt = try await database.call(tenant, phone: "+919830999999")
    await #expect(throws: SwitchboardError.self) {
      _ = try await database.operations.reportEvent(
        traceID: receipt.traceID.lowercased,
        CallEventInput(eventID: "huge", status: "completed", durationSeconds: 1e200), tenant: tenant)
    }
    let metrics = try await PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger
    ).metrics(
      created.id, tenantID: tenant.id)
    #expect(metrics?.totalRecipients == 2)
  }

  @Test("the reaper: a tenant whose silent attempts fail to end does not hold up another's")
  func reaper() async throws {
    let database = try await IsolatedDatabase.make()
    let poisoned = try await database.tenant()
    let healthy = try await database.tenant()
    for index in 0..<4 { _ = try await database.call(poisoned, phone: "+9198400000\(index)") }
    let quiet = try await database.call(healthy, phone: "+919850000000")
    // All dispatched and silent; the poisoned tenant's for longer (older rows come first).
    try await database.client.query(
      """
      UPDATE call_attempts SET status = 'dispatched', dispatched_at = now(),
        updated_at = now() - CASE WHEN tenant_id = \(poisoned.id) THEN interval '2 hours' ELSE interval '1 hour' END
      """)
    try await poison(database, "call_attempts", tenant: poisoned, when: "NEW.status = 'failed'")
    var configuration = Reaper.Configuration.defaults
    configuration.batchSize = 2
    configuration.ringTimeout = .seconds(60)
    let reaper = Reaper(
      store: PostgresDispatchStore(database: database.database, logger: database.logger),
      configuration: configuration, logger: database.logger, record: Reaper.recording(to: database.operations))
    for _ in 0..<3 { await reaper.reapOnce() }
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_attempts WHERE trace_id = '\(quiet.traceID.lowercased)' AND status = 'failed'") == 1)
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_attempts WHERE tenant_id = \(poisoned.id) AND status = 'dispatched'") == 4)
  }

  @Test("a batch canceled while its calls are in flight creates no retries; none is left waiting")
  func canceledBatchRetries() async throws {
    // Not a test of deadlines: eleven transactions queue on one batch row while the whole suite
    // runs beside them, so give them the long deadline.
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant(
      agent: .init(
        phoneNumber: "+14155550123", retryPolicy: RetryPolicy(maxAttempts: 3, retryOn: [.noAnswer], delaysSeconds: [3])
      ))
    let created = try await batch(database, tenant, size: 20, prefix: "9860")
    let operations = BatchOperations(
      calls: database.operations,
      store: PostgresBatchStore(
        database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger))
    // Ten in flight with the dialer, ten still waiting.
    try await database.client.query(
      """
      UPDATE call_attempts SET status = 'dispatched', dispatched_at = now()
      WHERE trace_id IN (SELECT trace_id FROM call_attempts WHERE batch_id = \(created.id) ORDER BY trace_id LIMIT 10)
      """)
    var inFlight: [UUID] = []
    let rows = try await database.client.query(
      "SELECT trace_id FROM call_attempts WHERE batch_id = \(created.id) AND status = 'dispatched'")
    for try await trace in rows.decode(UUID.self) { inFlight.append(trace) }
    // The outcomes race the cancel.
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { _ = try await operations.control(.cancel, String(created.id), tenant: tenant) }
      for trace in inFlight {
        group.addTask {
          _ = try await database.operations.reportEvent(
            traceID: trace.lowercased, CallEventInput(eventID: "na", status: "no_answer"), tenant: tenant)
        }
      }
      try await group.waitForAll()
    }
    #expect(
      try await database.count(
        """
        SELECT count(*) FROM call_attempts WHERE batch_id = \(created.id)
          AND status IN ('scheduled', 'initiated', 'dispatching')
        """) == 0, "nothing of the canceled batch waits")
    let metrics = try await operations.metrics(String(created.id), tenant: tenant)
    #expect(metrics.waitingCount == 0 && metrics.pendingRetryCount == 0)
  }
}
