import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// No accepted call stays open for good: attempts whose runtime fell silent end `failed`.
@Suite("Reaper", .isolatedDatabases)
struct ReaperTests {
  @Test(
    "a call whose runtime never reports ends failed after the ring timeout; its slot comes back; the policy retries it")
  func silentRuntime() async throws {
    let database = try await IsolatedDatabase.make()
    let id = try await database.accounts.createTenant(
      name: "reaped", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 1))
    let policy = RetryPolicy(maxAttempts: 2, retryOn: [.failed], delaysSeconds: [3600])
    try await database.accounts.saveAgent(
      tenantID: id, agentID: 7, settings: .init(phoneNumber: "+14155550123", retryPolicy: policy), update: false)
    database.keys.set(try await database.accounts.createAPIKey(tenantID: id), for: id)
    let tenant = Tenant(id: id, name: "reaped")
    // The dialing service takes the call (200) and its runtime is never heard from again.
    let receiver = WebhookReceiver()
    let url = try await receiver.start()
    try atTestEnd { await receiver.stop() }
    let dialer = WebhookDialer(
      configuration: .init(url: url, secret: Secret("s")), client: .shared, logger: database.logger)

    let first = try await database.call(tenant)
    var configuration = Reaper.Configuration.defaults
    configuration.ringTimeout = .seconds(1)
    let reaper = Reaper(
      store: PostgresDispatchStore(database: database.database, logger: database.logger),
      configuration: configuration, logger: database.logger, record: Reaper.recording(to: database.operations))
    let reaping = Task { try await reaper.run() }
    defer { reaping.cancel() }
    let reaped = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      let dispatched = try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 1
      }
      #expect(dispatched)
      // While it rings, the tenant's one slot is taken.
      await #expect(throws: SwitchboardError.self) { try await database.call(tenant, phone: "+919800000001") }
      return try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE trace_id = '\(first.traceID.lowercased)' AND status = 'failed'")
          == 1
      }
    }
    #expect(reaped)
    let attempt = try #require(try await database.store.call(traceID: first.traceID, tenantID: tenant.id))
    #expect(attempt.failureReason == "no report from the voice runtime within 1 s of dispatched")
    // The slot is free again, and the policy appended the retry (an hour out).
    let next = try await database.call(tenant, phone: "+919800000002")
    #expect(next.status == .initiated)
    let chain = try #require(
      try await database.store.conversation(.init(conversationID: first.conversationID), tenantID: tenant.id))
    #expect(chain.attempts.map(\.status) == [.failed, .scheduled])
  }

  @Test("two reapers over the same silent attempts end each one once")
  func reapersRace() async throws {
    let database = try await IsolatedDatabase.make()
    let policy = RetryPolicy(maxAttempts: 2, retryOn: [.failed], delaysSeconds: [3600])
    let tenant = try await database.tenant(agent: .init(phoneNumber: "+14155550123", retryPolicy: policy))
    var receipts: [CallReceipt] = []
    for number in 0..<30 {
      receipts.append(try await database.call(tenant, phone: "+91980000\(String(format: "%04d", number))"))
    }
    let dialed = try await whileRunning([database.dispatcher("a", dialer: RecordingDialer())]) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 30
      }
    }
    #expect(dialed)
    // Ten of them were answered and then went quiet mid-call.
    for receipt in receipts.prefix(10) {
      _ = try await database.operations.recordInternally(
        CallEventInput(eventID: "answered", status: "in_progress"), traceID: receipt.traceID, tenantID: tenant.id)
    }
    // Silent for an hour (moved into the past rather than waited for).
    try await database.client.query(
      "UPDATE call_attempts SET updated_at = now() - interval '1 hour' WHERE tenant_id = \(tenant.id)")

    var configuration = Reaper.Configuration.defaults
    configuration.ringTimeout = .seconds(60)
    configuration.maxCallDuration = .seconds(1800)
    let store = PostgresDispatchStore(database: database.database, logger: database.logger)
    let reapers = (0..<2).map { _ in
      Reaper(
        store: store, configuration: configuration, logger: database.logger,
        record: Reaper.recording(to: database.operations))
    }
    await withTaskGroup(of: Void.self) { group in
      for reaper in reapers { group.addTask { await reaper.reapOnce() } }
    }

    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'failed'") == 30)
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_events WHERE event_id LIKE 'reaped-%' AND status = 'failed'") == 30,
      "one failure event per attempt")
    #expect(
      try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'scheduled'") == 30,
      "one retry per chain")
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_attempts WHERE failure_reason = 'call exceeded the maximum call duration of 1800 s without an outcome'"
      ) == 10)
    // Nothing is left to reap.
    #expect(await reapers[0].reapOnce() == 0)
  }
}
