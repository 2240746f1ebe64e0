import Foundation
import Logging
import PostgresNIO
import SwitchboardCore

/// Tenants, API keys and agents: what the admin CLI and the development seed manage.
public struct PostgresAccounts: Sendable {
  public let client: PostgresClient
  let logger: Logger

  public init(client: PostgresClient, logger: Logger) {
    self.client = client
    self.logger = logger
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

  /// Creates an agent, or changes the given fields of an existing one when `update` is true.
  public func saveAgent(
    tenantID: Int64, agentID: Int64, phoneNumber: String?, name: String?, update: Bool
  )
    async throws
  {
    try await requireTenant(tenantID)
    if update {
      let rows = try await client.query(
        """
        UPDATE agents SET phone_number = coalesce(\(phoneNumber), phone_number), name = coalesce(\(name), name),
          updated_at = now()
        WHERE tenant_id = \(tenantID) AND agent_id = \(agentID)
        RETURNING agent_id
        """, logger: logger)
      for try await _ in rows.decode(Int64.self) { return }
      throw SwitchboardError.agentNotFound
    }
    let rows = try await client.query(
      """
      INSERT INTO agents (tenant_id, agent_id, phone_number, name) VALUES (\(tenantID), \(agentID), \(phoneNumber), \(name))
      ON CONFLICT DO NOTHING RETURNING agent_id
      """, logger: logger)
    for try await _ in rows.decode(Int64.self) { return }
    throw SwitchboardError(.conflict, "agent \(agentID) already exists; use agents update")
  }

  /// Whether any tenant exists yet (the development seed runs only on an empty database).
  public func hasTenants() async throws -> Bool {
    let rows = try await client.query("SELECT EXISTS (SELECT FROM tenants)", logger: logger)
    for try await exists in rows.decode(Bool.self) { return exists }
    return false
  }

  /// Deletes idempotency keys past their retention, tenant by tenant; returns how many.
  public func purgeExpiredIdempotencyKeys() async throws -> Int {
    var tenants: [Int64] = []
    for try await id in try await client.query("SELECT tenant_id FROM tenants", logger: logger).decode(Int64.self) {
      tenants.append(id)
    }
    var purged = 0
    for tenantID in tenants {
      let rows = try await client.query(
        """
        WITH gone AS (
          DELETE FROM idempotency_keys WHERE tenant_id = \(tenantID) AND expires_at <= now() RETURNING 1
        ) SELECT count(*) FROM gone
        """, logger: logger)
      for try await count in rows.decode(Int.self) { purged += count }
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
