import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// Tenants, API keys and agents: what the admin CLI and the development seed manage.
public struct PostgresAccounts: Sendable {
  public let client: PostgresClient
  let logger: Logger
  /// What a webhook target's URL may point to (`--allow-private-targets`).
  let outboundPolicy: OutboundURLPolicy

  public init(client: PostgresClient, logger: Logger, outboundPolicy: OutboundURLPolicy = OutboundURLPolicy()) {
    self.client = client
    self.logger = logger
    self.outboundPolicy = outboundPolicy
  }

  public struct TenantSettings: Sendable {
    /// Calls per hour to one number; 0 turns the limit off.
    public var numberRateLimit: Int = 5
    /// Calls to one number at once; `nil` means `numberRateLimit`.
    public var numberRateBurst: Int?
    /// Active calls at once; 0 turns the limit off.
    public var maxConcurrentCalls: Int = 10

    public init(numberRateLimit: Int = 5, numberRateBurst: Int? = nil, maxConcurrentCalls: Int = 10) {
      self.numberRateLimit = numberRateLimit
      self.numberRateBurst = numberRateBurst
      self.maxConcurrentCalls = maxConcurrentCalls
    }
  }

  /// Creates a tenant; returns its id.
  public func createTenant(name: String, settings: TenantSettings = .init()) async throws -> Int64 {
    let rows = try await client.query(
      """
      INSERT INTO tenants (name, number_rate_limit, number_rate_burst, max_concurrent_calls)
      VALUES (\(name), \(settings.numberRateLimit), \(settings.numberRateBurst), \(settings.maxConcurrentCalls))
      RETURNING tenant_id
      """, logger: logger)
    for try await id in rows.decode(Int64.self) { return id }
    throw SwitchboardError.internalError()
  }

  /// Sets the attempt caps per number of the tenant, or (with `agentID`) of one agent, replacing
  /// the tenant's for its calls; `nil` removes them.
  public func setContactLimits(_ limits: ContactLimits?, tenantID: Int64, agentID: Int64? = nil) async throws {
    try await setJSON(column: "contact_limits", limits?.json, tenantID: tenantID, agentID: agentID)
  }

  /// Sets the tenant's (or, with `agentID`, one agent's) recipient hours; `nil` removes them.
  public func setRecipientHours(_ hours: RecipientHours?, tenantID: Int64, agentID: Int64? = nil) async throws {
    try await setJSON(column: "recipient_hours", hours?.json, tenantID: tenantID, agentID: agentID)
  }

  /// Sets a jsonb setting the tenant and its agents both have (an agent's replaces the tenant's).
  private func setJSON(column: String, _ value: JSONValue?, tenantID: Int64, agentID: Int64?) async throws {
    try await requireTenant(tenantID)
    let json = value?.encoded()
    let rows: PostgresRowSequence
    if let agentID {
      rows = try await client.query(
        """
        UPDATE agents SET \(unescaped: column) = \(json)::jsonb, updated_at = now()
        WHERE tenant_id = \(tenantID) AND agent_id = \(agentID) RETURNING 1
        """, logger: logger)
    } else {
      rows = try await client.query(
        "UPDATE tenants SET \(unescaped: column) = \(json)::jsonb WHERE tenant_id = \(tenantID) RETURNING 1",
        logger: logger)
    }
    var found = false
    for try await _ in rows { found = true }
    guard found else { throw agentID == nil ? SwitchboardError(.notFound, "tenant not found") : .agentNotFound }
  }

  /// Sets the tenant's recipient-hours policies; a `nil` one is left as it is.
  public func setRecipientHoursPolicy(
    outsideHours: OutsideHours?, unknownTimezone: UnknownTimezone?, timeZone: TimeZone?, tenantID: Int64
  ) async throws {
    try await requireTenant(tenantID)
    try await client.query(
      """
      UPDATE tenants SET outside_hours = coalesce(\(outsideHours?.rawValue), outside_hours),
        unknown_timezone = coalesce(\(unknownTimezone?.rawValue), unknown_timezone),
        timezone = coalesce(\(timeZone?.identifier), timezone)
      WHERE tenant_id = \(tenantID)
      """, logger: logger)
  }

  /// Issues a new API key for the tenant; returns the key, which is stored only as a hash.
  public func createAPIKey(tenantID: Int64) async throws -> String {
    try await requireTenant(tenantID)
    let key = APIKey.generate()
    try await client.query(
      """
      INSERT INTO api_keys (key_hash, tenant_id, key_prefix)
      VALUES (decode(\(APIKeyHash.hex(of: key)), 'hex'), \(tenantID), \(String(key.prefix(7))))
      """, logger: logger)
    return key
  }

  /// Revokes a key; `false` when no live key matched.
  public func revokeAPIKey(_ key: String) async throws -> Bool {
    let rows = try await client.query(
      """
      UPDATE api_keys SET revoked_at = now()
      WHERE key_hash = decode(\(APIKeyHash.hex(of: key)), 'hex') AND revoked_at IS NULL
      RETURNING tenant_id
      """, logger: logger)
    for try await _ in rows.decode(Int64.self) { return true }
    return false
  }

