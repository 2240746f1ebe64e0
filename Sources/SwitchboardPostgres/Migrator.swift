import Crypto
import Foundation
import Logging
import PostgresNIO

/// One numbered schema change: `Migrations/NNNN_name.sql`. Versioned migrations change tables,
/// indexes and the immutable status-set functions that indexes use; once applied, a migration's
/// text is fixed (its checksum is recorded and checked at every start).
public struct Migration: Sendable, Hashable {
  public var version: Int
  public var name: String
  public var sql: String

  public init(version: Int, name: String, sql: String) {
    self.version = version
    self.name = name
    self.sql = sql
  }

  /// SHA-256 of the text, hex.
  public var checksum: String { SQLChecksum.of(sql) }
}

/// One function or view in its current form: `Functions/name.sql`, which every start re-applies
/// (with `CREATE OR REPLACE`) when any file's checksum differs from the one recorded, or when a
/// versioned migration ran. Flyway calls these repeatable migrations.
public struct RepeatableDefinition: Sendable, Hashable {
  public var name: String
  public var sql: String

  public init(name: String, sql: String) {
    self.name = name
    self.sql = sql
  }

  public var checksum: String { SQLChecksum.of(sql) }
}

enum SQLChecksum {
  static func of(_ text: String) -> String {
    SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
  }
}

/// Why the migrator refused to start.
public enum MigrationError: Error, CustomStringConvertible {
  /// An applied migration's file no longer says what was applied.
  case edited(version: Int, name: String)

  public var description: String {
    switch self {
    case .edited(let version, let name):
      let file = String(format: "%04d_%@.sql", version, name)
      return "migration \(file) was edited after it was applied to this database (its checksum differs); "
        + "restore it and put the change in a new migration"
    }
  }
}

/// Applies the bundled migrations in order, each in its own transaction, then the current
/// definitions of functions and views, all under an advisory lock so replicas starting together
/// take turns.
public struct Migrator: Sendable {
  /// `pg_advisory_lock` key of the migrator ("swbd" in ASCII).
  static let lockKey: Int64 = 0x7377_6264

  public let client: PostgresClient
  public let logger: Logger

  public init(client: PostgresClient, logger: Logger) {
    self.client = client
    self.logger = logger
  }

  /// The migrations shipped with this build, in version order.
  public static func bundled() throws -> [Migration] {
    try sqlFiles(in: "Migrations").compactMap { file, sql -> Migration? in
      guard let separator = file.firstIndex(of: "_"), let version = Int(file[..<separator]) else { return nil }
      return Migration(version: version, name: String(file[file.index(after: separator)...]), sql: sql)
    }.sorted { $0.version < $1.version }
  }

  /// The function and view definitions shipped with this build, in name order.
  public static func bundledDefinitions() throws -> [RepeatableDefinition] {
    try sqlFiles(in: "Functions").map { RepeatableDefinition(name: $0, sql: $1) }.sorted { $0.name < $1.name }
  }

