import Crypto
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore

/// ``CallStore`` on PostgreSQL: plain SQL with bound parameters, every query scoped by tenant and
/// bounded by ``Database``'s deadline. A write whose answer is lost is looked up before the caller
/// hears anything: found, it is the answer; surely absent, the caller gets a 503 (nothing was
/// written); still unknown, a 503 that says so.
///
/// A lifecycle service: ``run()`` runs the intake writers.
public struct PostgresCallStore: CallStore, Service {
  /// What the replica's configuration says (`--idempotency-hours`, `--intake-writers`); the
  /// store holds no defaults of its own.
  public struct Configuration: Sendable {
    /// How long an accepted call's idempotency key stays taken.
    public var idempotencyRetentionSeconds: Int
    /// Intake batches written at once, each on its own connection.
    public var intakeWriters: Int
    /// Most calls written in one intake batch: the statement's size, not a setting.
    public var maxIntakeBatch = 64

    public init(idempotencyRetentionSeconds: Int, intakeWriters: Int) {
      self.idempotencyRetentionSeconds = idempotencyRetentionSeconds
      self.intakeWriters = intakeWriters
    }
  }

  public let database: Database
  public var client: PostgresClient { database.client }
  public let configuration: Configuration
  let logger: Logger
  /// Told of every accepted immediate call, to wake the dispatchers.
  let dueNotifier: Notifier?
  /// Told of every chain this store changes, for watchers on every replica.
  let chainChanges: Notifier?
  private let intake: IntakeBatcher<IntakeCall, AcceptCallsStatement.Row>

  public init(
    database: Database, configuration: Configuration, logger: Logger, dueNotifier: Notifier? = nil,
    chainChanges: Notifier? = nil
  ) {
    self.database = database
    self.configuration = configuration
    self.logger = logger
    self.dueNotifier = dueNotifier
    self.chainChanges = chainChanges
    // A call is sent only with half its deadline left at least, so that PostgreSQL's own
    // statement timeout usually answers before the service would have to abandon the statement.
    intake = IntakeBatcher(
      writers: configuration.intakeWriters, maxBatch: configuration.maxIntakeBatch, maxWait: database.timeout / 2
    ) {
      calls throws(SwitchboardError) in
      try await Self.write(calls, retentionSeconds: configuration.idempotencyRetentionSeconds, database: database)
    }
  }

  /// A store on `client` with deadline `timeout` (tests and tools).
  public init(client: PostgresClient, timeout: Duration, configuration: Configuration, logger: Logger) {
    self.init(
      database: Database(client: client, timeout: timeout, logger: logger), configuration: configuration, logger: logger
    )
  }

  /// Runs the intake writers until graceful shutdown; calls made while they are not running are
  /// answered `unavailable`.
  public func run() async {
    await intake.run()
  }

  public func tenant(forAPIKey apiKey: String) async throws -> Tenant? {
    let hash = APIKeyHash.hex(of: apiKey)
    return try await database.run { connection, logger in
      for try await (id, name) in try await connection.execute(AuthenticateStatement(keyHashHex: hash), logger: logger)
      {
        return Tenant(id: id, name: name)
      }
      return nil
    }
  }

  public func recipientHoursRules(apiKey: String) async throws -> RecipientHoursRules? {
    let hash = APIKeyHash.hex(of: apiKey)
    return try await database.run { connection, logger in
      let rows = try await connection.query(
        """
        SELECT t.recipient_hours::text, t.outside_hours, t.unknown_timezone, t.timezone,
          (SELECT jsonb_object_agg(g.agent_id::text, g.recipient_hours) FROM agents g
            WHERE g.tenant_id = t.tenant_id AND g.recipient_hours IS NOT NULL)::text
        FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
        WHERE k.key_hash = decode(\(hash), 'hex') AND k.revoked_at IS NULL
        """, logger: logger)
      for try await (hours, outside, unknown, zone, agents) in rows.decode(
        (String?, String, String, String, String?).self)
      {
        var agentHours: [Int64: RecipientHours] = [:]
        let byAgent: [String: JSONValue] = try agents.flatMap { try JSONValue.decode($0).objectValue } ?? [:]
        for (agent, json) in byAgent {
          if let id = Int64(agent) { agentHours[id] = try RecipientHours(json: json) }
        }
        guard hours != nil || !agentHours.isEmpty else { return nil }
        return RecipientHoursRules(
          tenantHours: try hours.map { try RecipientHours(json: JSONValue.decode($0)) }, agentHours: agentHours,
          outsideHours: OutsideHours(rawValue: outside) ?? .defer,
          unknownTimezone: UnknownTimezone(rawValue: unknown) ?? .tenantZone,
          tenantZone: RecipientHoursPolicy.zone(named: zone) ?? .gmt)
      }
      return nil
    }
  }