  /// What an agent is: its number, and the dispatch rules it carries. `nil` leaves a field as it
  /// is on update.
  public struct AgentSettings: Sendable {
    public var phoneNumber: String?
    public var name: String?
    public var retryPolicy: RetryPolicy?
    public var callingWindow: CallingWindow?
    public var webhookURL: String?
    public var webhookSecret: String?
    /// Event types delivered (`call.completed`, …); `nil` means all.
    public var webhookEvents: [String]?

    public init(
      phoneNumber: String? = nil, name: String? = nil, retryPolicy: RetryPolicy? = nil,
      callingWindow: CallingWindow? = nil, webhookURL: String? = nil, webhookSecret: String? = nil,
      webhookEvents: [String]? = nil
    ) {
      self.phoneNumber = phoneNumber
      self.name = name
      self.retryPolicy = retryPolicy
      self.callingWindow = callingWindow
      self.webhookURL = webhookURL
      self.webhookSecret = webhookSecret
      self.webhookEvents = webhookEvents
    }
  }

  /// Creates an agent with a phone number (and optionally a name).
  public func saveAgent(
    tenantID: Int64, agentID: Int64, phoneNumber: String?, name: String?, update: Bool
  )
    async throws
  {
    try await saveAgent(
      tenantID: tenantID, agentID: agentID, settings: AgentSettings(phoneNumber: phoneNumber, name: name),
      update: update)
  }

  /// Creates an agent, or changes the given fields of an existing one when `update` is true. A
  /// `webhookURL` is one of the agent's webhook targets: added (sending the recording URL, as
  /// the single webhook did), or, when the agent has a target with that URL, given the secret and
  /// events passed.
  public func saveAgent(tenantID: Int64, agentID: Int64, settings: AgentSettings, update: Bool) async throws {
    try await requireTenant(tenantID)
    let policy = settings.retryPolicy?.json.encoded()
    let window = settings.callingWindow?.json.encoded()
    let target = try settings.webhookURL.map { url throws(SwitchboardError) in
      try WebhookTargetInput(
        url: url, secret: Secret(settings.webhookSecret), events: settings.webhookEvents, includeRecording: true
      ).validated(policy: outboundPolicy)
    }
    do {
      try await client.withTransaction(logger: logger) { connection in
        try await Self.saveAgent(
          tenantID: tenantID, agentID: agentID, settings: settings, policy: policy, window: window, target: target,
          update: update, on: connection, logger: logger)
      }
    } catch let error as PostgresTransactionError {
      throw error.closureError ?? error
    }
  }

  private static func saveAgent(
    tenantID: Int64, agentID: Int64, settings: AgentSettings, policy: String?, window: String?,
    target: WebhookTargetInput?, update: Bool, on connection: PostgresConnection, logger: Logger
  ) async throws {
    if update {
      let rows = try await connection.query(
        """
        UPDATE agents SET phone_number = coalesce(\(settings.phoneNumber), phone_number),
          name = coalesce(\(settings.name), name),
          retry_policy = coalesce(\(policy)::jsonb, retry_policy),
          calling_window = coalesce(\(window)::jsonb, calling_window),
          updated_at = now()
        WHERE tenant_id = \(tenantID) AND agent_id = \(agentID)
        RETURNING agent_id
        """, logger: logger)
      var found = false
      for try await _ in rows.decode(Int64.self) { found = true }
      guard found else { throw SwitchboardError.agentNotFound }
    } else {
      let rows = try await connection.query(
        """
        INSERT INTO agents (tenant_id, agent_id, phone_number, name, retry_policy, calling_window)
        VALUES (\(tenantID), \(agentID), \(settings.phoneNumber), \(settings.name), \(policy)::jsonb, \(window)::jsonb)
        ON CONFLICT DO NOTHING RETURNING agent_id
        """, logger: logger)
      var created = false
      for try await _ in rows.decode(Int64.self) { created = true }
      guard created else { throw SwitchboardError(.conflict, "agent \(agentID) already exists; use agents update") }
    }
    guard let target else { return }
    let updated = try await connection.query(
      """
      UPDATE webhook_targets SET secret = coalesce(\(target.secret?.reveal), secret),
        events = coalesce(\(target.events)::text[], events)
      WHERE tenant_id = \(tenantID) AND agent_id = \(agentID) AND url = \(target.url)
      RETURNING target_id
      """, logger: logger)
    for try await _ in updated.decode(Int64.self) { return }
    _ = try await Self.addWebhookTarget(target, tenantID: tenantID, agentID: agentID, on: connection, logger: logger)
  }

