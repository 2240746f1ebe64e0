import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// The outbox of outcome events in `event_deliveries`. Claiming pushes `next_attempt_at` a minute
/// ahead, which is the lease: a deliverer that dies mid-send leaves the event due again.
public struct PostgresOutbox: OutboxStore {
  let database: Database

  public init(database: Database) {
    self.database = database
  }

  public func claimDeliveries(limit: Int) async throws -> [OutboxDelivery] {
    try await database.run { connection, logger in try await Self.claim(limit: limit, on: connection, logger: logger) }
  }

  private static func claim(
    limit: Int, on connection: PostgresConnection, logger: Logger
  ) async throws
    -> [OutboxDelivery]
  {
    let rows = try await connection.query(
      """
      WITH due AS (
        SELECT tenant_id, delivery_id FROM event_deliveries
        WHERE delivered_at IS NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT \(limit)
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE event_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + interval '60 seconds'
        FROM due WHERE d.tenant_id = due.tenant_id AND d.delivery_id = due.delivery_id
        RETURNING d.*
      )
      SELECT c.tenant_id, c.delivery_id, c.target_url, c.payload::text, t.secret, c.attempts, a.traceparent
      FROM claimed c LEFT JOIN webhook_targets t ON t.tenant_id = c.tenant_id AND t.target_id = c.target_id
        LEFT JOIN call_attempts a ON a.tenant_id = c.tenant_id AND a.trace_id = c.trace_id
      """, logger: logger)
    var deliveries: [OutboxDelivery] = []
    for try await (tenant, id, url, payload, secret, attempt, traceparent) in rows.decode(
      (Int64, UUID, String, String, String?, Int, String?).self)
    {
      var delivery = OutboxDelivery(
        tenantID: tenant, deliveryID: id, url: url, payload: payload, secret: Secret(secret), attempt: attempt)
      delivery.traceparent = traceparent
      deliveries.append(delivery)
    }
    return deliveries
  }

  public func markDelivered(_ delivery: OutboxDelivery) async throws {
    try await database.run { connection, logger in
      try await connection.query(
        """
        UPDATE event_deliveries SET delivered_at = now(), last_error = NULL
        WHERE tenant_id = \(delivery.tenantID) AND delivery_id = \(delivery.deliveryID)
        """, logger: logger)
    }
  }

  public func markFailed(_ delivery: OutboxDelivery, error: String, retryAt: Date?) async throws {
    try await database.run { connection, logger in
      try await connection.query(
        """
        UPDATE event_deliveries SET last_error = \(error), next_attempt_at = coalesce(\(retryAt)::timestamptz, 'infinity')
        WHERE tenant_id = \(delivery.tenantID) AND delivery_id = \(delivery.deliveryID)
        """, logger: logger)
    }
  }
}
