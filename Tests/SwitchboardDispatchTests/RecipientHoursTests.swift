import Foundation
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

/// Calling hours in the recipient's own zone, at intake and at dispatch.
@Suite("Recipient hours", .isolatedDatabases)
struct RecipientHoursDispatchTests {
  /// One hour a day, two hours from now in UTC (so now is outside it), and its next opening.
  static func closedHour(now: Date = Date()) -> (hours: RecipientHours, opening: Date) {
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = .gmt
    let hour = utc.component(.hour, from: now)
    let start = (hour + 2) % 24 == 23 ? 1 : (hour + 2) % 24
    let today = utc.startOfDay(for: now)
    var opening = today.addingTimeInterval(TimeInterval(start * 3600))
    if opening <= now { opening.addTimeInterval(86_400) }
    return (RecipientHours(startMinute: start * 60, endMinute: start * 60 + 60), opening)
  }

  func call(
    _ database: IsolatedDatabase, _ tenant: Tenant, phone: String = "+447700900123", zone: String? = "UTC",
    scheduledFor: Date? = nil
  ) async throws -> CallReceipt {
    var input = MakeCallInput(
      agentID: 7, parameters: [CallParameter(name: "customer_phone", value: phone)], scheduledFor: scheduledFor)
    input.recipientTimezone = zone
    let caller = try await database.operations.authenticateCaller(
      authorization: "Bearer \(try database.keys.key(for: tenant.id))")
    return try await database.operations.makeCall(input, caller: caller).receipt
  }

