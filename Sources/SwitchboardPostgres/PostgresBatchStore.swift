import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// Batch calls in PostgreSQL: a batch and all its recipients written in one statement
/// (`switchboard_create_batch`), every query scoped to one tenant.
public struct PostgresBatchStore: Sendable {
  let database: Database
  let logger: Logger
  /// A 100,000-row batch is one statement: it gets longer than a call's deadline.
  static let writeDeadline: Duration = .seconds(60)

  public init(database: Database, logger: Logger) {
    self.database = database
    self.logger = logger
  }

  /// Writes the batch, a chain and a first attempt per call, or nothing. Each chain starts from
  /// its request's context (``ThreadedState/threading(_:)``), as a single call's would.
  public func create(_ batch: BatchCreation, tenantID: Int64) async throws -> BatchCreateOutcome {
    guard !batch.calls.isEmpty else { throw SwitchboardError.invalid("a batch needs at least one recipient") }
    let firstTrace = UUID.v7()
    let recipients = JSONValue.array(
      batch.calls.enumerated().map { index, call in
        let effective = ThreadedState().threading(call.retryContext).effectiveContext(
          initialMessage: call.retryContext?.initialMessage)
        var members: [String: JSONValue] = [
          "trace_id": .string((index == 0 ? firstTrace : UUID.v7()).uuidString),
          "conversation_id": .string(UUID.v7().uuidString), "customer_phone": .string(call.customerPhone),
          "parameters": .array(call.parameters.map(\.json)), "effective_retry_context": effective.json,
        ]
        if let metadata = call.metadata { members["metadata"] = .string(metadata) }
        if let context = call.retryContext { members["retry_context"] = context.json }
        return .object(members)
      }
    ).encoded()
    let seconds = Int(Self.writeDeadline.components.seconds)
    return try await database.write(until: .now + Self.writeDeadline) { connection, logger in
      try await connection.withTransaction(logger: logger) { connection in
        try await connection.query("SET LOCAL statement_timeout = '\(unescaped: String(seconds))s'", logger: logger)
        let rows = try await connection.query(
          """
          SELECT outcome, batch_id FROM switchboard_create_batch(
            p_tenant_id => \(tenantID), p_agent_id => \(batch.agentID), p_name => \(batch.name),
            p_max_concurrency => \(batch.maxConcurrency)::integer, p_scheduled_for => \(batch.scheduledFor),
            p_recipients => \(recipients)::jsonb)
          """, logger: logger)
        for try await (outcome, id) in rows.decode((String, Int64?).self) {
          switch outcome {
          case "agent_not_found": return .agentNotFound
          case "agent_has_no_phone": return .agentHasNoPhone
          default:
            guard let id, let created = try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger)
            else { throw SwitchboardError.internalError() }
            return .created(created)
          }
        }
        throw SwitchboardError.internalError()
      }
    } readingBack: { connection, logger -> BatchCreateOutcome? in
      // The first recipient's attempt names the batch the lost answer was about.
      let rows = try await connection.query(
        "SELECT batch_id FROM call_attempts WHERE tenant_id = \(tenantID) AND trace_id = \(firstTrace)", logger: logger)
      for try await id in rows.decode(Int64?.self) {
        guard let id else { return nil }
        return try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger).map { .created($0) }
      }
      return nil
    } unknown: { cause in
      .outcomeUnknown(traceID: firstTrace, cause: cause)
    }
  }

  /// One batch of one tenant.
  public func batch(_ id: Int64, tenantID: Int64) async throws -> Batch? {
    try await database.run { connection, logger in
      try await Self.batch(id, tenantID: tenantID, on: connection, logger: logger)
    }
  }

  static func batch(
    _ id: Int64, tenantID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws
    -> Batch?
  {
    let rows = try await connection.query(
      """
      SELECT batch_id, agent_id, name, status, total_recipients, max_concurrency, scheduled_for, created_at
      FROM batches WHERE tenant_id = \(tenantID) AND batch_id = \(id)
      """, logger: logger)
    for try await (id, agent, name, status, total, cap, scheduled, created) in rows.decode(
      (Int64, Int64, String, String, Int, Int?, Date?, Date).self)
    {
      guard let status = BatchStatus(rawValue: status) else {
        throw UnknownStoredValue(column: "batches.status", value: status)
      }
      return Batch(
        id: id, agentID: agent, name: name, status: status, totalRecipients: total, maxConcurrency: cap,
        scheduledFor: scheduled, createdAt: created)
    }
    return nil
  }
}
