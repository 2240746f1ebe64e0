import Crypto
import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

@Suite("Dispatch", .isolatedDatabases)
struct DispatchTests {
  @Test("two dispatchers racing over hundreds of due attempts dial each exactly once")
  func exactlyOnce() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 0..<400 {
        group.addTask { _ = try await database.call(tenant, phone: "+9198\(String(format: "%08d", index))") }
        if index % 16 == 15 { try await group.waitForAll() }
      }
      try await group.waitForAll()
    }
    let dialer = RecordingDialer()
    let dispatched = try await whileRunning(
      [database.dispatcher("replica-a", dialer: dialer), database.dispatcher("replica-b", dialer: dialer)]
    ) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 400
      }
    }
    #expect(dispatched)
    #expect(await dialer.dials.count == 400)
    #expect(await dialer.dials.values.allSatisfy { $0 == 1 })
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE lease_owner IS NOT NULL") == 0)
  }

  @Test("an expired lease is claimed again by another replica; the first can no longer finish it")
  func expiredLease() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let receipt = try await database.call(tenant)
    let store = PostgresDispatchStore(database: database.database, logger: database.logger)
    let background = Task { await store.run() }
    defer { background.cancel() }
    let first = try #require(try await store.claimDue(owner: "crashed", limit: 10, lease: .seconds(30)).first)
    #expect(try await store.claimDue(owner: "other", limit: 10, lease: .seconds(30)).isEmpty, "held by a live lease")
    // The crashed replica's lease runs out (moved into the past rather than waited for).
    try await database.client.query(
      "UPDATE call_attempts SET lease_expires_at = now() - interval '1 second' WHERE trace_id = \(receipt.traceID)")
    let second = try #require(try await store.claimDue(owner: "other", limit: 10, lease: .seconds(30)).first)
    #expect(second.request.traceID == receipt.traceID)
    try await store.markDispatched(first)
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_attempts WHERE status = 'dispatching' AND lease_owner = 'other'") == 1)
    try await store.markDispatched(second)
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 1)
  }

  @Test("scheduled attempts are never dispatched before their time")
  func neverEarly() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let soon = Date().addingTimeInterval(1.5)
    let later = try await database.call(tenant, phone: "+919800000001", scheduledFor: Date().addingTimeInterval(3600))
    let near = try await database.call(tenant, phone: "+919800000002", scheduledFor: soon)
    let dialer = RecordingDialer()
    let dispatched = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      // Wait for the recorded dispatch, not just the dial: dispatches are written in batches.
      try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE trace_id = '\(near.traceID.lowercased)' AND status = 'dispatched'")
          == 1
      }
    }
    #expect(await dialer.dials[near.traceID] == 1)
    #expect(dispatched)
    #expect(await dialer.dials[later.traceID] == nil)
    let rows = try await database.client.query(
      "SELECT dispatched_at >= scheduled_for FROM call_attempts WHERE trace_id = \(near.traceID)")
    for try await onTime in rows.decode(Bool.self) { #expect(onTime) }
  }

  @Test("a retry policy makes exactly max_attempts attempts, each carrying the threaded context")
  func retryPolicy() async throws {
    let database = try await IsolatedDatabase.make()
    let policy = RetryPolicy(maxAttempts: 3, retryOn: [.noAnswer], delaysSeconds: [0])
    let tenant = try await database.tenant(agent: .init(phoneNumber: "+14155550123", retryPolicy: policy))
    let first = try await database.call(
      tenant,
      parameters: ["sim_outcome": "no_answer", "sim_duration_ms": "30", "sim_collected": #"{"best_time":"evening"}"#],
      context: RetryContext(collectedData: ["customer_name": "Rahul"], language: "hi-IN"))
    let settled = try await whileRunning([database.dispatcher("a", dialer: database.simulatedDialer())]) {
      try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE conversation_id = '\(first.conversationID.lowercased)' AND status = 'no_answer'"
        ) == 3
      }
    }
    #expect(settled)
    let chain = try #require(
      try await database.store.conversation(.init(conversationID: first.conversationID), tenantID: tenant.id))
    #expect(chain.attempts.map(\.attemptNumber) == [1, 2, 3])
    #expect(chain.attempts.allSatisfy { $0.status == .noAnswer })
    for retry in chain.attempts.dropFirst() {
      #expect(retry.retryContext == nil, "retries carry no request context of their own")
      #expect(retry.effectiveRetryContext.collectedData?["customer_name"] == "Rahul")
      #expect(retry.effectiveRetryContext.language == "hi-IN")
      #expect(retry.scheduledFor != nil)
    }
    // The simulated outcome reported no collected data for no_answer; the threaded state still holds the request's.
    #expect(chain.state.collectedData["customer_name"] == "Rahul")
  }

  @Test("collected data reported by an attempt reaches the next attempt's effective context")
  func threadingFromEvents() async throws {
    let database = try await IsolatedDatabase.make()
    let policy = RetryPolicy(maxAttempts: 2, retryOn: [.failed], delaysSeconds: [0])
    let tenant = try await database.tenant(agent: .init(phoneNumber: "+14155550123", retryPolicy: policy))
    let first = try await database.call(
      tenant,
      parameters: [
        "sim_outcome": "failed", "sim_duration_ms": "30", "sim_collected": #"{"amount_due":1200}"#,
        "sim_stage": "negotiation",
      ])
    let done = try await whileRunning([database.dispatcher("a", dialer: database.simulatedDialer())]) {
      try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE conversation_id = '\(first.conversationID.lowercased)' AND status = 'failed'"
        ) == 2
      }
    }
    #expect(done)
    let chain = try #require(
      try await database.store.conversation(.init(conversationID: first.conversationID), tenantID: tenant.id))
    #expect(chain.attempts.count == 2)
    #expect(chain.attempts[1].effectiveRetryContext.collectedData?["amount_due"] == 1200)
    #expect(chain.attempts[1].effectiveRetryContext.stageID == "negotiation")
    #expect(chain.attempts[0].failureReason == "simulated failure")
  }

  @Test("a calling window that is closed now defers dispatch to its next opening")
  func callingWindow() async throws {
    let database = try await IsolatedDatabase.make()
    // Open 09:00-10:00 UTC every day; the dispatcher's clock says 03:10, so it is closed.
    let utc = TimeZone(identifier: "UTC")!
    let window = CallingWindow(timeZone: utc, weekdays: Set(1...7), startMinute: 9 * 60, endMinute: 10 * 60)
    let now = try Date("2027-01-04T03:10:00Z", strategy: .iso8601)
    let opening = try Date("2027-01-04T09:00:00Z", strategy: .iso8601)
    #expect(window.nextOpening(atOrAfter: now) == opening)
    let tenant = try await database.tenant(agent: .init(phoneNumber: "+14155550123", callingWindow: window))
    let receipt = try await database.call(tenant)
    let dialer = RecordingDialer()
    let deferred = try await whileRunning([database.dispatcher("a", dialer: dialer, now: { now })]) {
      try await database.eventually {
        try await database.count(
          """
          SELECT count(*) FROM call_attempts WHERE trace_id = '\(receipt.traceID.lowercased)'
            AND status = 'initiated' AND due_at = '2027-01-04T09:00:00Z'
          """) == 1
      }
    }
    #expect(deferred, "postponed to the window's opening by the dispatcher's clock")
    #expect(await dialer.total == 0)
  }

  @Test("scheduled calls meet the per-number limit at dispatch: deferred, never dropped")
  func limitsAtDispatch() async throws {
    let database = try await IsolatedDatabase.make()
    let id = try await database.accounts.createTenant(name: "limited", settings: .init(numberRateLimit: 1))
    try await database.accounts.saveAgent(
      tenantID: id, agentID: 7, phoneNumber: "+14155550123", name: nil, update: false)
    database.keys.set(try await database.accounts.createAPIKey(tenantID: id), for: id)
    let tenant = Tenant(id: id, name: "limited")
    let at = Date().addingTimeInterval(0.5)
    let one = try await database.call(tenant, scheduledFor: at)
    let two = try await database.call(tenant, scheduledFor: at)
    let dialer = RecordingDialer()
    let settled = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      try await database.eventually {
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE status = 'scheduled' AND due_at > now() + interval '50 minutes'")
          == 1
      }
    }
    #expect(settled)
    let dials = await dialer.dials
    #expect(dials.count == 1)
    #expect(dials[one.traceID] == 1 || dials[two.traceID] == 1)
    #expect(
      try await database.count("SELECT count(*) FROM call_attempts") == 2, "the limited call waits, it is not dropped")
  }

  @Test("a dialer that refuses, hangs or fails leaves the attempt failed and blocks no other call")
  func failingDialer() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let receiver = WebhookReceiver(statuses: [.internalServerError])
    let url = try await receiver.start()
    try atTestEnd { await receiver.stop() }
    var configuration = WebhookDialer.Configuration(url: url, secret: Secret("dialer-secret"))
    configuration.backoff = [.milliseconds(10)]
    let failing = try await database.call(tenant)
    let dispatcher = database.dispatcher(
      "a", dialer: WebhookDialer(configuration: configuration, client: .shared, logger: database.logger))
    let failed = try await whileRunning([dispatcher]) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'failed'") == 1
      }
    }
    #expect(failed)
    #expect(await receiver.received.count == 3, "three tries")
    let attempt = try #require(try await database.store.call(traceID: failing.traceID, tenantID: tenant.id))
    #expect(attempt.failureReason?.contains("HTTP 500") == true)
  }

  @Test("the webhook dialer signs what it sends; the signature verifies")
  func dialerSignature() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let receiver = WebhookReceiver()
    let url = try await receiver.start()
    try atTestEnd { await receiver.stop() }
    let receipt = try await database.call(tenant, context: RetryContext(collectedData: ["k": "v"]))
    let dialer = WebhookDialer(
      configuration: .init(url: url, secret: Secret("s3cret")), client: .shared, logger: database.logger)
    let done = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 1
      }
    }
    #expect(done)
    let request = try #require(await receiver.received.first)
    let timestamp = try #require(request.headers["x-switchboard-timestamp"])
    #expect(request.headers["x-switchboard-signature"] == expectedSignature("s3cret", timestamp, request.body))
    let body = try JSONValue.decode(request.body)
    #expect(body["trace_id"] == .string(receipt.traceID.lowercased))
    #expect(body["agent"]?["phone_number"] == "+14155550123")
    #expect(body["retry_context"]?["collected_data"]?["k"] == "v")
  }

  @Test("outcomes and cancellations reach the agent's webhook once, signed, with the retry block")
  func outcomeWebhooks() async throws {
    let database = try await IsolatedDatabase.make()
    let receiver = WebhookReceiver(statuses: [.serviceUnavailable, .ok])
    let url = try await receiver.start()
    try atTestEnd { await receiver.stop() }
    let policy = RetryPolicy(maxAttempts: 2, retryOn: [.busy], delaysSeconds: [3600])
    let tenant = try await database.tenant(
      agent: .init(phoneNumber: "+14155550123", retryPolicy: policy, webhookURL: url, webhookSecret: "hook-secret"))
    let busy = try await database.call(tenant, parameters: ["sim_outcome": "busy", "sim_duration_ms": "30"])
    let deliverer = OutboxDeliverer(
      outbox: PostgresOutbox(database: database.database), sender: WebhookSender(client: .shared),
      pollInterval: .milliseconds(50),
      logger: database.logger)
    let delivering = Task { try await deliverer.run() }
    defer { delivering.cancel() }
    let retried = try await whileRunning([database.dispatcher("a", dialer: database.simulatedDialer())]) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM event_deliveries WHERE delivered_at IS NOT NULL") == 1
      }
    }
    #expect(retried)
    // The retry is scheduled an hour out; cancel it: that is an outcome too.
    let next = try #require(
      try await database.store.conversation(.init(conversationID: busy.conversationID), tenantID: tenant.id)?.attempts
        .last)
    #expect(next.attemptNumber == 2)
    _ = try await database.operations.cancelCall(traceID: next.traceID.lowercased, tenant: tenant)
    let both = try await database.eventually {
      try await database.count("SELECT count(*) FROM event_deliveries WHERE delivered_at IS NOT NULL") == 2
    }
    #expect(both)

    let received = await receiver.received
    #expect(received.count == 3, "one 503, then delivered, then the cancellation")
    for request in received {
      let timestamp = try #require(request.headers["x-switchboard-timestamp"])
      #expect(request.headers["x-switchboard-signature"] == expectedSignature("hook-secret", timestamp, request.body))
    }
    let outcome = try JSONValue.decode(received[1].body)
    #expect(outcome["event_type"] == "call.busy")
    #expect(outcome["data"]?["call"]?["trace_id"] == .string(busy.traceID.lowercased))
    #expect(outcome["data"]?["retry"]?["attempt_number"] == 1)
    #expect(outcome["data"]?["retry"]?["max_attempts"] == 2)
    #expect(outcome["data"]?["retry"]?["is_final_attempt"] == false)
    #expect(outcome["data"]?["retry"]?["next_retry_at"]?.stringValue != nil)
    let canceled = try JSONValue.decode(received[2].body)
    #expect(canceled["event_type"] == "call.canceled")
    #expect(canceled["data"]?["retry"]?["is_final_attempt"] == true)
    #expect(
      try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'canceled' AND dispatched_at IS NULL")
        == 1)
  }
}

