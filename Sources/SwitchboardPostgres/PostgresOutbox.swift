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

// The outbox's writer: what the status-changing transactions add to it.

/// An agent's webhook targets, and its number (the `from_phone` of its calls' events).
struct AgentWebhooks: Sendable {
  var agentID: Int64
  var phone: String?
  var targets: [WebhookTarget]

  /// A column of the agent's targets as JSON, for a query that has the agent's tenant and id.
  static func targetsColumn(tenantID: String, agentID: String) -> String {
    """
    (SELECT json_agg(json_build_object('id', t.target_id, 'url', t.url, 'events', t.events,
        'transcript', t.include_transcript, 'recording', t.include_recording) ORDER BY t.target_id)
      FROM webhook_targets t WHERE t.tenant_id = \(tenantID) AND t.agent_id = \(agentID))::text
    """
  }

  /// Reads what ``targetsColumn(tenantID:agentID:)`` selected.
  init(agentID: Int64, phone: String?, targetsJSON: String?) throws {
    self.agentID = agentID
    self.phone = phone
    guard let targetsJSON, case .array(let items) = try JSONValue.decode(targetsJSON) else {
      targets = []
      return
    }
    targets = items.compactMap { item in
      guard let members = item.objectValue, let id = members["id"]?.integerValue,
        let url = members["url"]?.stringValue
      else { return nil }
      return WebhookTarget(
        id: id, agentID: agentID, url: url, events: members["events"]?.arrayValue?.compactMap(\.stringValue),
        includeTranscript: members["transcript"] == .bool(true), includeRecording: members["recording"] == .bool(true),
        hasSecret: false)
    }
  }
}

/// Writes events into the outbox, inside the transaction that changed the status: one row for
/// each of the agent's targets that subscribes to the event, with the payload that target asked for.
struct OutboxWriter {
  let connection: PostgresConnection
  let logger: Logger

  func enqueue(
    _ attempt: CallAttempt, tenantID: Int64, retry: RetryStatus, webhooks: AgentWebhooks?, optOut: Bool = false
  ) async throws {
    let eventType = OutcomeEnvelope.eventType(attempt)
    for target in webhooks?.targets ?? [] where target.wants(eventType) {
      let deliveryID = UUID.v7()
      let payload = OutcomeEnvelope.make(
        eventID: deliveryID, attempt: attempt, retry: retry, fromPhone: webhooks?.phone,
        includeTranscript: target.includeTranscript, includeRecording: target.includeRecording, optOut: optOut,
        at: Date()
      ).encoded()
      try await insert(
        deliveryID, tenantID: tenantID, traceID: attempt.traceID, batchID: nil, type: eventType, target: target,
        payload: payload)
    }
  }

  /// A batch's event (``BatchEnvelope``), for each target that subscribes to it.
  func enqueue(
    _ type: String, _ batch: Batch, metrics: BatchMetrics, tenantID: Int64, webhooks: AgentWebhooks?
  ) async throws {
    for target in webhooks?.targets ?? [] where target.wants(type) {
      let deliveryID = UUID.v7()
      let payload = BatchEnvelope.make(eventID: deliveryID, type: type, batch: batch, metrics: metrics, at: Date())
        .encoded()
      try await insert(
        deliveryID, tenantID: tenantID, traceID: nil, batchID: batch.id, type: type, target: target, payload: payload)
    }
  }

  private func insert(
    _ deliveryID: UUID, tenantID: Int64, traceID: UUID?, batchID: Int64?, type: String, target: WebhookTarget,
    payload: String
  ) async throws {
    try await connection.query(
      """
      INSERT INTO event_deliveries (tenant_id, delivery_id, trace_id, batch_id, event_type, target_url, payload,
        agent_id, target_id)
      VALUES (\(tenantID), \(deliveryID), \(traceID), \(batchID), \(type), \(target.url), \(payload)::jsonb,
        \(target.agentID), \(target.id))
      """, logger: logger)
  }

  /// The agent's webhook targets and number.
  func webhooks(tenantID: Int64, agentID: Int64) async throws -> AgentWebhooks? {
    let rows = try await connection.query(
      """
      SELECT g.agent_id, g.phone_number, \(unescaped: AgentWebhooks.targetsColumn(tenantID: "g.tenant_id", agentID: "g.agent_id"))
      FROM agents g WHERE g.tenant_id = \(tenantID) AND g.agent_id = \(agentID)
      """, logger: logger)
    for try await (agent, phone, targets) in rows.decode((Int64, String?, String?).self) {
      return try AgentWebhooks(agentID: agent, phone: phone, targetsJSON: targets)
    }
    return nil
  }
}
