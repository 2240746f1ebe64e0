import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Synchronization
import Testing

/// Pause, cancel, completion and metrics against real dispatchers.
@Suite("Batch control at dispatch", .isolatedDatabases)
struct BatchControlTests {
  /// A batch of `size` contacts; `parameters(index)` adds each row's other columns.
  func batch(
    _ database: IsolatedDatabase, _ tenant: Tenant, size: Int, maxConcurrency: Int? = nil,
    parameters: (Int) -> [CallParameter] = { _ in [] }
  ) async throws -> (Batch, BatchOperations) {
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    let operations = BatchOperations(calls: database.operations, store: store)
    var recipients = BatchRecipients()
    for index in 0..<size {
      let phone = CallParameter(name: "customer_phone", value: "+9197\(String(format: "%08d", index))")
      recipients.add(
        BatchRecipientInput(line: index + 2, parameters: [phone] + parameters(index)), agentID: 7, now: Date())
    }
    let receipt = try await operations.create(
      BatchOptions.validate(
        BatchOptionsInput(agentID: 7, name: "control", maxConcurrency: maxConcurrency), now: Date()),
      recipients: recipients, tenant: tenant)
    return (receipt.batch, operations)
  }

  func status(_ database: IsolatedDatabase, _ batch: Batch, _ statuses: String) async throws -> Int {
    try await database.count(
      "SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id) AND status IN (\(statuses))")
  }

  /// Runs `body`, recording an error's full description (a bare `PSQLError` says little).
  func traced(_ body: () async throws -> Void) async {
    do { try await body() } catch { Issue.record("\(String(reflecting: error))") }
  }

