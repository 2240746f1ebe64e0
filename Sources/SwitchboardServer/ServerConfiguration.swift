import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardHTTP

/// Everything `switchboard serve` can be told. The values written here are the defaults, the
/// only place they are written: `serve --help` quotes ``defaults``, and a test holds the README to them.
public struct ServerConfiguration: Sendable {
  /// Which parts of the service this replica runs.
  public enum Role: String, Sendable, CaseIterable {
    /// gRPC and HTTP intake and reads.
    case api
    /// Background work: dispatch and maintenance (idempotency-key purge).
    case dispatcher
    /// Both.
    case all
  }

  /// `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`.
  public var databaseURL: String
  public var role: Role = .all
  /// gRPC listens here; port 0 picks a free one.
  public var grpcHost = "0.0.0.0"
  public var grpcPort = 50051
  /// Streams one gRPC connection may have open at once (calls and watches), advertised to
  /// clients, which queue beyond it.
  public var grpcMaxConcurrentStreams = 1024
  /// Timeouts and the connection cap of the HTTP port; its request timeout also bounds how long a
  /// gRPC request stream may stay open.
  public var httpLimits = ConnectionLimits()
  /// All messages of one gRPC request stream together (`CreateBatch`): the HTTP upload's limit.
  public var grpcMaxRequestStreamBytes = BatchContract.maxBodyBytes
  /// TLS for both listeners; `nil` serves plaintext.
  public var tls: TLSFiles?
  /// Server spans for every request, to the process's tracer (`--otel-endpoint`).
  public var tracing = false
  /// The JSON gateway listens here.
  public var httpHost = "0.0.0.0"
  public var httpPort = 8080
  /// How long an accepted call's idempotency key stays taken.
  public var idempotencyRetentionSeconds = 24 * 3600
  /// The deadline of every database operation: PostgreSQL aborts a statement past it
  /// (`statement_timeout`, `lock_timeout`), and no request waits much longer for the database.
  public var databaseTimeout: Duration = .seconds(5)
  /// Pooled connections per replica.
  public var maxDatabaseConnections = 20
  /// Intake batches written at once, each on its own connection.
  public var intakeWriters = 3
  /// How long graceful shutdown may take (requests in flight, dials being recorded) before the
  /// replica cancels what still runs, names it, and exits non-zero.
  public var shutdownTimeout: Duration = .seconds(30)

  /// Which dialer places calls.
  public enum DialerKind: String, Sendable, CaseIterable {
    /// Plays calls out in process (development default).
    case simulated
    /// POSTs each attempt to `dialerURL`, signed with `dialerSecret`.
    case webhook
  }

  public var dialer: DialerKind = .simulated
  /// The operator's own URL: not checked against ``outboundPolicy``.
  public var dialerURL: String?
  /// What tenants' webhook targets may point to: public addresses only, unless
  /// `--allow-private-targets`.
  public var outboundPolicy = OutboundURLPolicy()
  public var dialerSecret: Secret?
  /// Names this replica's dispatch leases: host name and process id unless given.
  public var replicaID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
  /// How long a dispatch claim holds.
  public var dispatchLease: Duration = .seconds(30)
  /// A `dispatched` or `ringing` attempt with no report for this long ends `failed`.
  public var ringTimeout: Duration = .seconds(120)
  /// An `in_progress` attempt running longer than this ends `failed`.
  public var maxCallDuration: Duration = .seconds(3600)

  public init(databaseURL: String) {
    self.databaseURL = databaseURL
  }

  /// Every setting at its default: what `switchboard serve --help` and the README quote.
  public static let defaults = ServerConfiguration(databaseURL: "")

  /// The `PostgresClient` configuration the database URL describes.
  public func postgresConfiguration() throws -> PostgresClient.Configuration {
    guard let url = URLComponents(string: databaseURL), url.scheme == "postgres" || url.scheme == "postgresql",
      let host = url.host, !host.isEmpty
    else {
      throw ConfigurationError("database URL must look like postgres://user@host:port/database")
    }
    let sslMode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
    let tls: PostgresClient.Configuration.TLS =
      switch sslMode {
      case "disable": .disable
      case "require", "verify-full", "verify-ca": .require(.makeClientConfiguration())
      default: host == "127.0.0.1" || host == "localhost" ? .disable : .prefer(.makeClientConfiguration())
      }
    let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
    var configuration = PostgresClient.Configuration(
      host: host, port: url.port ?? 5432, username: url.user ?? "postgres", password: url.password,
      database: database.isEmpty ? nil : database, tls: tls)
    configuration.options.maximumConnections = maxDatabaseConnections
    configuration.options.connectTimeout = databaseTimeout
    // PostgreSQL enforces the deadline itself: it aborts and rolls back a statement past it, so a
    // statement the service gave up on cannot commit much later.
    let milliseconds = Int64((databaseTimeout.inSeconds * 1000).rounded())
    configuration.options.additionalStartupParameters = [
      ("statement_timeout", "\(milliseconds)"), ("lock_timeout", "\(milliseconds)"),
      ("idle_in_transaction_session_timeout", "\(2 * milliseconds)"),
    ]
    return configuration
  }
}

extension ServerConfiguration {
  /// Where the HTTP listener binds, as said in errors.
  var httpAddress: String { "\(httpHost):\(httpPort)" }
}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

// Printed by ServiceLifecycle at debug level among its services: the database URL may carry a
// password, so the configuration prints only where it listens.
extension ServerConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  public var description: String {
    "ServerConfiguration(role: \(role.rawValue), grpc: \(grpcHost):\(grpcPort), http: \(httpHost):\(httpPort))"
  }
  public var debugDescription: String { description }
  public var customMirror: Mirror {
    Mirror(self, children: ["role": role, "grpcPort": grpcPort, "httpPort": httpPort], displayStyle: .struct)
  }
}
