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

  public func claimDeliveries(limit: Int, shares: DeliveryShares) async throws -> [OutboxDelivery] {
    try await database.run { connection, logger in
      try await Self.claim(limit: limit, shares: shares, on: connection, logger: logger)
    }
  }

  private static func claim(
    limit: Int, shares: DeliveryShares, on connection: PostgresConnection, logger: Logger
  ) async throws -> [OutboxDelivery] {
    let (targets, targetSends) = (Array(shares.busyTargets.keys), Array(shares.busyTargets.values))
    let (tenants, tenantSends) = (Array(shares.busyTenants.keys), Array(shares.busyTenants.values))
    // Oldest first, but within each target's and then each tenant's room: a slow target, or a
    // tenant's many slow targets, never fill every send.
    let rows = try await connection.query(
      """
      WITH busy_targets AS (
        SELECT * FROM unnest(\(targets)::bigint[], \(targetSends)::bigint[]) AS b(target_id, sends)
      ), busy_tenants AS (
        SELECT * FROM unnest(\(tenants)::bigint[], \(tenantSends)::bigint[]) AS b(tenant_id, sends)
      ), by_target AS (
        SELECT tenant_id, delivery_id, next_attempt_at, target_id,
          row_number() OVER (PARTITION BY target_id ORDER BY next_attempt_at) AS place
        FROM event_deliveries
        WHERE delivered_at IS NULL AND next_attempt_at <= now()
      ), by_tenant AS (
        SELECT d.tenant_id, d.delivery_id, d.next_attempt_at,
          row_number() OVER (PARTITION BY d.tenant_id ORDER BY d.next_attempt_at) AS place
        FROM by_target d LEFT JOIN busy_targets b ON b.target_id = coalesce(d.target_id, 0)
        WHERE d.place <= \(shares.perTarget) - coalesce(b.sends, 0)
      ), candidates AS (
        SELECT d.tenant_id, d.delivery_id FROM by_tenant d LEFT JOIN busy_tenants b USING (tenant_id)
        WHERE d.place <= \(shares.perTenant) - coalesce(b.sends, 0)
        ORDER BY d.next_attempt_at LIMIT \(limit)
      ), due AS (
        SELECT e.tenant_id, e.delivery_id FROM event_deliveries e JOIN candidates USING (tenant_id, delivery_id)
        WHERE e.delivered_at IS NULL AND e.next_attempt_at <= now()
        FOR UPDATE OF e SKIP LOCKED
      ), claimed AS (
        UPDATE event_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + interval '60 seconds'
        FROM due WHERE d.tenant_id = due.tenant_id AND d.delivery_id = due.delivery_id
        RETURNING d.*
      )
      SELECT c.tenant_id, c.delivery_id, c.target_url, c.payload::text, t.secret, c.attempts, a.traceparent, c.target_id
      FROM claimed c LEFT JOIN webhook_targets t ON t.tenant_id = c.tenant_id AND t.target_id = c.target_id
        LEFT JOIN call_attempts a ON a.tenant_id = c.tenant_id AND a.trace_id = c.trace_id
      """, logger: logger)
    var deliveries: [OutboxDelivery] = []
    for try await (tenant, id, url, payload, secret, attempt, traceparent, target) in rows.decode(
      (Int64, UUID, String, String, String?, Int, String?, Int64?).self)
    {
      var delivery = OutboxDelivery(
        tenantID: tenant, deliveryID: id, url: url, payload: payload, secret: Secret(secret), attempt: attempt)
      delivery.traceparent = traceparent
      delivery.targetID = target
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
