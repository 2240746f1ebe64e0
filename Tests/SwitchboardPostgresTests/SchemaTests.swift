import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardPostgres

/// The schema has one statement of record, `db/schema.sql`; the migrations and the definitions
/// in `db/functions` are how a database gets there, from empty or from an earlier main.
@Suite("Schema", .isolatedDatabases)
struct SchemaTests {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The first line where two dumps differ, with its neighbours: a readable failure.
  static func firstDifference(_ expected: String, _ actual: String) -> String? {
    let left = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let right = actual.split(separator: "\n", omittingEmptySubsequences: false)
    guard
      let index = zip(left, right).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        ?? (left.count == right.count ? nil : min(left.count, right.count))
    else { return nil }
    let context = { (lines: [Substring]) in
      lines[max(0, index - 2)..<min(lines.count, index + 3)].joined(separator: "\n")
    }
    return "line \(index + 1):\n--- expected\n\(context(left))\n--- actual\n\(context(right))"
  }

  @Test("db/schema.sql is what migrating an empty database makes (scripts/dump-schema rewrites it)")
  func committedSchema() async throws {
    let (url, _, _) = try await IsolatedDatabase.create(prefix: "schema")
    let dumped = try PostgresTools.schema(of: url)
    let file = Self.root.appending(path: "db/schema.sql")
    if ProcessInfo.processInfo.environment["SWITCHBOARD_WRITE_SCHEMA"] == "1" {
      try dumped.write(to: file, atomically: true, encoding: .utf8)
    }
    let committed = try String(contentsOf: file, encoding: .utf8)
    let difference = Self.firstDifference(committed, dumped)
    #expect(
      difference == nil, "db/schema.sql is not what the migrations make; run scripts/dump-schema. \(difference ?? "")")
  }

  @Test("a database migrated by an earlier main, with rows, upgrades to the same schema and keeps its rows")
  func upgradeFromEarlierMain() async throws {
    let fixture = Self.root.appending(path: "Tests/SwitchboardPostgresTests/Fixtures/migrated-by-15f66e9.sql")
    let upgraded = try await IsolatedDatabase.make(prefix: "upgrade") { url in
      try PostgresTools.restore(fixture, into: url)
    }
    let (freshURL, _, _) = try await IsolatedDatabase.create(prefix: "fresh")
    let rows = try await upgraded.client.query("SELECT current_database()")
    var upgradedName = ""
    for try await name in rows.decode(String.self) { upgradedName = name }
    var upgradedURL = URLComponents(string: freshURL)!
    upgradedURL.path = "/\(upgradedName)"
    let difference = Self.firstDifference(
      try PostgresTools.schema(of: freshURL), try PostgresTools.schema(of: upgradedURL.string!))
    #expect(difference == nil, "an upgraded database differs from a fresh one: \(difference ?? "")")

    // The rows the earlier main wrote are still there and read back; the checksums were adopted.
    #expect(try await upgraded.count("SELECT count(*) FROM call_attempts") == 7)
    #expect(try await upgraded.count("SELECT count(*) FROM conversation_chains WHERE tenant_id = 1") == 7)
    #expect(try await upgraded.count("SELECT count(*) FROM schema_migrations WHERE checksum IS NULL") == 0)
    let chain = try await upgraded.count(
      "SELECT attempt_count FROM conversations WHERE tenant_id = 1 AND customer_phone = '+919876543210'")
    #expect(chain == 2)
    // And it takes calls.
    let tenant = try await upgraded.tenant()
    let receipt = try await upgraded.call(tenant)
    #expect(receipt.status == .initiated)
    let retry = try await upgraded.count(
      "SELECT count(*) FROM call_attempts WHERE tenant_id = 1 AND attempt_number = 2 AND status = 'scheduled'")
    #expect(retry == 1)
  }

  @Test("an applied migration whose file was edited stops start-up, naming it")
  func editedMigration() async throws {
    let (_, client, logger) = try await IsolatedDatabase.create(prefix: "edited")
    var migrations = try Migrator.bundled()
    migrations[2].sql += "\n-- an edit after the fact\n"
    let error = await #expect(throws: MigrationError.self) {
      try await Migrator(client: client, logger: logger).migrate(migrations)
    }
    #expect(error?.description.hasPrefix("migration 0003_dispatch.sql was edited") == true)
  }

  @Test("a changed definition is applied on the next start, and an unchanged one is not re-applied")
  func definitions() async throws {
    let (_, client, logger) = try await IsolatedDatabase.create(prefix: "definitions")
    func stamp() async throws -> [String: Date] {
      var stamps: [String: Date] = [:]
      for try await (name, at) in try await client.query("SELECT name, applied_at FROM schema_definitions")
        .decode((String, Date).self)
      {
        stamps[name] = at
      }
      return stamps
    }
    let before = try await stamp()
    #expect(before.keys.sorted() == (try Migrator.bundledDefinitions()).map(\.name))
    try await Migrator(client: client, logger: logger).migrate()
    #expect(try await stamp() == before)

    var definitions = try Migrator.bundledDefinitions()
    let index = try #require(definitions.firstIndex { $0.name == "uuid_v7" })
    definitions[index].sql += "\nCOMMENT ON FUNCTION switchboard_uuid_v7 IS 'changed by a test';\n"
    try await Migrator(client: client, logger: logger).migrate(definitions: definitions)
    let rows = try await client.query("SELECT obj_description('switchboard_uuid_v7'::regproc, 'pg_proc')")
    for try await comment in rows.decode(String.self) { #expect(comment == "changed by a test") }
    let after = try await stamp()
    #expect(after.keys.allSatisfy { after[$0]! > before[$0]! })
  }
}
