import Foundation
import Logging
import PostgresNIO

/// One numbered schema change: `NNNN_name.sql`.
public struct Migration: Sendable, Hashable {
  public var version: Int
  public var name: String
  public var sql: String
}

/// Applies the bundled migrations in order, each in its own transaction, under an advisory lock
/// so replicas starting together take turns.
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
    guard let directory = Bundle.module.resourceURL?.appendingPathComponent("Migrations") else { return [] }
    let urls = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "sql" }
    return try urls.compactMap { url -> Migration? in
      let file = url.deletingPathExtension().lastPathComponent
      guard let separator = file.firstIndex(of: "_"), let version = Int(file[..<separator]) else { return nil }
      let sql = try String(contentsOf: url, encoding: .utf8)
      return Migration(version: version, name: String(file[file.index(after: separator)...]), sql: sql)
    }.sorted { $0.version < $1.version }
  }

  /// Applies what is missing; returns the versions applied now.
  @discardableResult
  public func migrate(_ migrations: [Migration]? = nil) async throws -> [Int] {
    let migrations = try migrations ?? Self.bundled()
    let logger = self.logger
    return try await client.withConnection { connection in
      // A migration may take longer than a request's deadline, and so may waiting for another
      // replica's migrations. The connection goes back to the pool with its deadlines restored.
      try await connection.query("SET statement_timeout = 0", logger: logger)
      try await connection.query("SET lock_timeout = 0", logger: logger)
      do {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        let applied = try await Self.apply(migrations, on: connection, logger: logger)
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
    var done = Set<Int>()
    for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
      .decode(Int.self)
    {
      done.insert(version)
    }
    var applied: [Int] = []
    for migration in migrations where !done.contains(migration.version) {
      try await connection.withTransaction(logger: logger) { connection in
        for statement in SQLScript.statements(in: migration.sql) {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.query(
          "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
          logger: logger)
      }
      logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
      applied.append(migration.version)
    }
    return applied
  }
}
