import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOSSL
import OTel
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import Synchronization
import Tracing

// What several commands read: where the database is, the outbound URL policy, the
// environment's variables, the log format.

/// Where the database is: `--database-url`, `SWITCHBOARD_DATABASE_URL`, or else the embedded
/// cluster under `--data-dir`.
struct DatabaseOptions: ParsableArguments {
  @Option(help: "PostgreSQL URL (env SWITCHBOARD_DATABASE_URL). Without one, a private cluster runs under --data-dir.")
  var databaseURL: String?

  @Option(help: "Directory of the embedded PostgreSQL cluster (env SWITCHBOARD_DATA_DIR).")
  var dataDir: String?

  @Option(help: "Log level: trace, debug, info, notice, warning, error (env LOG_LEVEL).")
  var logLevel: String?

  @Option(help: "text or json: one JSON object per line (env SWITCHBOARD_LOG_FORMAT, default text).")
  var logFormat: LogFormat?

  var url: String? { databaseURL ?? Environment.string("SWITCHBOARD_DATABASE_URL") }
  var directory: String { dataDir ?? Environment.string("SWITCHBOARD_DATA_DIR") ?? ".switchboard" }

  /// The process's logger, in the chosen format; a bad level or format stops start-up.
  func logger() throws -> Logger {
    let format = try logFormat ?? Environment.choice("SWITCHBOARD_LOG_FORMAT") ?? .text
    let level = logLevel ?? Environment.string("LOG_LEVEL") ?? "info"
    return try Self.logger(level: level, format: format.rawValue)
  }

  /// A logger at `level` (a swift-log level's name) in `format` (text or json), bootstrapping
  /// the process's log handler.
  static func logger(level text: String, format: String) throws -> Logger {
    guard let level = Logger.Level(rawValue: text) else {
      throw ValidationError(
        "LOG_LEVEL must be \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \(text)")
    }
    LogFormat.bootstrap(LogFormat(rawValue: format) ?? .text)
    var logger = Logger(label: "switchboard")
    logger.logLevel = level
    return logger
  }

  /// The database URL, starting the embedded cluster when none was given.
  func resolve(logger: Logger) async throws -> (url: String, embedded: EmbeddedPostgres?) {
    try await Self.resolve(url: url, directory: directory, logger: logger)
  }

  /// `url`, or the embedded cluster under `directory`, started.
  static func resolve(
    url: String?, directory: String, logger: Logger
  ) async throws -> (url: String, embedded: EmbeddedPostgres?) {
    if let url { return (url, nil) }
    let embedded = try await EmbeddedPostgres.start(in: directory, logger: logger)
    return (embedded.databaseURL, embedded)
  }

  /// Runs `body` with a migrated database, then stops what was started for it.
  func withDatabase<T: Sendable>(
    _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
  )
    async throws -> T
  {
    let logger = try logger()
    let (url, embedded) = try await resolve(logger: logger)
    let result: Result<T, any Error>
    do {
      let client = PostgresClient(
        configuration: try ServerConfiguration(databaseURL: url).postgresConfiguration(), backgroundLogger: logger)
      result = .success(
        try await withThrowingTaskGroup(of: T?.self) { group in
          group.addTask {
            await client.run()
            return nil
          }
          defer { group.cancelAll() }
          try await Migrator(client: client, logger: logger).migrate()
          return try await body(client, logger)
        })
    } catch {
      result = .failure(error)
    }
    await embedded?.stop()
    return try result.get()
  }
}

/// What tenants' URLs (webhook targets) may point to: read by `serve`, which calls them, and by
/// the commands that register them.
struct OutboundOptions: ParsableArguments {
  @Flag(
    help:
      "Allow webhook targets on loopback, private and link-local addresses, for receivers on your own network (env SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true; default off)."
  )
  var allowPrivateTargets = false

  func policy() throws -> OutboundURLPolicy {
    OutboundURLPolicy(
      allowPrivateAddresses: try allowPrivateTargets || Environment.boolean("SWITCHBOARD_ALLOW_PRIVATE_TARGETS") == true
    )
  }
}

enum Environment {
  static func string(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
  }

  static func boolean(_ name: String) throws -> Bool? {
    guard let text = string(name)?.lowercased() else { return nil }
    switch text {
    case "true", "1", "yes": return true
    case "false", "0", "no": return false
    default: throw ValidationError("\(name) must be true or false, not \(text)")
    }
  }

  /// One of a closed set of values; anything else stops start-up with a line naming the setting.
  static func choice<T: RawRepresentable & CaseIterable>(_ name: String) throws -> T? where T.RawValue == String {
    guard let text = string(name) else { return nil }
    guard let value = T(rawValue: text) else {
      let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
      throw ValidationError("\(name) must be one of \(allowed), not \(text)")
    }
    return value
  }

  static func integer(_ name: String) throws -> Int? {
    guard let text = string(name) else { return nil }
    guard let value = Int(text) else { throw ValidationError("\(name) must be an integer, not \(text)") }
    return value
  }
}

enum LogFormat: String, CaseIterable, ExpressibleByArgument {
  case text, json

  /// Sets the process's log handler once (swift-log allows one bootstrap per process).
  static func bootstrap(_ format: LogFormat) {
    bootstrapped.withLock { done in
      if done { return }
      done = true
      switch format {
      case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError)
      case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
      }
    }
  }
  private static let bootstrapped = Mutex(false)
}
