import Foundation
import GRPCCore
import Hummingbird
import HummingbirdTLS
import Logging
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardGRPC
import SwitchboardHTTP
import SwitchboardPostgres
import UnixSignals

/// One Switchboard replica: the database pool, the migration, then its role's services, all in
/// one flat service group (see Lifecycle.swift): nothing listens before the schema is current,
/// and graceful shutdown stops them in reverse order within the shutdown deadline: the
/// background work first, then the HTTP and gRPC servers (requests in flight finish), then the
/// intake writers, the pool last. `switchboard serve` and the tests build it the same way.
///
/// Every role serves HTTP: `api` and `all` the JSON gateway, `dispatcher` only `/healthz` and
/// `/readyz`.
public struct SwitchboardServer: Sendable {
  public let configuration: ServerConfiguration
  public let client: PostgresClient
  public let database: Database
  public let store: PostgresCallStore
  let logger: Logger
  private let grpc: GRPCServerService?
  private let http: Application<RouterResponder<BasicRequestContext>>
  private let httpPort: OnceValue<Int>
  private let operations: CallOperations
  private let dueNotifier: Notifier
  private let chainChanges: Notifier
  private let onMigrated: @Sendable (PostgresClient) async throws -> Void
  private let running = RunningServices()

  /// - Parameter onMigrated: runs once the schema is current, before anything is served.
  public init(
    configuration: ServerConfiguration, logger: Logger,
    onMigrated: @escaping @Sendable (PostgresClient) async throws -> Void = { _ in }
  ) throws {
    self.configuration = configuration
    self.logger = logger
    self.onMigrated = onMigrated
    client = PostgresClient(configuration: try configuration.postgresConfiguration(), backgroundLogger: logger)
    database = Database(client: client, timeout: configuration.databaseTimeout, logger: logger)
    let storeConfiguration = PostgresCallStore.Configuration(
      idempotencyRetentionSeconds: configuration.idempotencyRetentionSeconds,
      intakeWriters: configuration.intakeWriters)
    dueNotifier = Notifier(database: database, channel: .due, logger: logger)
    chainChanges = Notifier(database: database, channel: .chains, logger: logger)
    store = PostgresCallStore(
      database: database, configuration: storeConfiguration, logger: logger, dueNotifier: dueNotifier,
      chainChanges: chainChanges)
    let operations = CallOperations(store: store, runtimeSecret: configuration.dialerSecret)
    self.operations = operations
    let batches = BatchOperations(
      calls: operations,
      store: PostgresBatchStore(
        database: database, idempotencyRetentionSeconds: configuration.idempotencyRetentionSeconds, logger: logger,
        chainChanges: chainChanges))
    let compliance = ComplianceOperations(
      calls: operations, store: PostgresCompliance(database: database, logger: logger, chainChanges: chainChanges))
    let httpPort = OnceValue<Int>()
    self.httpPort = httpPort

    _ = PrometheusExport.registry  // the metrics backend, before anything records
    let gateway = Gateway(
      operations: operations, batches: batches, compliance: compliance, metrics: PrometheusExport.exposition,
      tracing: configuration.tracing)
    if configuration.role == .dispatcher {
      grpc = nil
    } else {
      grpc = GRPCServerService(
        host: configuration.grpcHost, port: configuration.grpcPort,
        services: [
          CallService(operations: operations), BatchService(operations: batches),
          ComplianceService(operations: compliance), HealthService(store: store),
        ],
        maxRequestBytes: CallContract.maxBodyBytes, maxRequestStreamBytes: configuration.grpcMaxRequestStreamBytes,
        requestStreamDeadline: configuration.httpLimits.requestTimeout,
        maxConcurrentStreams: configuration.grpcMaxConcurrentStreams,
        security: configuration.tls?.grpcSecurity ?? .plaintext, tracing: configuration.tracing, logger: logger)
    }
    http = Application(
      router: configuration.role == .dispatcher ? gateway.healthRouter() : gateway.router(),
      server: try configuration.tls.map {
        try .tls(configuration.httpLimits.server(), tlsConfiguration: $0.httpConfiguration())
      }
        ?? configuration.httpLimits.server(),
      configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: nil),
      onServerRunning: { channel in await httpPort.set(channel.localAddress?.port) },
      logger: logger)
  }

  /// The gRPC port once listening (useful with port 0); `nil` for a dispatcher.
  public func grpcListeningPort() async throws -> Int? {
    try await grpc?.listeningPort()
  }

  /// The HTTP port once listening (useful with port 0); `nil` when the listener failed.
  public func httpListeningPort() async -> Int? {
    await httpPort.value()
  }

  /// The replica's services in start order: the pool, the migration, then (once the schema is
  /// current) its role's services, named; `extra` (a tracing exporter) runs before them all and
  /// stops last.
  public func services(extra: [(String, any Service)] = []) async throws -> [any Service] {
    let gate = OnceValue<Bool>()
    var named: [(String, any Service)] = [("chain-notifier", NotifierService(notifier: chainChanges))]
    // Every role changes chains (intake and events, or dispatch); only roles that serve gRPC
    // have watchers.
    if configuration.role != .dispatcher {
      named += [
        ("intake", store), ("due-notifier", NotifierService(notifier: dueNotifier)),
        ("watchers", WatchersService(watchers: operations.watchers)),
      ]
    }
    if let grpc { named.append(("grpc", grpc)) }
    named.append(("http", HTTPListener(application: http, port: httpPort, address: configuration.httpAddress)))
    if configuration.role != .api {
      named += try backgroundServices()
    }
    let port = httpPort
    let migration = MigrationService(
      client: client, gate: gate, onMigrated: onMigrated, failed: { await port.set(nil) }, logger: logger)
    // The extras (a tracing exporter) start first and stop last; they need no schema.
    let open = OnceValue<Bool>()
    await open.set(true)
    return extra.map { ReplicaService(name: $0, base: $1, gate: open, running: running, logger: logger) }
      + [client, migration]
      + named.map { ReplicaService(name: $0, base: $1, gate: gate, running: running, logger: logger) }
  }

  /// The replica as one group: its services, then the shutdown deadline's watchdog. `signals`
  /// start graceful shutdown (the CLI's SIGTERM and SIGINT); `overdue` runs when services
  /// outlive the deadline and their cancellation (the CLI exits non-zero).
  public func serviceGroup(
    extra: [(String, any Service)] = [], signals: [UnixSignal] = [],
    overdue: @escaping @Sendable ([String]) -> Void = { _ in }
  ) async throws -> ServiceGroup {
    let watchdog = ShutdownWatchdog(
      timeout: configuration.shutdownTimeout, grace: .seconds(5), running: running, logger: logger, overdue: overdue)
    var group = ServiceGroupConfiguration(
      services: try await services(extra: extra).map { .init(service: $0) } + [.init(service: watchdog)],
      gracefulShutdownSignals: signals, logger: logger)
    group.maximumGracefulShutdownDuration = configuration.shutdownTimeout
    return ServiceGroup(configuration: group)
  }

  /// Whether the last shutdown passed its deadline (services had to be cancelled).
  public var shutdownOverran: Bool { running.overran.load(ordering: .sequentiallyConsistent) }

  /// Dispatch, the reaper, outcome delivery and maintenance: the work of role `dispatcher`. In
  /// shutdown order, reversed: what they share (the HTTP client, the simulated calls) stops last.
  func backgroundServices() throws -> [(String, any Service)] {
    let webhooks = WebhookSender.makeClient()
    let targets = TargetClients(policy: configuration.outboundPolicy, connectionsPerHost: OutboxDeliverer.perTarget)
    let dispatchStore = PostgresDispatchStore(database: database, logger: logger, chainChanges: chainChanges)
    var services: [(String, any Service)] = [
      ("webhook-client", HTTPClientService(client: webhooks)), ("target-clients", targets),
    ]
    let dialer: any Dialer
    switch configuration.dialer {
    case .webhook:
      guard let url = configuration.dialerURL else { throw ConfigurationError("--dialer webhook needs --dialer-url") }
      dialer = WebhookDialer(
        configuration: .init(url: url, secret: configuration.dialerSecret), client: webhooks, logger: logger)
    case .simulated:
      let simulated = SimulatedDialer(operations: operations, logger: logger)
      services.append(("simulated-dialer", simulated))
      dialer = simulated
    }
    let dispatch = Dispatcher.Configuration(replicaID: configuration.replicaID, lease: configuration.dispatchLease)
    let reaping = Reaper.Configuration(
      ringTimeout: configuration.ringTimeout, maxCallDuration: configuration.maxCallDuration)
    return services + [
      (
        "dispatcher",
        Dispatcher(
          store: dispatchStore, dialer: dialer, configuration: dispatch, logger: logger,
          reportFailure: Dispatcher.reportingFailures(to: operations, logger: logger))
      ),
      (
        "reaper",
        Reaper(
          store: dispatchStore, configuration: reaping, logger: logger, record: Reaper.recording(to: operations))
      ),
      (
        "outbox",
        OutboxDeliverer(
          outbox: PostgresOutbox(database: database), sender: WebhookSender(targets: targets), logger: logger)
      ),
      (
        "idempotency-purger",
        IdempotencyKeyPurger(
          accounts: PostgresAccounts(client: client, logger: logger), deadline: configuration.databaseTimeout,
          logger: logger)
      ),
      ("backlog-sampler", BacklogSampler(store: dispatchStore, logger: logger)),
    ]
  }
}

