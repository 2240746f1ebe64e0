import Crypto
import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// ``CallStore`` on PostgreSQL: plain SQL with bound parameters, every query scoped by tenant.
public struct PostgresCallStore: CallStore {
  public struct Configuration: Sendable {
    /// How long an accepted call's idempotency key stays taken. Default 24 h.
    public var idempotencyRetentionSeconds: Int = 24 * 3600
    /// Longest wait for the database before answering 503. Default 5 s.
    public var queryTimeout: Duration = .seconds(5)
    /// Intake batches written at once, each on its own connection. Default 3: on two cores, one
    /// batch executes while another waits for its commit to reach the disk; more writers made
    /// smaller batches and fewer calls per second (measured with scripts/bench).
    public var intakeWriters = 3
    /// Most calls written in one intake batch. Default 64.
    public var maxIntakeBatch = 64

    public init() {}
  }

  public let client: PostgresClient
  public let configuration: Configuration
  let logger: Logger
  /// Told of every accepted immediate call, to wake the dispatchers.
  let dueNotifier: DueNotifier?
  private let intake: IntakeBatcher<IntakeCall, AcceptCallsStatement.Row>

  public init(
    client: PostgresClient, configuration: Configuration = .init(), logger: Logger, dueNotifier: DueNotifier? = nil
  ) {
    self.client = client
    self.configuration = configuration
    self.logger = logger
    self.dueNotifier = dueNotifier
    intake = IntakeBatcher(
      writers: configuration.intakeWriters, maxBatch: configuration.maxIntakeBatch,
      maxWait: configuration.queryTimeout
    ) {
      calls throws(SwitchboardError) in
      try await Self.write(
        calls, retentionSeconds: configuration.idempotencyRetentionSeconds, client: client, logger: logger,
        timeout: configuration.queryTimeout)
    }
  }