  public func accept(
    _ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String
  ) async throws
    -> AcceptOutcome
  {
    let call = IntakeCall(request, traceID: traceID, newConversationID: newConversationID, apiKey: apiKey)
    guard let outcome = Self.outcome(try await intake.submit(call)) else { throw SwitchboardError.internalError() }
    if case .accepted(let call) = outcome {
      if call.receipt.status == .initiated { dueNotifier?.post() }
      // A new chain has no watchers yet; an append may.
      if call.receipt.attemptNumber > 1 { chainChanges?.post(chains: [call.receipt.conversationID]) }
    }
    return outcome
  }

  /// Writes one batch of calls; their rows in the order of `calls`. When the statement's answer is
  /// lost, each call's attempt is looked up by its trace id.
  private static func write(
    _ calls: [IntakeCall], retentionSeconds: Int, database: Database
  ) async throws(SwitchboardError) -> [Result<AcceptCallsStatement.Row, SwitchboardError>] {
    // Concurrent batches take their locks (idempotency keys, chains, numbers) in one order, so
    // that two of them rarely wait on each other in a cycle.
    let order = calls.indices.sorted { calls[$0].lockOrder < calls[$1].lockOrder }
    let statement = AcceptCallsStatement(
      calls: JSONValue.array(order.map { calls[$0].json }).encoded(),
      idempotencyRetentionSeconds: Int32(clamping: retentionSeconds))
    let rows: [AcceptCallsStatement.Row?]
    do throws(WriteFailure) {
      rows = try await database.write { connection, logger in
        var rows = [AcceptCallsStatement.Row?](repeating: nil, count: calls.count)
        for try await row in try await connection.execute(statement, logger: logger)
        where order.indices.contains(row.ordinal - 1) {
          rows[order[row.ordinal - 1]] = row
        }
        return rows
      }
    } catch {
      guard case .unknown(let backend, let cause) = error else { throw error.error }
      return await resolve(calls, backend: backend, cause: cause, database: database)
    }
    return rows.map { row in row.map { .success($0) } ?? .failure(.internalError()) }
  }

  /// What became of calls whose statement's answer was lost: each one's attempt, if it exists.
  private static func resolve(
    _ calls: [IntakeCall], backend: Backend?, cause: any Error, database: Database
  ) async -> [Result<AcceptCallsStatement.Row, SwitchboardError>] {
    let traceIDs = calls.map(\.traceID)
    let keyHashes = Array(Set(calls.map(\.keyHash)))
    let resolution = await database.resolve(backend: backend) { connection, logger in
      let rows = try await connection.query(
        """
        SELECT a.trace_id, a.conversation_id, a.attempt_number, a.status, a.scheduled_for, a.agent_id
        FROM call_attempts a
        WHERE a.trace_id = ANY(\(traceIDs)) AND a.tenant_id IN (
          SELECT k.tenant_id FROM api_keys k WHERE k.key_hash IN (SELECT decode(h, 'hex') FROM unnest(\(keyHashes)) h))
        """, logger: logger)
      var found: [UUID: AcceptCallsStatement.Row] = [:]
      for try await (trace, conversation, attempt, status, scheduledFor, agent) in rows.decode(
        (UUID, UUID, Int, String, Date?, Int64).self)
      {
        found[trace] = AcceptCallsStatement.Row(
          ordinal: 0,
          appended: Appended(
            outcome: .accepted, traceID: trace, conversationID: conversation, attemptNumber: attempt, status: status,
            scheduledFor: scheduledFor, agentID: agent))
      }
      // One statement, one transaction: one call's attempt found means the statement committed,
      // and the calls without one were refused by it.
      return found.isEmpty ? nil : found
    }
    return calls.map { call in
      switch resolution {
      case .written(let found):
        if let row = found[call.traceID] { return .success(row) }
        return .failure(.unavailable(cause: cause))
      case .notWritten: return .failure(.unavailable(cause: cause))
      case .unknown: return .failure(.outcomeUnknown(traceID: call.traceID, cause: cause))
      }
    }
  }

