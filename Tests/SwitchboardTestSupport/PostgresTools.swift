import Foundation
import SwitchboardEmbeddedPostgres

/// PostgreSQL's client programs (`psql`, `pg_dump`), from the same binaries the embedded cluster
/// runs.
package enum PostgresTools {
  /// Runs a client program and answers its standard output; throws with its standard error when
  /// it fails.
  package static func run(_ tool: String, _ arguments: [String]) throws -> String {
    guard let binaries = EmbeddedPostgres.findBinaries() else { throw TestFailure("PostgreSQL binaries not found") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binaries + "/" + tool)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read before waiting: a large dump fills the pipe's buffer.
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let message = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw TestFailure("\(tool) failed: \(String(decoding: message, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// The schema of a database as `pg_dump --schema-only` writes it, without the lines that name
  /// the server's version or a random key (`\restrict`): equal for equal schemas.
  package static func schema(of url: String) throws -> String {
    let dump = try run("pg_dump", ["--schema-only", "--no-owner", "--dbname", url])
    return dump.split(separator: "\n", omittingEmptySubsequences: false)
      .filter { !$0.hasPrefix("-- Dumped ") && !$0.hasPrefix("\\restrict ") && !$0.hasPrefix("\\unrestrict ") }
      .joined(separator: "\n")
  }

  /// Runs a SQL file against a database, stopping at the first error.
  package static func restore(_ file: URL, into url: String) throws {
    _ = try run("psql", ["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--file", file.path, "--dbname", url])
  }
}