  public func tenant(forAPIKey apiKey: String) async throws -> Tenant? {
    let hash = APIKeyHash.hex(of: apiKey)
    return try await run { client, logger in
      for try await (id, name) in try await client.execute(AuthenticateStatement(keyHashHex: hash), logger: logger) {
        return Tenant(id: id, name: name)
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
    if case .accepted(let call) = outcome, call.receipt.status == .initiated, let dueNotifier {
      dueNotifier.callAccepted()
    }
    return outcome
  }

  /// Writes one batch of calls; their rows in the order of `calls`.
  private static func write(
    _ calls: [IntakeCall], retentionSeconds: Int, client: PostgresClient, logger: Logger, timeout: Duration
  ) async throws(SwitchboardError) -> [AcceptCallsStatement.Row] {
    // Concurrent batches take their locks (idempotency keys, chains, numbers) in one order, so
    // that two of them rarely wait on each other in a cycle.
    let order = calls.indices.sorted { calls[$0].lockOrder < calls[$1].lockOrder }
    let statement = AcceptCallsStatement(
      calls: JSONValue.array(order.map { calls[$0].json }).encoded(),
      idempotencyRetentionSeconds: Int32(clamping: retentionSeconds))
    let rows = try await run(client: client, logger: logger, timeout: timeout) { client, logger in
      var rows = [AcceptCallsStatement.Row?](repeating: nil, count: calls.count)
      for try await row in try await client.execute(statement, logger: logger) where order.indices.contains(row.0 - 1) {
        rows[order[row.0 - 1]] = row
      }
      return rows
    }
    return try rows.map { row throws(SwitchboardError) in
      guard let row else { throw .internalError() }
      return row
    }
  }

  private static func outcome(_ row: AcceptCallsStatement.Row) -> AcceptOutcome? {
    let (
      _, outcome, traceID, conversationID, attempt, status, scheduledFor, agentID, rateLimit, remaining, reset,
      retryAfter, current, maxCalls
    ) = row
    func receipt() -> CallReceipt? {
      guard let traceID, let conversationID, let attempt, let agentID,
        let status = status.flatMap(CallStatus.init(rawValue:))
      else { return nil }
      return CallReceipt(
        agentID: agentID, conversationID: conversationID, scheduledFor: scheduledFor, status: status,
        traceID: traceID, attemptNumber: attempt)
    }
    switch outcome {
    case "accepted", "duplicate":
      guard let receipt = receipt() else { return nil }
      if outcome == "duplicate" { return .duplicate(receipt) }
      let status = rateLimit.flatMap { limit in
        remaining.map {
          RateLimitStatus(
            limit: limit, remaining: max(0, $0), resetSeconds: Int((reset ?? 0).rounded(.up)), retryAfterSeconds: 0)
        }
      }
      return .accepted(AcceptedCall(receipt: receipt, rateLimit: status))
    case "invalid_api_key": return .invalidAPIKey
    case "agent_has_no_phone": return .agentHasNoPhone
    case "conversation_not_found": return .conversationNotFound
    case "agent_not_found": return .agentNotFound
    case "concurrency_limited": return .concurrencyLimited(current: current ?? 0, max: maxCalls ?? 0)
    case "rate_limited":
      return .rateLimited(
        RateLimitStatus(
          limit: rateLimit ?? 0, remaining: 0, resetSeconds: Int((reset ?? 0).rounded(.up)),
          retryAfterSeconds: max(1, Int((retryAfter ?? 1).rounded(.up)))))
    default: return nil
    }
  }

  public func call(traceID: UUID, tenantID: Int64) async throws -> CallAttempt? {
    try await run { client, logger in
      let rows = try await client.query(
        AttemptRow.select(tenantID: tenantID, traceID: traceID),
        logger: logger)
      return try await AttemptRow.decodeAll(rows).first
    }
  }

  public func cancelCall(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome {
    try await run { client, logger in
      try await client.withTransaction(logger: logger) { connection in
        let canceled = try await connection.query(
          """
          UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
            lease_owner = NULL, lease_expires_at = NULL
          WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID) AND a.status IN ('scheduled', 'initiated')
          RETURNING \(unescaped: AttemptRow.columns)
          """, logger: logger)
        if let attempt = try await AttemptRow.decodeAll(canceled).first {
          // A cancellation is the attempt's outcome: subscribers hear of it like any other.
          let outbox = OutboxWriter(connection: connection, logger: logger)
          let retry = RetryStatus(
            attemptNumber: attempt.attemptNumber, maxAttempts: attempt.attemptNumber, isFinalAttempt: true,
            nextRetryAt: nil)
          try await outbox.enqueue(
            attempt, tenantID: tenantID, retry: retry,
            webhook: try await outbox.webhook(tenantID: tenantID, agentID: attempt.agentID))
          return .canceled(attempt)
        }
        let rows = try await connection.query(
          AttemptRow.select(tenantID: tenantID, traceID: traceID),
          logger: logger)
        guard let attempt = try await AttemptRow.decodeAll(rows).first else { return .notFound }
        return .notCancelable(attempt)
      }
    }
  }

  public func conversation(_ reference: ConversationReference, tenantID: Int64) async throws -> ConversationChain? {
    try await run { client, logger in
      let id = reference.conversationID
      let minimumAttempts = reference.attemptNumber ?? 0
      let chains = try await client.query(
        """
        SELECT \(unescaped: ChainRow.columns) FROM conversations c \(unescaped: ChainRow.latestJoin)
        WHERE c.tenant_id = \(tenantID) AND c.conversation_id = \(id) AND c.attempt_count >= \(minimumAttempts)
        """, logger: logger)
      guard var chain = try await ChainRow.decodeAll(chains).first else { return nil }
      let attempts = try await client.query(
        """
        SELECT \(unescaped: AttemptRow.columns) FROM call_attempts a
        WHERE a.tenant_id = \(tenantID) AND a.conversation_id = \(id) ORDER BY a.attempt_number
        """, logger: logger)
      chain.attempts = try await AttemptRow.decodeAll(attempts)
      return chain
    }
  }

  public func conversations(
    tenantID: Int64, agentID: Int64?, limit: Int, offset: Int
  ) async throws
    -> ConversationPage
  {
    try await run { client, logger in
      let rows = try await client.query(
        """
        SELECT \(unescaped: ChainRow.columns) FROM conversations c \(unescaped: ChainRow.latestJoin)
        WHERE c.tenant_id = \(tenantID) AND (\(agentID)::bigint IS NULL OR c.agent_id = \(agentID))
        ORDER BY c.conversation_id DESC LIMIT \(limit + 1) OFFSET \(offset)
        """, logger: logger)
      var chains = try await ChainRow.decodeAll(rows)
      let hasMore = chains.count > limit
      if hasMore { chains.removeLast() }
      let counts = try await client.query(
        """
        SELECT count(*) FROM conversations c
        WHERE c.tenant_id = \(tenantID) AND (\(agentID)::bigint IS NULL OR c.agent_id = \(agentID))
        """, logger: logger)
      var total = 0
      for try await count in counts.decode(Int.self) { total = count }
      return ConversationPage(conversations: chains, hasMore: hasMore, total: total)
    }
  }

  public func isReachable() async -> Bool {
    do {
      return try await run { client, logger in
        try await client.query("SELECT 1", logger: logger)
        return true
      }
    } catch {
      return false
    }
  }

  /// Runs database work under the configured deadline, mapping failures to
  /// ``SwitchboardError``: unreachable or overloaded database → `.unavailable`, else `.internal`.
  func run<T: Sendable>(_ work: @escaping @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
    try await Self.run(client: client, logger: logger, timeout: configuration.queryTimeout, work)
  }

  static func run<T: Sendable>(
    client: PostgresClient, logger: Logger, timeout: Duration,
    _ work: @escaping @Sendable (PostgresClient, Logger) async throws -> T
  ) async throws(SwitchboardError) -> T {
    do {
      return try await QueryDeadlines.shared.run(timeout) { try await work(client, logger) }
    } catch let error as SwitchboardError {
      throw error
    } catch {
      throw DatabaseFailure.classify(error)
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

  init(_ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String) {
    let keyHash = APIKeyHash.hex(of: apiKey)
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
    json = .object(members)
    // Tenant first (its active-call lock), then the number, which its rate-limit row, its chain and
    // usually a retried request's idempotency key follow.
    lockOrder = [
      keyHash, request.customerPhone, request.conversation?.conversationID.uuidString ?? "",
      request.idempotencyKey ?? "",
    ].joined(separator: "\u{1}")
  }
}
