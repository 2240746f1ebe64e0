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

    public init() {}
  }

  public let client: PostgresClient
  public let configuration: Configuration
  let logger: Logger
  /// Told of every accepted immediate call, to wake the dispatchers.
  let dueNotifier: DueNotifier?

  public init(
    client: PostgresClient, configuration: Configuration = .init(), logger: Logger, dueNotifier: DueNotifier? = nil
  ) {
    self.client = client
    self.configuration = configuration
    self.logger = logger
    self.dueNotifier = dueNotifier
  }

  public func tenant(forAPIKey apiKey: String) async throws -> Tenant? {
    let hash = APIKeyHash.hex(of: apiKey)
    return try await run { client, logger in
      for try await (id, name, limit, period, burst, maxCalls) in try await client.execute(
        AuthenticateStatement(keyHashHex: hash), logger: logger)
      {
        return Tenant(
          id: id, name: name,
          numberRateLimit: limit > 0 ? NumberRateLimit(limit: limit, periodSeconds: period, burst: burst) : nil,
          maxConcurrentCalls: maxCalls > 0 ? maxCalls : nil)
      }
      return nil
    }
  }

  public func accept(
    _ request: CallRequest, traceID: UUID, newConversationID: UUID, tenant: Tenant
  ) async throws
    -> AcceptOutcome
  {
    let parameters = JSONValue.array(request.parameters.map(\.json)).encoded()
    let context = request.retryContext?.json.encoded()
    let rate = tenant.numberRateLimit
    let attempt = request.conversation?.attemptNumber.map { Int32(clamping: $0) }
    let retention = Int32(clamping: configuration.idempotencyRetentionSeconds)
    let statement = AcceptCallStatement(
      tenantID: tenant.id, agentID: request.agentID, traceID: traceID, newConversationID: newConversationID,
      conversationID: request.conversation?.conversationID, conversationAttempt: attempt,
      customerPhone: request.customerPhone, parameters: parameters, metadata: request.metadata,
      idempotencyKey: request.idempotencyKey, idempotencyRetentionSeconds: retention, retryContext: context,
      scheduledFor: request.scheduledFor, rateLimit: Int32(clamping: rate?.limit ?? 0),
      ratePeriodSeconds: Int32(clamping: rate?.periodSeconds ?? 3600), rateBurst: Int32(clamping: rate?.burst ?? 0),
      maxConcurrentCalls: Int32(clamping: tenant.maxConcurrentCalls ?? 0))
    let outcome = try await run { client, logger in
      for try await row in try await client.execute(statement, logger: logger) {
        if let outcome = Self.outcome(row, tenant: tenant) { return outcome }
      }
      throw SwitchboardError.internalError()
    }
    if case .accepted(let call) = outcome, call.receipt.status == .initiated, let dueNotifier {
      await dueNotifier.callAccepted()
    }
    return outcome
  }

  private static func outcome(
    _ row: (String, UUID?, UUID?, Int?, String?, Date?, Int64?, Int?, Double?, Double?, Int?),
    tenant: Tenant
  ) -> AcceptOutcome? {
    let rate = tenant.numberRateLimit
    let (
      outcome, traceID, conversationID, attempt, status, scheduledFor, agentID, remaining, reset, retryAfter, current
    ) =
      row
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
      let status = rate.flatMap { rate in
        remaining.map {
          RateLimitStatus(
            limit: rate.limit, remaining: max(0, $0), resetSeconds: Int((reset ?? 0).rounded(.up)),
            retryAfterSeconds: 0)
        }
      }
      return .accepted(AcceptedCall(receipt: receipt, rateLimit: status))
    case "agent_has_no_phone": return .agentHasNoPhone
    case "conversation_not_found": return .conversationNotFound
    case "agent_not_found": return .agentNotFound
    case "concurrency_limited":
      return .concurrencyLimited(current: current ?? 0, max: tenant.maxConcurrentCalls ?? 0)
    case "rate_limited":
      return .rateLimited(
        RateLimitStatus(
          limit: rate?.limit ?? 0, remaining: 0, resetSeconds: Int((reset ?? 0).rounded(.up)),
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
    let client = self.client
    let logger = self.logger
    do {
      return try await QueryDeadlines.shared.run(configuration.queryTimeout) { try await work(client, logger) }
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