  private static func outcome(_ row: AcceptCallsStatement.Row) -> AcceptOutcome? {
    let appended = row.appended
    switch appended.outcome {
    case .accepted:
      guard let receipt = appended.receipt else { return nil }
      let status = row.rateLimit.flatMap { limit in
        appended.rateRemaining.map {
          RateLimitStatus(
            limit: limit, remaining: max(0, $0), resetSeconds: Int((appended.rateResetSeconds ?? 0).rounded(.up)),
            retryAfterSeconds: 0)
        }
      }
      return .accepted(AcceptedCall(receipt: receipt, rateLimit: status))
    case .duplicate: return appended.receipt.map { .duplicate($0) }
    case .invalidAPIKey: return .invalidAPIKey
    case .agentHasNoPhone: return .agentHasNoPhone
    case .conversationNotFound: return .conversationNotFound
    case .agentNotFound: return .agentNotFound
    case .concurrencyLimited: return .concurrencyLimited(current: appended.currentCalls ?? 0, max: row.maxCalls ?? 0)
    case .suppressed: return .suppressed
    case .contactLimited: return .contactLimited(nextAllowedAt: appended.scheduledFor ?? Date())
    case .rateLimited:
      return .rateLimited(
        RateLimitStatus(
          limit: row.rateLimit ?? 0, remaining: 0, resetSeconds: Int((appended.rateResetSeconds ?? 0).rounded(.up)),
          retryAfterSeconds: max(1, Int((appended.retryAfterSeconds ?? 1).rounded(.up)))))
    }
  }