/// The JSON gateway's listener. Whatever ends it (a failed bind most of all) settles its port,
/// so nothing waits for a port that will not come; a failed bind says which address.
struct HTTPListener: Service {
  let application: Application<RouterResponder<BasicRequestContext>>
  let port: OnceValue<Int>
  let address: String

  func run() async throws {
    do {
      try await application.run()
    } catch {
      await port.set(nil)
      throw ConfigurationError("the HTTP listener could not serve on \(address): \(error)")
    }
    await port.set(nil)
  }
}

/// Sends the dispatchers' wake-ups for this replica's accepted calls.
struct NotifierService: Service {
  let notifier: Notifier

  func run() async throws {
    await cancelWhenGracefulShutdown { await notifier.run() }
  }
}

/// Feeds this replica's `WatchConversation` streams until graceful shutdown.
struct WatchersService: Service {
  let watchers: ConversationWatchers

  func run() async throws {
    await cancelWhenGracefulShutdown { await watchers.run() }
  }
}

/// Deletes idempotency keys (calls' and batch uploads') past their retention every minute.
struct IdempotencyKeyPurger: Service {
  let accounts: PostgresAccounts
  let deadline: Duration
  let logger: Logger

  func run() async throws {
    // Ends quietly when shutdown cancels the sleep.
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          let purged = try await accounts.purgeExpiredIdempotencyKeys(deadline: deadline)
          if purged > 0 { logger.info("purged expired idempotency keys", metadata: ["count": "\(purged)"]) }
        } catch {
          logger.warning("idempotency key purge failed", metadata: ["error": "\(String(reflecting: error))"])
        }
        try await Task.sleep(for: .seconds(60))
      }
    }
  }
}

/// Samples the dispatch backlog and the outbox into gauges every few seconds.
struct BacklogSampler: Service {
  let store: PostgresDispatchStore
  let logger: Logger
  var interval: Duration = .seconds(5)

  func run() async throws {
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          let backlog = try await store.backlog()
          Telemetry.backlog(dueWaiting: backlog.dueWaiting, outboxPending: backlog.outboxPending)
        } catch {
          logger.debug("sampling the backlog failed", metadata: ["error": "\(error)"])
        }
        try await Task.sleep(for: interval)
      }
    }
  }
}
