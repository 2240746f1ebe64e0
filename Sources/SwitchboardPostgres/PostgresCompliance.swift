import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// Suppression lists and the compliance check, in PostgreSQL. The rules themselves are
/// `switchboard_compliance_check` (read) and `switchboard_suppress_numbers` (write).
public struct PostgresCompliance: ComplianceStore {
  let database: Database
  let chainChanges: Notifier?
  let logger: Logger
  /// The longest a suppression's answer waits for dials of its numbers that were starting.
  let settleDeadline: Duration

  public init(
    database: Database, logger: Logger, chainChanges: Notifier? = nil,
    settleDeadline: Duration = .seconds(10)
  ) {
    self.database = database
    self.logger = logger
    self.chainChanges = chainChanges
    self.settleDeadline = settleDeadline
  }

  /// Rows of `switchboard_suppress_numbers` per statement (an import's chunk).
  static let chunkSize = 5_000
  /// Chunks written at once: an import of a million numbers keeps two cores busy.
  static let chunksInFlight = 3

  public func suppress(_ entries: [Suppression], tenantID: Int64) async throws -> SuppressOutcome {
    let agents = Set(entries.compactMap(\.agentID))
    if !agents.isEmpty {
      let missing = try await database.run { connection, logger -> Int64? in
        let rows = try await connection.query(
          """
          SELECT x.id FROM unnest(\(Array(agents))::bigint[]) AS x(id)
          WHERE NOT EXISTS (SELECT 1 FROM agents g WHERE g.tenant_id = \(tenantID) AND g.agent_id = x.id)
          LIMIT 1
          """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        return nil
      }
      if let missing { return .agentNotFound(missing) }
    }
    // An import holds each number once (SuppressionImport) and a request of entries is one chunk,
    // so chunks touch different numbers and a few are written at once; each settles before the
    // answer.
    let chunks = stride(from: entries.startIndex, to: entries.endIndex, by: Self.chunkSize).map {
      Array(entries[$0..<min($0 + Self.chunkSize, entries.endIndex)])
    }
    let ended = try await withThrowingTaskGroup(of: Int.self) { group in
      var next = chunks.makeIterator()
      func start() {
        guard let chunk = next.next() else { return }
        group.addTask {
          let chains = try await write(chunk, tenantID: tenantID)
          chainChanges?.post(chains: chains)
          await settle(numbers: Array(Set(chunk.map(\.phoneNumber))), tenantID: tenantID)
          return chains.count
        }
      }
      for _ in 0..<Self.chunksInFlight { start() }
      var ended = 0
      while let count = try await group.next() {
        ended += count
        start()
      }
      return ended
    }
    let (tenantWide, agentOnly) = (
      entries.filter { $0.agentID == nil }.count, entries.filter { $0.agentID != nil }.count
    )
    logger.info(
      "numbers suppressed",
      metadata: [
        "tenant_id": "\(tenantID)", "entries": "\(entries.count)", "tenant_scope": "\(tenantWide)",
        "agent_scope": "\(agentOnly)", "ended_attempts": "\(ended)",
        "first": "\(entries.first.map { Suppression.masked($0.phoneNumber) } ?? "")",
      ])
    return .written(entries: entries.count, endedAttempts: ended)
  }

  /// One chunk in one transaction: the entries, the waiting attempts they end, and those
  /// attempts' outcome webhooks. Answers the chains whose attempts ended.
  private func write(_ chunk: [Suppression], tenantID: Int64) async throws -> [UUID] {
    let payload = JSONValue.array(chunk.map(\.row)).encoded()
    return try await database.write { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        try await Self.suppress(payload, tenantID: tenantID, on: connection, logger: logger)
      }
    } readingBack: { connection, logger in
      // The chunk's entries are there: it was written (whatever it ended is announced with it).
      let rows = try await connection.query(
        """
        SELECT count(*) FROM jsonb_to_recordset(\(payload)::jsonb) AS x(phone_number text, agent_id bigint)
        WHERE NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.tenant_id = \(tenantID)
          AND s.phone_number = x.phone_number AND s.agent_id = x.agent_id)
        """, logger: logger)
      for try await missing in rows.decode(Int.self) where missing == 0 { return [] }
      return nil
    } unknown: { cause in
      .unavailable(cause: cause)
    }
  }