  /// Adds a webhook target to an agent; returns its id. At most ``WebhookTarget/maxPerAgent``.
  public func addWebhookTarget(_ input: WebhookTargetInput, tenantID: Int64, agentID: Int64) async throws -> Int64 {
    let input = try input.validated(policy: outboundPolicy)
    return try await client.withConnection { connection in
      try await Self.addWebhookTarget(input, tenantID: tenantID, agentID: agentID, on: connection, logger: logger)
    }
  }

  private static func addWebhookTarget(
    _ input: WebhookTargetInput, tenantID: Int64, agentID: Int64, on connection: PostgresConnection, logger: Logger
  ) async throws -> Int64 {
    do {
      let rows = try await connection.query(
        """
        SELECT switchboard_add_webhook_target(\(tenantID), \(agentID), \(input.url), \(input.secret?.reveal),
          \(input.events)::text[], \(input.includeTranscript), \(input.includeRecording), \(WebhookTarget.maxPerAgent)::integer)
        """, logger: logger)
      for try await id in rows.decode(Int64?.self) {
        guard let id else { throw SwitchboardError.agentNotFound }
        return id
      }
      throw SwitchboardError.agentNotFound
    } catch let error as PSQLError where error.serverInfo?[.hint] == "switchboard_webhook_target_limit" {
      throw SwitchboardError(
        .conflict, "agent \(agentID) has \(WebhookTarget.maxPerAgent) webhook targets; remove one first")
    } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
      throw SwitchboardError(.conflict, "agent \(agentID) has a webhook target with that url already")
    }
  }

  /// An agent's webhook targets, oldest first, without their secrets.
  public func webhookTargets(tenantID: Int64, agentID: Int64) async throws -> [WebhookTarget] {
    let rows = try await client.query(
      """
      SELECT target_id, agent_id, url, events, include_transcript, include_recording, secret IS NOT NULL
      FROM webhook_targets WHERE tenant_id = \(tenantID) AND agent_id = \(agentID) ORDER BY target_id
      """, logger: logger)
    var targets: [WebhookTarget] = []
    for try await (id, agent, url, events, transcript, recording, hasSecret) in rows.decode(
      (Int64, Int64, String, [String]?, Bool, Bool, Bool).self)
    {
      targets.append(
        WebhookTarget(
          id: id, agentID: agent, url: url, events: events, includeTranscript: transcript,
          includeRecording: recording, hasSecret: hasSecret))
    }
    return targets
  }

  /// Removes a target, and the events still waiting to go to it; `false` when the agent has no
  /// such target.
  public func removeWebhookTarget(tenantID: Int64, agentID: Int64, targetID: Int64) async throws -> Bool {
    let rows = try await client.query(
      """
      WITH removed AS (
        DELETE FROM webhook_targets WHERE tenant_id = \(tenantID) AND agent_id = \(agentID) AND target_id = \(targetID)
        RETURNING tenant_id, target_id
      ), pending AS (
        DELETE FROM event_deliveries d USING removed r
        WHERE d.tenant_id = r.tenant_id AND d.target_id = r.target_id AND d.delivered_at IS NULL
      )
      SELECT count(*) FROM removed
      """, logger: logger)
    for try await count in rows.decode(Int.self) { return count > 0 }
    return false
  }

  /// Whether any tenant exists yet (the development seed runs only on an empty database).
  public func hasTenants() async throws -> Bool {
    let rows = try await client.query("SELECT EXISTS (SELECT FROM tenants)", logger: logger)
    for try await exists in rows.decode(Bool.self) { return exists }
    return false
  }

  /// Deletes idempotency keys past their retention, tenant by tenant (each under the deadline);
  /// returns how many.
  public func purgeExpiredIdempotencyKeys(deadline: Duration) async throws -> Int {
    let database = Database(client: client, timeout: deadline, logger: logger)
    let tenants = try await database.run { connection, logger in
      var tenants: [Int64] = []
      for try await id in try await connection.query("SELECT tenant_id FROM tenants", logger: logger).decode(
        Int64.self)
      {
        tenants.append(id)
      }
      return tenants
    }
    var purged = 0
    for tenantID in tenants {
      purged += try await database.run { connection, logger in
        let rows = try await connection.query(
          """
          WITH calls AS (
            DELETE FROM idempotency_keys WHERE tenant_id = \(tenantID) AND expires_at <= now() RETURNING 1
          ), batches AS (
            DELETE FROM batch_idempotency_keys WHERE tenant_id = \(tenantID) AND expires_at <= now() RETURNING 1
          ) SELECT (SELECT count(*) FROM calls) + (SELECT count(*) FROM batches)
          """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
      }
    }
    return purged
  }

  private func requireTenant(_ tenantID: Int64) async throws {
    let rows = try await client.query(
      "SELECT EXISTS (SELECT FROM tenants WHERE tenant_id = \(tenantID))", logger: logger)
    for try await exists in rows.decode(Bool.self) where exists { return }
    throw SwitchboardError(.notFound, "tenant \(tenantID) not found")
  }
}