  private static func sqlFiles(in folder: String) throws -> [(String, String)] {
    guard let directory = Bundle.module.resourceURL?.appendingPathComponent(folder) else { return [] }
    return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "sql" }
      .map { ($0.deletingPathExtension().lastPathComponent, try String(contentsOf: $0, encoding: .utf8)) }
  }

  /// Applies what is missing; returns the versions applied now.
  @discardableResult
  public func migrate(
    _ migrations: [Migration]? = nil, definitions: [RepeatableDefinition]? = nil
  ) async throws -> [Int] {
    let migrations = try migrations ?? Self.bundled()
    let definitions = try definitions ?? Self.bundledDefinitions()
    let logger = self.logger
    return try await client.withConnection { connection in
      // A migration may take longer than a request's deadline, and so may waiting for another
      // replica's migrations. The connection goes back to the pool with its deadlines restored.
      try await connection.query("SET statement_timeout = 0", logger: logger)
      try await connection.query("SET lock_timeout = 0", logger: logger)
      do {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        let applied = try await Self.apply(migrations, on: connection, logger: logger)
        try await Self.define(definitions, force: !applied.isEmpty, on: connection, logger: logger)
        try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
        try await connection.query("RESET statement_timeout", logger: logger)
        try await connection.query("RESET lock_timeout", logger: logger)
        return applied
      } catch {
        _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
        // Without its deadlines restored, the connection must not serve anything else.
        let _: EventLoopFuture<Void> = connection.close()
        throw error
      }
    }
  }

  private static func apply(
    _ migrations: [Migration], on connection: PostgresConnection, logger: Logger
  )
    async throws -> [Int]
  {
    try await connection.query(
      """
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )
      """, logger: logger)
    // Databases migrated before checksums were kept adopt the bundled ones on their next start.
    try await run(
      """
      ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text;
      COMMENT ON COLUMN schema_migrations.checksum IS 'SHA-256 of the migration file as applied: an edited file stops start-up.'
      """, on: connection, logger: logger)
    var done: [Int: String?] = [:]
    for try await (version, checksum) in try await connection.query(
      "SELECT version, checksum FROM schema_migrations", logger: logger
    ).decode((Int, String?).self) {
      done[version] = checksum
    }
    for migration in migrations {
      guard let recorded = done[migration.version] else { continue }
      if let recorded {
        guard recorded == migration.checksum else {
          throw MigrationError.edited(version: migration.version, name: migration.name)
        }
      } else {
        try await connection.query(
          "UPDATE schema_migrations SET checksum = \(migration.checksum) WHERE version = \(migration.version)",
          logger: logger)
      }
    }
    var applied: [Int] = []
    for migration in migrations where done[migration.version] == nil {
      try await connection.withTransaction(logger: logger) { connection in
        try await run(migration.sql, on: connection, logger: logger)
        try await connection.query(
          """
          INSERT INTO schema_migrations (version, name, checksum)
          VALUES (\(migration.version), \(migration.name), \(migration.checksum))
          """,
          logger: logger)
      }
      logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
      applied.append(migration.version)
    }
    return applied
  }

  /// Re-applies every definition, in one transaction, when any differs from what was recorded
  /// (or `force`: a migration just ran, and may have dropped what a definition made).
  private static func define(
    _ definitions: [RepeatableDefinition], force: Bool, on connection: PostgresConnection, logger: Logger
  ) async throws {
    try await run(
      """
      CREATE TABLE IF NOT EXISTS schema_definitions (
        name text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
      COMMENT ON TABLE schema_definitions IS 'Function and view definitions (db/functions) in force, by file name.';
      COMMENT ON COLUMN schema_definitions.name IS 'The file''s name without .sql.';
      COMMENT ON COLUMN schema_definitions.checksum IS 'SHA-256 of the file as applied.';
      COMMENT ON COLUMN schema_definitions.applied_at IS 'When it was last applied.'
      """, on: connection, logger: logger)
    var recorded: [String: String] = [:]
    for try await (name, checksum) in try await connection.query(
      "SELECT name, checksum FROM schema_definitions", logger: logger
    ).decode((String, String).self) {
      recorded[name] = checksum
    }
    let changed = definitions.filter { recorded[$0.name] != $0.checksum }.map(\.name)
    guard force || !changed.isEmpty else { return }
    try await connection.withTransaction(logger: logger) { connection in
      for definition in definitions {
        try await run(definition.sql, on: connection, logger: logger)
        try await connection.query(
          """
          INSERT INTO schema_definitions (name, checksum) VALUES (\(definition.name), \(definition.checksum))
          ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
          """, logger: logger)
      }
    }
    logger.info("applied function and view definitions", metadata: ["changed": "\(changed.joined(separator: ","))"])
  }

  /// Runs a script one statement at a time (the extended protocol takes one per query).
  private static func run(_ script: String, on connection: PostgresConnection, logger: Logger) async throws {
    for statement in SQLScript.statements(in: script) {
      try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
    }
  }
}