  /// `switchboard_suppress_numbers` on `connection`, in its caller's transaction, then the ended
  /// attempts' outcome webhooks. Answers their chains. The events path calls it for an opt-out.
  static func suppress(
    _ entriesJSON: String, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> [UUID] {
    let rows = try await connection.query(
      "SELECT trace_id, conversation_id FROM switchboard_suppress_numbers(\(tenantID), \(entriesJSON)::jsonb)",
      logger: logger)
    var ended: [(trace: UUID, chain: UUID)] = []
    for try await (trace, chain) in rows.decode((UUID, UUID).self) { ended.append((trace, chain)) }
    try await announceSuppressed(ended.map(\.trace), tenantID: tenantID, on: connection, logger: logger)
    return ended.map(\.chain)
  }

  /// Each attempt ended `suppressed`: its `call.suppressed` outcome webhook, in the transaction
  /// that ended it, and the metric.
  static func announceSuppressed(
    _ traceIDs: [UUID], tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws {
    guard !traceIDs.isEmpty else { return }
    var webhooksByAgent: [Int64: AgentWebhooks?] = [:]
    let outbox = OutboxWriter(connection: connection, logger: logger)
    let attempts = try await AttemptRow.decodeAll(
      try await connection.query(AttemptRow.select(tenantID: tenantID, traceIDs: traceIDs), logger: logger))
    for attempt in attempts {
      if webhooksByAgent[attempt.agentID] == nil {
        webhooksByAgent[attempt.agentID] = try await outbox.webhooks(tenantID: tenantID, agentID: attempt.agentID)
      }
      try await outbox.enqueue(
        attempt, tenantID: tenantID,
        retry: .final(attemptNumber: attempt.attemptNumber, maxAttempts: attempt.attemptNumber),
        webhooks: webhooksByAgent[attempt.agentID] ?? nil)
      Telemetry.complianceBlocked(reason: attempt.blockedReason ?? .suppressed)
    }
  }

  /// Waits until no attempt of these numbers is claimed by a dispatcher with a live lease (its
  /// dial starting now, claimed before the suppression), ending any that a claim let go of
  /// meanwhile, so that no dial of them starts after the answer. Bounded by ``settleDeadline``:
  /// an attempt still there is with a dialer that has not answered.
  func settle(numbers: [String], tenantID: Int64) async {
    let chainChanges = chainChanges
    await database.waitForNone(
      until: .now + settleDeadline, "suppression", metadata: ["tenant_id": "\(tenantID)"]
    ) { connection, logger in
      // An attempt a claim took before the entry, and let go since, ends now; one it still
      // holds is waited for (this UPDATE waits for the claim's commit when it is under way).
      let chains = try await connection.withTransaction(logger: logger) { connection in
        let rows = try await connection.query(
          "SELECT trace_id, conversation_id FROM switchboard_end_suppressed(\(tenantID), \(numbers)::text[])",
          logger: logger)
        var ended: [(UUID, UUID)] = []
        for try await row in rows.decode((UUID, UUID).self) { ended.append(row) }
        try await Self.announceSuppressed(ended.map(\.0), tenantID: tenantID, on: connection, logger: logger)
        return ended.map(\.1)
      }
      chainChanges?.post(chains: chains)
      let rows = try await connection.query(
        """
        SELECT count(*) FROM call_attempts a
        WHERE a.tenant_id = \(tenantID) AND a.customer_phone = ANY(\(numbers)::text[])
          AND a.status = 'dispatching' AND a.lease_expires_at > now()
        """, logger: logger)
      for try await count in rows.decode(Int.self) { return count }
      return 0
    }
  }

  public func suppressions(_ filter: SuppressionFilter, tenantID: Int64) async throws -> SuppressionPage {
    try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT phone_number, agent_id, reason, source, trace_id, created_at, expires_at FROM suppressions
        WHERE tenant_id = \(tenantID)
          AND (\(filter.phoneNumber)::text IS NULL OR phone_number = \(filter.phoneNumber))
          AND (\(filter.source?.rawValue)::text IS NULL OR source = \(filter.source?.rawValue))
          AND (\(filter.agentID)::bigint IS NULL OR agent_id = \(filter.agentID))
          AND (\(filter.afterPhone)::text IS NULL OR (phone_number, agent_id) > (\(filter.afterPhone), \(filter.afterAgent)))
        ORDER BY phone_number, agent_id
        LIMIT \(filter.limit + 1)
        """, logger: logger)
      var entries: [Suppression] = []
      for try await (phone, agent, reason, source, trace, created, expires) in rows.decode(
        (String, Int64, String?, String, UUID?, Date, Date?).self)
      {
        guard let source = SuppressionSource(rawValue: source) else {
          throw UnknownStoredValue(column: "suppressions.source", value: source)
        }
        entries.append(
          Suppression(
            phoneNumber: phone, agentID: agent == 0 ? nil : agent, reason: reason, source: source, traceID: trace,
            createdAt: created, expiresAt: expires))
      }
      let more = entries.count > filter.limit
      if more { entries.removeLast() }
      return SuppressionPage(
        entries: entries, nextCursor: more ? entries.last.map(SuppressionFilter.cursor(after:)) : nil)
    }
  }

  public func removeSuppression(phoneNumber: String, agentID: Int64?, tenantID: Int64) async throws -> Bool {
    let removed = try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        DELETE FROM suppressions WHERE tenant_id = \(tenantID) AND phone_number = \(phoneNumber)
          AND agent_id = \(agentID ?? 0)
        RETURNING 1
        """, logger: logger)
      for try await _ in rows { return true }
      return false
    }
    if removed {
      logger.info(
        "suppression removed",
        metadata: ["tenant_id": "\(tenantID)", "phone": "\(Suppression.masked(phoneNumber))"])
    }
    return removed
  }