  @Test("a call placed now outside the hours is deferred to the opening (default) with its reason, or refused (reject)")
  func intake() async throws {
    let database = try await IsolatedDatabase.make(prefix: "hours")
    let (hours, opening) = Self.closedHour()

    let deferring = try await database.tenant()
    try await database.accounts.setRecipientHours(hours, tenantID: deferring.id)
    let receipt = try await call(database, deferring)
    #expect(receipt.status == .scheduled)
    #expect(receipt.scheduledFor == opening)
    #expect(
      try await database.count(
        """
        SELECT count(*) FROM call_attempts WHERE trace_id = '\(receipt.traceID.lowercased)'
          AND status = 'scheduled' AND blocked_reason = 'outside_recipient_hours' AND recipient_timezone = 'UTC'
        """) == 1)
    #expect(
      try await database.count(
        """
        SELECT count(*) FROM compliance_decisions WHERE trace_id = '\(receipt.traceID.lowercased)'
          AND decision = 'deferred' AND reason = 'outside_recipient_hours' AND deferred_until = '\(Timestamp.format(opening))'
        """) == 1)
    // A scheduled call is taken as it is: dispatch checks it when it falls due.
    let later = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 600).rounded())
    let scheduled = try await call(database, deferring, scheduledFor: later)
    #expect(scheduled.scheduledFor == later)

    let rejecting = try await database.tenant()
    try await database.accounts.setRecipientHours(hours, tenantID: rejecting.id)
    try await database.accounts.setRecipientHoursPolicy(
      outsideHours: .reject, unknownTimezone: .refuse, timeZone: nil, tenantID: rejecting.id)
    #expect(try await refusal { _ = try await call(database, rejecting) } == "outside_calling_hours")
    do {
      _ = try await call(database, rejecting)
    } catch let error as SwitchboardError {
      guard case .outsideCallingHours(let next) = error.kind else { throw error }
      #expect(next == opening)
    }
    // A toll-free number is in no zone: refused, scheduled or not.
    for scheduledFor in [nil, later] {
      #expect(
        try await refusal {
          _ = try await call(database, rejecting, phone: "+80012345678", zone: nil, scheduledFor: scheduledFor)
        } == "recipient_timezone_unknown")
    }
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE tenant_id = \(rejecting.id)") == 0)
    // Inside the hours (their zone given by the call), it is placed now.
    let open = try await call(database, rejecting, zone: Self.zone(where: opening))
    #expect(open.status == .initiated)

    #expect(
      try await refusal { _ = try await call(database, deferring, zone: "Mars/Olympus_Mons") } == "invalid_request")
    #expect(
      try await database.count("SELECT count(*) FROM call_attempts WHERE tenant_id = \(deferring.id)") == 2,
      "the refusals wrote nothing")
  }

  /// The `type` of the SwitchboardError `work` throws; nil when it succeeds.
  func refusal(_ work: () async throws -> Void) async throws -> String? {
    do {
      try await work()
      return nil
    } catch let error as SwitchboardError {
      return error.type
    }
  }

  /// A fixed-offset zone whose clock reads, now, the hour `opening` starts at in UTC.
  static func zone(where opening: Date, now: Date = Date()) -> String {
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = .gmt
    let offset = (utc.component(.hour, from: opening) - utc.component(.hour, from: now) + 24) % 24
    let hours = offset > 12 ? offset - 24 : offset
    // Etc/GMT-5 is five hours ahead of UTC (the sign is POSIX's).
    return hours == 0 ? "UTC" : "Etc/GMT\(hours > 0 ? "-" : "+")\(abs(hours))"
  }

  @Test("dispatch defers an attempt outside the recipient's hours to their opening in every candidate zone")
  func dispatch() async throws {
    let database = try await IsolatedDatabase.make(prefix: "hours")
    let tenant = try await database.tenant()
    // Accepted while the tenant had no hours; then hours 10:00-18:00 in the recipient's zone.
    let india = try await call(database, tenant, phone: "+919876543210", zone: nil)
    let newYork = try await call(database, tenant, phone: "+12125551234", zone: nil)
    let london = try await call(database, tenant, phone: "+447700900123", zone: nil)
    // And a batch of two New York numbers, whose deferrals its metrics count.
    let batch = try await database.batch(tenant, phones: ["+12125550001", "+12125550002"], name: "hours").batch
    let batches = database.batches
    try await database.accounts.setRecipientHours(
      RecipientHours(startMinute: 10 * 60, endMinute: 18 * 60), tenantID: tenant.id)
    // 2027-01-04 05:00 UTC: 10:30 in Kolkata (inside), 00:00 in New York, 05:00 in London.
    let now = try Date("2027-01-04T05:00:00Z", strategy: .iso8601)
    let dialer = RecordingDialer()
    let deferred = try await whileRunning([database.dispatcher("a", dialer: dialer, now: { now })]) {
      let singles = try await database.eventually {
        try await database.count(
          """
          SELECT count(*) FROM call_attempts WHERE tenant_id = \(tenant.id) AND status = 'initiated'
            AND blocked_reason = 'outside_recipient_hours'
            AND ((trace_id = '\(newYork.traceID.lowercased)' AND due_at = '2027-01-04T15:00:00Z')
              OR (trace_id = '\(london.traceID.lowercased)' AND due_at = '2027-01-04T10:00:00Z'))
          """) == 2
      }
      let batched = try await database.eventually {
        try await batches.metrics(String(batch.id), tenant: tenant).deferredOutsideHoursCount == 2
      }
      return singles && batched
    }
    #expect(deferred, "New York opens at 10:00 EST, London at 10:00 GMT; the batch's two are deferred")
    let metrics = try await batches.metrics(String(batch.id), tenant: tenant)
    #expect(metrics.waitingCount == 2 && metrics.deferredContactLimitCount == 0)
    #expect(await dialer.total == 1)
    #expect(
      try await database.count(
        "SELECT count(*) FROM call_attempts WHERE trace_id = '\(india.traceID.lowercased)' AND status = 'dispatched'")
        == 1)
    #expect(
      try await database.count(
        "SELECT count(*) FROM compliance_decisions WHERE tenant_id = \(tenant.id) AND reason = 'outside_recipient_hours'"
      )
        == 4, "two single calls and the batch's two")
  }

  @Test("the check reports outside_recipient_hours, the opening and the candidate zones")
  func check() async throws {
    let database = try await IsolatedDatabase.make(prefix: "hours")
    let tenant = try await database.tenant()
    try await database.accounts.setRecipientHours(
      RecipientHours(startMinute: 10 * 60, endMinute: 18 * 60), tenantID: tenant.id)
    let compliance = ComplianceOperations(
      calls: database.operations,
      store: PostgresCompliance(database: database.database, logger: database.logger))
    let at = try Date("2027-01-04T05:00:00Z", strategy: .iso8601)
    let verdict = try await compliance.check(customerPhone: "+12125551234", agentID: 7, at: at, tenant: tenant)
    #expect(!verdict.allowed)
    #expect(verdict.reasons == [.outsideRecipientHours])
    #expect(verdict.nextAllowedAt == (try Date("2027-01-04T15:00:00Z", strategy: .iso8601)))
    #expect(verdict.recipientTimezones.contains("America/New_York"))
    let inside = try await compliance.check(customerPhone: "+919876543210", agentID: 7, at: at, tenant: tenant)
    #expect(inside.allowed && inside.nextAllowedAt == nil)
  }
}