  public func call(traceID: UUID, tenantID: Int64) async throws -> CallAttempt? {
    try await database.run { connection, logger in
      try await Self.attempt(traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
    }
  }

  static func attempt(
    traceID: UUID, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> CallAttempt? {
    let rows = try await connection.query(AttemptRow.select(tenantID: tenantID, traceID: traceID), logger: logger)
    return try await AttemptRow.decodeAll(rows).first
  }

  public func cancelCall(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome {
    let outcome = try await cancelWrite(traceID: traceID, tenantID: tenantID)
    if case .canceled(let attempt) = outcome { chainChanges?.post(chains: [attempt.conversationID]) }
    return outcome
  }

  private func cancelWrite(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome {
    try await database.write { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        try await Self.cancel(traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
      }
    } readingBack: { connection, logger in
      // The cancellation is the only way an attempt becomes canceled.
      let attempt = try await Self.attempt(traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
      return attempt.flatMap { $0.status == .canceled ? .canceled($0) : nil }
    } unknown: { cause in
      .outcomeUnknown(traceID: traceID, cause: cause)
    }
  }

  private static func cancel(
    traceID: UUID, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> CancelOutcome {
    let canceled = try await connection.query(
      AttemptTransitions.cancel(traceID: traceID, tenantID: tenantID), logger: logger)
    if let attempt = try await AttemptRow.decodeAll(canceled).first {
      // A cancellation is the attempt's outcome: subscribers hear of it like any other.
      let outbox = OutboxWriter(connection: connection, logger: logger)
      try await outbox.enqueue(
        attempt, tenantID: tenantID, retry: .final(attemptNumber: attempt.attemptNumber),
        webhooks: try await outbox.webhooks(tenantID: tenantID, agentID: attempt.agentID))
      return .canceled(attempt)
    }
    guard let attempt = try await Self.attempt(traceID: traceID, tenantID: tenantID, on: connection, logger: logger)
    else { return .notFound }
    return .notCancelable(attempt)
  }

  public func conversation(_ reference: ConversationReference, tenantID: Int64) async throws -> ConversationChain? {
    try await database.run { connection, logger in
      let id = reference.conversationID
      let minimumAttempts = reference.attemptNumber ?? 0
      let chains = try await connection.query(
        """
        SELECT \(unescaped: ChainRow.columns) FROM conversations c \(unescaped: ChainRow.latestJoin)
        WHERE c.tenant_id = \(tenantID) AND c.conversation_id = \(id) AND c.attempt_count >= \(minimumAttempts)
        """, logger: logger)
      guard var chain = try await ChainRow.decodeAll(chains).first?.0 else { return nil }
      let attempts = try await connection.query(
        """
        SELECT \(unescaped: AttemptRow.columns) FROM call_attempts a
        WHERE a.tenant_id = \(tenantID) AND a.conversation_id = \(id) ORDER BY a.attempt_number
        """, logger: logger)
      chain.attempts = try await AttemptRow.decodeAll(attempts)
      return chain
    }
  }

  public func conversations(
    tenantID: Int64, filter: ConversationFilter, paging: ConversationPaging
  ) async throws -> ConversationPage {
    let search = try ConversationSearch(tenantID: tenantID, filter: filter)
    let page = try search.page(paging)
    return try await database.run { connection, logger in
      var chains = try await ChainRow.decodeAll(try await connection.query(page, logger: logger))
      let hasMore = chains.count > paging.limit
      if hasMore { chains.removeLast() }
      var total: Int?
      if paging.includeTotal {
        for try await count in try await connection.query(search.count, logger: logger).decode(Int.self) {
          total = count
        }
      }
      return ConversationPage(
        conversations: chains.map(\.0), hasMore: hasMore, total: total, nextCursor: hasMore ? chains.last?.1 : nil)
    }
  }

  /// `LISTEN switchboard_chains`: what every replica's stores post (``Notifier``).
  public func listenForChainChanges(_ changed: @escaping @Sendable ([UUID]?) -> Void) async {
    await NotificationListener(client: client, channel: .chains, logger: logger).listen {
      changed(nil)
    } _: { payload in
      changed(payload.split(separator: ",").compactMap { UUID(uuidString: String($0)) })
    }
  }

  public func isReachable() async -> Bool {
    do {
      return try await database.run { connection, logger in
        try await connection.query("SELECT 1", logger: logger)
        return true
      }
    } catch {
      return false
    }
  }
}

/// SHA-256 of API keys: the only form in which keys are stored.
enum APIKeyHash {
  static func hex(of key: String) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in SHA256.hash(data: Data(key.utf8)) {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
  }
}

/// One call as the intake statement takes it (see `switchboard_accept_calls`).
struct IntakeCall: Sendable {
  var json: JSONValue
  /// Sorts a batch so that its calls take their locks in one order.
  var lockOrder: String
  /// The attempt the call creates, made before the write so that a lost answer can be looked up.
  var traceID: UUID
  /// The caller's key, by which a lookup finds the tenant.
  var keyHash: String

  init(_ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String) {
    let keyHash = APIKeyHash.hex(of: apiKey)
    self.traceID = traceID
    self.keyHash = keyHash
    var members: [String: JSONValue] = [
      "key_hash": .string(keyHash),
      "agent_id": .integer(request.agentID),
      "trace_id": .string(traceID.uuidString),
      "new_conversation_id": .string(newConversationID.uuidString),
      "customer_phone": .string(request.customerPhone),
      "parameters": .array(request.parameters.map(\.json)),
    ]
    if let conversation = request.conversation {
      members["conversation_id"] = .string(conversation.conversationID.uuidString)
      if let attempt = conversation.attemptNumber { members["conversation_attempt"] = .integer(Int64(attempt)) }
    }
    if let metadata = request.metadata { members["metadata"] = .string(metadata) }
    if let key = request.idempotencyKey { members["idempotency_key"] = .string(key) }
    if let context = request.retryContext { members["retry_context"] = context.json }
    if let scheduledFor = request.scheduledFor {
      members["scheduled_for_epoch"] = .double(scheduledFor.timeIntervalSince1970)
    }
    if let traceparent = request.traceparent { members["traceparent"] = .string(traceparent) }
    if let zone = request.recipientTimezone { members["recipient_timezone"] = .string(zone) }
    if let reason = request.blockedReason { members["blocked_reason"] = .string(reason.rawValue) }
    json = .object(members)
    // Tenant first (its active-call lock), then the number, which its rate-limit row, its chain and
    // usually a retried request's idempotency key follow.
    lockOrder = [
      keyHash, request.customerPhone, request.conversation?.conversationID.uuidString ?? "",
      request.idempotencyKey ?? "",
    ].joined(separator: "\u{1}")
  }
}
