import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Synchronization
import Testing

/// Do-not-call lists, spoken opt-outs and caps per number, against real dispatchers.
@Suite("Compliance at intake and dispatch", .isolatedDatabases)
struct ComplianceTests {
  func compliance(_ database: IsolatedDatabase) -> ComplianceOperations {
    ComplianceOperations(
      calls: database.operations, store: PostgresCompliance(database: database.database, logger: database.logger))
  }

  func traced(_ body: () async throws -> Void) async {
    do { try await body() } catch { Issue.record("\(String(reflecting: error))") }
  }

  /// The batch's size: 500 in the suite (it runs beside every other test on two cores);
  /// `scripts/race-suppression` runs it at 5,000, the issue's figure.
  static let raceRows = ProcessInfo.processInfo.environment["SWITCHBOARD_RACE_ROWS"].flatMap(Int.init) ?? 500

  @Test("50 numbers suppressed while a batch dispatches on two dispatchers: no dial of one after its answer")
  func race() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "compliance")
      let tenant = try await database.tenant()
      let size = Self.raceRows
      let phone = { (index: Int) in "+9197\(String(format: "%08d", index))" }
      var recipients = BatchRecipients()
      for index in 0..<size {
        recipients.add(
          BatchRecipientInput(
            line: index + 2, parameters: [CallParameter(name: "customer_phone", value: phone(index))]),
          agentID: 7, now: Date())
      }
      let batches = BatchOperations(
        calls: database.operations,
        store: PostgresBatchStore(
          database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger))
      let batch = try await batches.create(
        BatchOptions.validate(BatchOptionsInput(agentID: 7, name: "race"), now: Date()), recipients: recipients,
        tenant: tenant
      ).batch
      let dialer = PhoneDialer(operations: database.operations)
      let compliance = compliance(database)
      // Spread over the batch, so that some are dialed before their suppression and most are not.
      // Few dials in flight, so the batch is still dialing when the suppressions come (admission
      // decides a dispatcher's whole claim at once: with 512 in flight it admits hundreds at once).
      let suppressed = (0..<50).map { phone($0 * (size / 50) + 7) }
      var answered: [String: ContinuousClock.Instant] = [:]
      try await whileRunning([
        database.dispatcher("a", dialer: dialer, maxInFlight: 4),
        database.dispatcher("b", dialer: dialer, maxInFlight: 4),
      ]) {
        #expect(try await database.eventually { await dialer.count >= size / 25 })
        answered = try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
          for number in suppressed {
            group.addTask {
              _ = try await compliance.add([SuppressionInput(phoneNumber: number, reason: "asked")], tenant: tenant)
              return (number, ContinuousClock.now)
            }
          }
          var answers: [String: ContinuousClock.Instant] = [:]
          for try await (number, at) in group { answers[number] = at }
          return answers
        }
        #expect(
          try await database.eventually {
            try await database.count(
              "SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id) AND status IN ('completed', 'suppressed')"
            )
              == size
          })
      }
      var late = 0
      for number in suppressed {
        let starts = await dialer.starts(of: number)
        late += starts.filter { $0 > answered[number]! }.count
      }
      #expect(late == 0, "dials of a suppressed number after its answer")
      let ended = try await database.count(
        "SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id) AND status = 'suppressed'")
      var dialedSuppressed = 0
      for number in suppressed where await !dialer.starts(of: number).isEmpty { dialedSuppressed += 1 }
      #expect(ended == 50 - dialedSuppressed, "each suppressed number not dialed before its answer ended suppressed")
      #expect(ended > 0)
      #expect(await dialer.count == size - ended, "every other contact dialed once")
      // Each ending is recorded with its reason, and the analysts' view shows it.
      #expect(
        try await database.count(
          "SELECT count(*) FROM compliance_decisions WHERE decision = 'suppressed' AND reason = 'suppressed'") == ended)
      let metrics = try await batches.metrics(String(batch.id), tenant: tenant)
      #expect(metrics.totalProcessed == size)
    }
  }

  @Test(
    "a suppressed number: MakeCall is a 403 that writes nothing; an agent's entry binds only that agent; removal lifts it"
  )
  func intake() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "compliance")
      let tenant = try await database.tenant()
      try await database.accounts.saveAgent(
        tenantID: tenant.id, agentID: 8, settings: .init(phoneNumber: "+14155550124"), update: false)
      let compliance = compliance(database)
      _ = try await compliance.add([SuppressionInput(phoneNumber: "+919800000001")], tenant: tenant)
      _ = try await compliance.add(
        [SuppressionInput(phoneNumber: "+919800000002", scope: "agent", agentID: 8)], tenant: tenant)
      for scheduled in [nil, Date().addingTimeInterval(600)] {
        do {
          _ = try await database.call(tenant, phone: "+919800000001", scheduledFor: scheduled)
          Issue.record("a suppressed number was accepted")
        } catch let error as SwitchboardError {
          #expect(error.type == "number_suppressed")
          #expect(error.message == "customer_phone is on the do-not-call list")
        }
      }
      #expect(try await database.count("SELECT count(*) FROM call_attempts") == 0)
      // Agent 8's entry does not bind agent 7.
      _ = try await database.call(tenant, phone: "+919800000002")
      // Another tenant's list is its own.
      let other = try await database.tenant()
      _ = try await database.call(other, phone: "+919800000001")
      let page = try await compliance.list(SuppressionFilter(), tenant: other)
      #expect(page.entries.isEmpty)
      await #expect(throws: SwitchboardError.self) {
        try await compliance.remove(phoneNumber: "+919800000001", agentID: nil, tenant: other)
      }
      try await compliance.remove(phoneNumber: "+919800000001", agentID: nil, tenant: tenant)
      _ = try await database.call(tenant, phone: "+919800000001")
      #expect(try await database.count("SELECT count(*) FROM call_attempts") == 3)
      // A batch reports the suppressed rows and never writes them.
      let receipt = try await database.batch(
        tenant, phones: ["+919800000002", "+919800000003"], agentID: 8, name: "dnc")
      #expect(receipt.totalRejected == 1)
      #expect(receipt.rejected.first?.line == 2)
      #expect(receipt.batch.totalRecipients == 1)
    }
  }

  @Test("a scheduled call whose number is suppressed after acceptance ends suppressed at suppression, with its event")
  func waitingEnds() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "compliance")
      let tenant = try await database.tenant(
        agent: .init(phoneNumber: "+14155550123", webhookURL: "http://127.0.0.1:9/hooks", webhookSecret: "whsec"))
      let later = try await database.call(tenant, phone: "+919800000009", scheduledFor: Date().addingTimeInterval(600))
      let counts = try await compliance(database).add([SuppressionInput(phoneNumber: "+919800000009")], tenant: tenant)
      #expect(counts.endedAttempts == 1)
      let attempt = try #require(try await database.store.call(traceID: later.traceID, tenantID: tenant.id))
      #expect(attempt.status == .suppressed)
      #expect(attempt.blockedReason == .suppressed)
      #expect(
        try await database.count(
          "SELECT count(*) FROM event_deliveries WHERE event_type = 'call.suppressed' AND trace_id = '\(later.traceID.lowercased)'"
        )
          == 1)
      #expect(try await database.count("SELECT count(*) FROM call_events WHERE status = 'suppressed'") == 1)
    }
  }

  @Test("a spoken opt-out suppresses the number and ends the chain's retry and every other waiting attempt to it")
  func optOut() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "compliance")
      let tenant = try await database.tenant(
        agent: .init(
          phoneNumber: "+14155550123",
          retryPolicy: RetryPolicy(maxAttempts: 3, retryOn: [.noAnswer], delaysSeconds: [600]),
          webhookURL: "http://127.0.0.1:9/hooks", webhookSecret: "whsec"))
      let now = try await database.call(tenant, phone: "+919800000010")
      let other = try await database.call(tenant, phone: "+919800000010", scheduledFor: Date().addingTimeInterval(900))
      var input = CallEventInput(eventID: "stop", status: "no_answer")
      input.optOut = true
      _ = try await database.operations.recordInternally(input, traceID: now.traceID, tenantID: tenant.id)
      // The retry the no_answer earned, and the other scheduled call, ended suppressed (opt_out).
      #expect(
        try await database.count(
          "SELECT count(*) FROM call_attempts WHERE status = 'suppressed' AND blocked_reason = 'opt_out'") == 2)
      let entry = try #require(
        try await compliance(database).list(SuppressionFilter(phoneNumber: "+919800000010"), tenant: tenant).entries
          .first)
      #expect(entry.source == .optOut && entry.traceID == now.traceID && entry.agentID == nil)
      let otherAttempt = try #require(try await database.store.call(traceID: other.traceID, tenantID: tenant.id))
      #expect(otherAttempt.status == .suppressed)
      #expect(
        try await database.count(
          """
          SELECT count(*) FROM event_deliveries WHERE trace_id = '\(now.traceID.lowercased)'
            AND (payload -> 'data' ->> 'opt_out')::boolean AND payload -> 'data' -> 'retry' ->> 'next_retry_at' IS NULL
          """) == 1)
      do {
        _ = try await database.call(tenant, phone: "+919800000010")
        Issue.record("an opted-out number was accepted")
      } catch let error as SwitchboardError {
        #expect(error.type == "number_suppressed")
      }
    }
  }

  @Test(
    "caps: over them an immediate call is a 429 with next_allowed_at, a scheduled one is deferred once, the check says why"
  )
  func caps() async {
    await traced {
      let database = try await IsolatedDatabase.make(prefix: "compliance")
      let tenant = try await database.tenant()
      try await database.accounts.setContactLimits(
        ContactLimits(limits: [.init(maxAttempts: 2, windowHours: 24)]), tenantID: tenant.id)
      let dialer = PhoneDialer(operations: database.operations)
      let number = "+919800000020"
      try await whileRunning([database.dispatcher("a", dialer: dialer), database.dispatcher("b", dialer: dialer)]) {
        // Ten scheduled calls due now race two dispatchers: two are dialed, eight are deferred.
        for _ in 0..<10 {
          _ = try await database.call(tenant, phone: number, scheduledFor: Date().addingTimeInterval(1))
        }
        #expect(
          try await database.eventually {
            try await database.count(
              "SELECT count(*) FROM call_attempts WHERE status = 'scheduled' AND blocked_reason = 'contact_limit' AND due_at > now() + interval '23 hours'"
            )
              == 8
          })
      }
      #expect(await dialer.starts(of: number).count == 2)
      #expect(
        try await database.count(
          "SELECT count(*) FROM compliance_decisions WHERE decision = 'deferred' AND reason = 'contact_limit'") >= 8)
      do {
        _ = try await database.call(tenant, phone: number)
        Issue.record("a call over the cap was accepted")
      } catch let error as SwitchboardError {
        guard case .contactLimited(let next) = error.kind else {
          Issue.record("expected contact_limit_exceeded, got \(error)")
          return
        }
        #expect(error.type == "contact_limit_exceeded")
        #expect(next > Date().addingTimeInterval(23 * 3600))
      }
      let verdict = try await compliance(database).check(customerPhone: number, agentID: 7, at: nil, tenant: tenant)
      #expect(!verdict.allowed && verdict.reasons == [.contactLimit] && verdict.nextAllowedAt != nil)
      let later = try await compliance(database).check(
        customerPhone: number, agentID: 7, at: Date().addingTimeInterval(25 * 3600), tenant: tenant)
      #expect(later.allowed && later.reasons.isEmpty)
      #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE customer_phone = '\(number)'") == 10)
    }
  }
}

/// Records when each number was dialed, and completes each call shortly after.
actor PhoneDialer: Dialer {
  let operations: CallOperations
  private var byPhone: [String: [ContinuousClock.Instant]] = [:]
  private(set) var count = 0

  init(operations: CallOperations) { self.operations = operations }

  func starts(of phone: String) -> [ContinuousClock.Instant] { byPhone[phone] ?? [] }

  func dial(_ request: DialRequest) async -> DialResult {
    byPhone[request.customerPhone, default: []].append(.now)
    count += 1
    let operations = operations
    Task {
      try? await Task.sleep(for: .milliseconds(10))
      for _ in 0..<5 {
        do {
          _ = try await operations.recordInternally(
            CallEventInput(eventID: "done", status: "completed", durationSeconds: 1), traceID: request.traceID,
            tenantID: request.tenantID)
          return
        } catch {}
      }
    }
    return .accepted
  }
}