  public func check(
    phoneNumber: String, agentID: Int64, at: Date?, tenantID: Int64
  ) async throws
    -> ComplianceVerdict?
  {
    try await database.run { connection, logger in
      let agent = try await connection.query(
        """
        SELECT coalesce(g.recipient_hours, t.recipient_hours)::text, t.outside_hours, t.unknown_timezone, t.timezone
        FROM agents g JOIN tenants t ON t.tenant_id = g.tenant_id
        WHERE g.tenant_id = \(tenantID) AND g.agent_id = \(agentID)
        """, logger: logger)
      var found = false
      var policy: RecipientHoursPolicy?
      for try await (hours, outside, unknown, zone) in agent.decode((String?, String, String, String).self) {
        found = true
        policy = try hours.map {
          RecipientHoursPolicy(
            hours: try RecipientHours(json: JSONValue.decode($0)),
            outsideHours: OutsideHours(rawValue: outside) ?? .defer,
            unknownTimezone: UnknownTimezone(rawValue: unknown) ?? .tenantZone,
            tenantZone: RecipientHoursPolicy.zone(named: zone) ?? .gmt)
        }
      }
      guard found else { return nil }
      let rows = try await connection.query(
        """
        SELECT o_allowed, o_reasons, o_next_allowed_at
        FROM switchboard_compliance_check(\(tenantID), \(agentID), \(phoneNumber), coalesce(\(at)::timestamptz, now()))
        """, logger: logger)
      for try await (allowed, reasons, next) in rows.decode((Bool, [String], Date?).self) {
        var verdict = ComplianceVerdict(
          allowed: allowed, reasons: reasons.compactMap(BlockedReason.init(rawValue:)), nextAllowedAt: next)
        verdict.recipientHours = policy
        return verdict
      }
      throw SwitchboardError.internalError()
    }
  }
}

extension Suppression {
  /// As `switchboard_suppress_numbers` reads an entry.
  var row: JSONValue {
    [
      "phone_number": .string(phoneNumber), "agent_id": .integer(agentID ?? 0),
      "reason": reason.map(JSONValue.string) ?? .null, "source": .string(source.rawValue),
      "trace_id": traceID.map { .string($0.lowercased) } ?? .null,
      "expires_at": expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
    ]
  }
}
