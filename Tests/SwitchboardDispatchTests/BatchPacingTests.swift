import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Synchronization
import Testing

@Suite("Batch pacing at dispatch", .isolatedDatabases)
struct BatchPacingTests {
  func batch(
    _ database: IsolatedDatabase, _ tenant: Tenant, size: Int, maxConcurrency: Int? = nil
  ) async throws -> Batch {
    var recipients = BatchRecipients()
    for index in 0..<size {
      recipients.add(
        BatchRecipientInput(
          line: index + 2,
          parameters: [CallParameter(name: "customer_phone", value: "+9197\(String(format: "%08d", index))")]),
        agentID: 7, now: Date())
    }
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    guard
      case .created(let batch) = try await store.create(
        BatchCreation(agentID: 7, name: "pacing", maxConcurrency: maxConcurrency, calls: recipients.calls),
        tenantID: tenant.id)
    else { throw TestFailure("batch not created") }
    return batch
  }

  /// Runs two dispatchers until every contact of `batch` completed; whether they did, and the
  /// most attempts holding a line at once among the rows `counting` selects, sampled from PostgreSQL.
  func runUntilCompleted(
    _ database: IsolatedDatabase, _ batch: Batch, dialer: CompletingDialer, counting rows: String
  ) async throws -> (finished: Bool, highest: Int) {
    let active = """
      SELECT count(*) FROM call_attempts WHERE \(rows)
        AND status = ANY(switchboard_active_statuses()) AND (status <> 'dispatching' OR limits_charged_at IS NOT NULL)
      """
    let highest = Mutex(0)
    let finished = try await whileRunning([
      database.dispatcher("a", dialer: dialer), database.dispatcher("b", dialer: dialer),
    ]) {
      try await database.eventually {
        let now = try await database.count(active)
        highest.withLock { $0 = max($0, now) }
        return try await database.count(
          "SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id) AND status = 'completed'")
          == batch.totalRecipients
      }
    }
    return (finished, highest.withLock { $0 })
  }

  @Test("two dispatchers never hold more of a batch active than its max_concurrency, and finish it")
  func maxConcurrency() async throws {
    let database = try await IsolatedDatabase.make(prefix: "pacing")
    let tenant = try await database.tenant()
    let batch = try await batch(database, tenant, size: 60, maxConcurrency: 5)
    let dialer = CompletingDialer(operations: database.operations)
    let (finished, highest) = try await runUntilCompleted(
      database, batch, dialer: dialer, counting: "tenant_id = \(tenant.id) AND batch_id = \(batch.id)")
    #expect(finished, "every contact was called")
    #expect(highest <= 5, "sampled from PostgreSQL while it ran")
    #expect(highest >= 2, "it did run several at once")
    #expect(await dialer.dials == 60, "each contact dialed once")
  }

  @Test("the tenant's concurrent-call limit defers a batch's attempts (never drops them)")
  func tenantLimit() async throws {
    let database = try await IsolatedDatabase.make(prefix: "pacing")
    let id = try await database.accounts.createTenant(
      name: "limited", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 3))
    try await database.accounts.saveAgent(
      tenantID: id, agentID: 7, settings: .init(phoneNumber: "+14155550123"), update: false)
    let tenant = Tenant(id: id, name: "limited")
    let batch = try await batch(database, tenant, size: 15)
    let dialer = CompletingDialer(operations: database.operations)
    let (finished, highest) = try await runUntilCompleted(
      database, batch, dialer: dialer, counting: "tenant_id = \(id)")
    #expect(finished, "every contact was called, none refused")
    #expect(highest <= 3)
    #expect(await dialer.dials == 15)
  }

  @Test("a single call is claimed before a batch's due attempts")
  func singleFirst() async throws {
    let database = try await IsolatedDatabase.make(prefix: "pacing")
    let tenant = try await database.tenant()
    _ = try await batch(database, tenant, size: 300)
    let single = try await database.call(tenant, phone: "+14155550999")
    let dialer = RecordingDialer()
    let done = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      try await database.eventually { await dialer.total == 301 }
    }
    #expect(done)
    let position = try #require(await dialer.requests.firstIndex { $0.traceID == single.traceID })
    #expect(position < 64, "in the first claim, not behind 300 batch rows (position \(position))")
  }
}

/// Accepts each dial and reports the call completed a moment later, as a voice runtime would.
actor CompletingDialer: Dialer {
  let operations: CallOperations
  private(set) var dials = 0

  init(operations: CallOperations) { self.operations = operations }

  func dial(_ request: DialRequest) async -> DialResult {
    dials += 1
    let operations = operations
    Task {
      try? await Task.sleep(for: .milliseconds(30))
      _ = try? await operations.recordInternally(
        CallEventInput(eventID: "done", status: "completed"), traceID: request.traceID, tenantID: request.tenantID)
    }
    return .accepted
  }
}