  @Test("pause racing two dispatchers: no dial starts after the pause is answered; resume finishes the batch once")
  func pause() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "control")
      let tenant = try await database.tenant()
      let (batch, operations) = try await batch(database, tenant, size: 400)
      let dialer = TimedDialer(operations: database.operations)
      let counted = Mutex<[CountingDispatchStore]>([])
      let counting: (any DispatchStore) -> any DispatchStore = { base in
        let store = CountingDispatchStore(base)
        counted.withLock { $0.append(store) }
        return store
      }
      // Few dials in flight, so the batch is still dialing when the pause comes.
      try await whileRunning([
        database.dispatcher("a", dialer: dialer, maxInFlight: 4, store: counting),
        database.dispatcher("b", dialer: dialer, maxInFlight: 4, store: counting),
      ]) {
        #expect(try await database.eventually { await dialer.count >= 20 })
        let paused = try await operations.control(.pause, String(batch.id), tenant: tenant)
        let answered = ContinuousClock.now
        #expect(paused.status == .paused)
        let dialedBefore = await dialer.count
        // The dispatchers keep looking while it is paused: a dozen more claim rounds each.
        let stores = counted.withLock { $0 }
        let claimsBefore = stores.map(\.claims)
        #expect(
          try await database.eventually { zip(stores, claimsBefore).allSatisfy { $0.claims >= $1 + 12 } },
          "both dispatchers kept claiming")
        #expect(await dialer.starts.allSatisfy { $0 <= answered }, "a dial started after the pause answered")
        #expect(await dialer.count == dialedBefore)
        #expect(try await status(database, batch, "'scheduled'") > 0, "the pause held contacts back")

        let resumed = try await operations.control(.resume, String(batch.id), tenant: tenant)
        #expect(resumed.status == .running)
        let finished = try await database.eventually { try await status(database, batch, "'completed'") == 400 }
        var statuses: [String] = []
        for try await (status, count) in try await database.client.query(
          "SELECT status, count(*)::int FROM call_attempts WHERE batch_id = \(batch.id) GROUP BY status"
        ).decode((String, Int).self) {
          statuses.append("\(status) \(count)")
        }
        let (dials, failures) = (await dialer.count, await dialer.failures)
        #expect(finished, "\(statuses), \(dials) dials, failed reports: \(failures.prefix(3))")
      }
      #expect(await dialer.distinct == 400, "every contact dialed")
      #expect(await dialer.count == 400, "each once")
    }
  }

  @Test("cancel: what was not dispatched ends canceled, calls in flight finish, nothing is dialed after")
  func cancel() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "control")
      let tenant = try await database.tenant(
        agent: .init(phoneNumber: "+14155550123", webhookURL: "http://127.0.0.1:9/hooks", webhookSecret: "whsec"))
      let (batch, operations) = try await batch(database, tenant, size: 200, maxConcurrency: 5)
      let dialer = TimedDialer(operations: database.operations, callLength: .milliseconds(100))
      try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
        #expect(try await database.eventually { await dialer.count >= 10 })
        let canceled = try await operations.control(.cancel, String(batch.id), tenant: tenant)
        let answered = ContinuousClock.now
        #expect(canceled.status == .canceled)
        // Every attempt ends: canceled, or completed by the call in flight.
        #expect(
          try await database.eventually {
            try await status(database, batch, "'completed', 'canceled'") == 200
          })
        let late = await dialer.starts.filter { $0 > answered }.count
        #expect(late <= 5, "only attempts admitted before the cancel (at most max_concurrency) may dial")
      }
      let dialed = await dialer.count
      #expect(try await status(database, batch, "'completed'") == dialed)
      #expect(try await status(database, batch, "'canceled'") == 200 - dialed)
      #expect(dialed < 200)
      let metrics = try await operations.metrics(String(batch.id), tenant: tenant)
      #expect(metrics.canceledCount == 200 - dialed && metrics.totalProcessed == 200)
      // One batch.canceled event for the webhook, no call.canceled per contact.
      #expect(
        try await database.count(
          "SELECT count(*) FROM event_deliveries WHERE event_type = 'batch.canceled' AND batch_id = \(batch.id)") == 1)
      #expect(
        try await database.count("SELECT count(*) FROM event_deliveries WHERE event_type = 'call.canceled'") == 0)
    }
  }

  @Test(
    "metrics count each contact by its chain's latest attempt as the simulated dialer drives them; then completed, with its webhook"
  )
  func metricsAndCompletion() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "control")
      let tenant = try await database.tenant(
        agent: .init(
          phoneNumber: "+14155550123",
          retryPolicy: RetryPolicy(maxAttempts: 2, retryOn: [.busy], delaysSeconds: [0]),
          webhookURL: "http://127.0.0.1:9/hooks", webhookSecret: "whsec"))
      let outcomes = [
        "completed", "completed", "completed", "no_answer", "no_answer", "busy", "failed", "unreachable", "voicemail",
      ]
      let (batch, operations) = try await batch(database, tenant, size: outcomes.count, maxConcurrency: 3) { index in
        [
          CallParameter(name: "sim_outcome", value: outcomes[index]),
          CallParameter(name: "sim_duration_ms", value: "30"),
        ]
      }
      let dialer = database.simulatedDialer()
      let reaper = Reaper(
        store: PostgresDispatchStore(database: database.database, logger: database.logger),
        configuration: Reaper.Configuration.defaults, logger: database.logger
      ) { _, _ in false }
      try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
        let completed = try await database.eventually {
          await reaper.completeBatchesOnce()
          return try await operations.batch(String(batch.id), tenant: tenant).status == .completed
        }
        #expect(completed)
      }
      let metrics = try await operations.metrics(String(batch.id), tenant: tenant)
      #expect(metrics.totalRecipients == 9 && metrics.totalProcessed == 9)
      #expect(metrics.completedCount == 3 && metrics.successCount == 3 && metrics.successRate == 33.33)
      #expect(metrics.voicemailCount == 1)
      #expect(metrics.noAnswerCount == 2 && metrics.busyCount == 1 && metrics.failedCount == 1)
      #expect(metrics.unreachableCount == 1 && metrics.inProgressCount == 0 && metrics.pendingRetryCount == 0)
      #expect(metrics.averageDurationSeconds == 0.03)
      // The busy contact was retried, and its retry is the batch's.
      #expect(
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id) AND attempt_number = 2") == 1)
      #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE batch_id IS NULL") == 0)
      // One batch.completed event for the agent's webhook, carrying the batch and its metrics.
      let rows = try await database.client.query(
        """
        SELECT payload::text FROM event_deliveries
        WHERE tenant_id = \(tenant.id) AND event_type = 'batch.completed' AND batch_id = \(batch.id)
        """)
      var payloads: [JSONValue] = []
      for try await text in rows.decode(String.self) { payloads.append(try JSONValue.decode(text)) }
      #expect(payloads.count == 1)
      #expect(payloads.first?["data"]?["batch"]?["status"] == "completed")
      #expect(payloads.first?["data"]?["metrics"]?["success_count"] == 3)
      // A second look completes nothing again.
      await reaper.completeBatchesOnce()
      #expect(
        try await database.count("SELECT count(*) FROM event_deliveries WHERE event_type = 'batch.completed'") == 1)
    }
  }
}

/// Records when each dial started, and reports the call completed after `callLength`.
actor TimedDialer: Dialer {
  let operations: CallOperations
  let callLength: Duration
  private(set) var starts: [ContinuousClock.Instant] = []
  private var traces: Set<UUID> = []

  init(operations: CallOperations, callLength: Duration = .milliseconds(20)) {
    self.operations = operations
    self.callLength = callLength
  }

  var count: Int { starts.count }
  /// Reports that failed, with their errors.
  private(set) var failures: [String] = []
  func failed(_ error: String) { failures.append(error) }
  var distinct: Int { traces.count }

  func dial(_ request: DialRequest) async -> DialResult {
    starts.append(.now)
    traces.insert(request.traceID)
    let (operations, callLength) = (operations, callLength)
    Task {
      try? await Task.sleep(for: callLength)
      // As a voice runtime does, a report that failed is sent again (a few times).
      for _ in 0..<5 {
        do {
          _ = try await operations.recordInternally(
            CallEventInput(eventID: "done", status: "completed", durationSeconds: 1), traceID: request.traceID,
            tenantID: request.tenantID)
          return
        } catch {
          self.failed("\(String(reflecting: error))")
        }
      }
    }
    return .accepted
  }
}