func expectedSignature(_ secret: String, _ timestamp: String, _ body: String) -> String {
  let mac = HMAC<SHA256>.authenticationCode(
    for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
  return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
}

/// A dialer that never answers for numbers ending in 0000, and takes every other call at once.
struct HangingDialer: Dialer {
  let recorder = RecordingDialer()

  func dial(_ request: DialRequest) async -> DialResult {
    if request.customerPhone.hasSuffix("0000") {
      try? await Task.sleep(for: .seconds(600))
      return .failed(reason: "gave up")
    }
    return await recorder.dial(request)
  }
}

@Suite("Dispatch under faults", .isolatedDatabases)
struct DispatchFaultTests {
  @Test("a dialer hanging on one call blocks no other call")
  func hangingDialer() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let stuck = try await database.call(tenant, phone: "+919800000000")
    for index in 1...20 { _ = try await database.call(tenant, phone: "+9198000000\(String(format: "%02d", index))") }
    let dialer = HangingDialer()
    let others = try await whileRunning([database.dispatcher("a", dialer: dialer)]) {
      try await database.eventually {
        try await database.count("SELECT count(*) FROM call_attempts WHERE status = 'dispatched'") == 20
      }
    }
    #expect(others)
    #expect(await dialer.recorder.total == 20)
    let held = try #require(try await database.store.call(traceID: stuck.traceID, tenantID: tenant.id))
    #expect(held.status == .dispatching, "still held by its lease, to be claimed again if this replica dies")
  }
}
