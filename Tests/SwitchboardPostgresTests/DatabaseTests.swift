import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardPostgres

@Suite("Database")
struct DatabaseTests {
  @Test("every table, view and column carries a comment for analysts")
  func comments() async throws {
    let environment = try await TestEnvironment.shared.get()
    let rows = try await environment.client.query(
      """
      SELECT c.relname || coalesce('.' || a.attname, '')
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
      LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'v') AND col_description(c.oid, coalesce(a.attnum, 0)) IS NULL
        AND (a.attnum IS NOT NULL OR obj_description(c.oid, 'pg_class') IS NULL)
      """)
    var missing: [String] = []
    for try await name in rows.decode(String.self) { missing.append(name) }
    #expect(missing == [])
  }

  @Test("conversation_chains shows each attempt with its chain and the attempt before it")
  func analystView() async throws {
    let tenant = try await TestTenant.make()
    let first = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let id = try #require(first.data?["conversation_id"])
    _ = try await GatewayClient.makeCall(tenant, tenant.callBody(["conversation_id": id]))
    let rows = try await tenant.environment.client.query(
      """
      SELECT attempt_number, chain_length, is_latest_attempt, previous_trace_id::text, status
      FROM conversation_chains WHERE tenant_id = \(tenant.id) ORDER BY attempt_number
      """)
    var seen: [(Int, Int, Bool, String?, String)] = []
    for try await row in rows.decode((Int, Int, Bool, String?, String).self) { seen.append(row) }
    #expect(seen.count == 2)
    #expect(seen.map(\.0) == [1, 2])
    #expect(seen.map(\.1) == [2, 2])
    #expect(seen.map(\.2) == [false, true])
    #expect(seen[0].3 == nil)
    #expect(seen[1].3 == first.data?["trace_id"]?.stringValue)
  }

  @Test("conversation_chains calls finished exactly the statuses Core calls terminal")
  func analystViewFinished() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    for status in CallStatus.allCases {
      try await tenant.environment.client.query(
        "UPDATE call_attempts SET status = \(status.rawValue) WHERE tenant_id = \(tenant.id) AND trace_id = \(UUID(uuidString: trace)!)"
      )
      let rows = try await tenant.environment.client.query(
        "SELECT is_finished FROM conversation_chains WHERE tenant_id = \(tenant.id)")
      for try await finished in rows.decode(Bool.self) {
        #expect(finished == status.isTerminal, "\(status)")
      }
    }
  }

  @Test("the analyst role can read chains")
  func analystRole() async throws {
    let environment = try await TestEnvironment.shared.get()
    let rows = try await environment.client.query(
      "SELECT has_table_privilege('switchboard_analyst', 'conversation_chains', 'SELECT'), has_table_privilege('switchboard_analyst', 'api_keys', 'SELECT')"
    )
    for try await (chains, keys) in rows.decode((Bool, Bool).self) {
      #expect(chains)
      #expect(!keys, "key hashes stay out of analysts' reach")
    }
    let targets = try await environment.client.query(
      """
      SELECT has_column_privilege('switchboard_analyst', 'webhook_targets', 'url', 'SELECT'),
        has_column_privilege('switchboard_analyst', 'webhook_targets', 'secret', 'SELECT')
      """)
    for try await (url, secret) in targets.decode((Bool, Bool).self) {
      #expect(url)
      #expect(!secret, "webhook secrets stay out of analysts' reach")
    }
  }

  @Test("API keys are stored only as SHA-256")
  func hashedKeys() async throws {
    let tenant = try await TestTenant.make()
    let rows = try await tenant.environment.client.query(
      "SELECT encode(key_hash, 'hex'), key_prefix FROM api_keys WHERE tenant_id = \(tenant.id)")
    for try await (hash, prefix) in rows.decode((String, String).self) {
      #expect(hash == APIKeyHash.hex(of: tenant.key))
      #expect(!hash.contains(tenant.key))
      #expect(prefix == String(tenant.key.prefix(7)))
    }
  }

  @Test("migrations run once, even when replicas start together")
  func migrationsConcurrently() async throws {
    let environment = try await TestEnvironment.shared.get()
    let logger = Logger(label: "tests")
    let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
      for _ in 0..<4 { group.addTask { try await Migrator(client: environment.client, logger: logger).migrate() } }
      return try await group.reduce(into: []) { $0 += $1 }
    }
    #expect(applied == [])
    let rows = try await environment.client.query("SELECT count(*) FROM schema_migrations")
    for try await count in rows.decode(Int.self) { #expect(count == (try Migrator.bundled()).count) }
  }

  @Test("migration scripts split at top-level semicolons only")
  func scriptSplitting() {
    let script = """
      -- a comment; with a semicolon
      CREATE TABLE a (b text DEFAULT 'x;y');
      /* block; comment */ COMMENT ON TABLE a IS 'it''s; fine';
      CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;
      DO $$ BEGIN PERFORM 1; END $$;
      """
    let statements = SQLScript.statements(in: script)
    #expect(statements.count == 4)
    #expect(statements[0].hasSuffix("DEFAULT 'x;y')"))
    #expect(statements[2].contains("RETURN 1; END $body$"))
  }

  @Test("idempotency keys past their retention are purged and may be used again")
  func idempotencyExpiry() async throws {
    let tenant = try await TestTenant.make()
    #expect(try await GatewayClient.makeCall(tenant, tenant.callBody(["idempotency_key": "daily"])).status == 200)
    // Age the key past its retention instead of waiting 24 hours.
    try await tenant.environment.client.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = \(tenant.id)")
    #expect(try await GatewayClient.makeCall(tenant, tenant.callBody(["idempotency_key": "daily"])).status == 200)
    try await tenant.environment.client.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = \(tenant.id)")
    let purged = try await PostgresAccounts(client: tenant.environment.client, logger: Logger(label: "tests"))
      .purgeExpiredIdempotencyKeys(deadline: .seconds(5))
    #expect(purged >= 1)
    #expect(try await tenant.count("idempotency_keys") == 0)
    #expect(try await tenant.count("call_attempts") == 2)
  }
}

@Suite("Non-public surfaces")
struct PoolErrorTests {
  @Test("a query on a pool that has shut down throws what PoolErrors recognises, and is a 503")
  func shutDownPool() async throws {
    let environment = try await TestEnvironment.shared.get()
    let url = try #require(URLComponents(string: environment.databaseURL))
    let configuration = PostgresClient.Configuration(
      host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "postgres", password: url.password,
      database: String(url.path.dropFirst()), tls: .disable)
    var logger = Logger(label: "pool-tests")
    logger.logLevel = .critical
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    let pool = Task { await client.run() }
    try await client.query("SELECT 1")
    pool.cancel()
    await pool.value
    do {
      try await client.query("SELECT 1")
      Issue.record("a pool that has shut down answered")
    } catch {
      #expect(PoolErrors.isPoolError(error), "\(type(of: error)): \(error)")
      guard case .unavailable = DatabaseFailure.classify(error).kind else {
        Issue.record("a pool's refusal is not a 503: \(DatabaseFailure.classify(error))")
        return
      }
    }
  }
}
