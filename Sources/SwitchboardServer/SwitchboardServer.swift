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

/// One Switchboard replica: the database pool, then (after migrations) its role's services, each
/// a lifecycle service of one group, so that graceful shutdown stops them in reverse order: the
/// background work first, then the HTTP and gRPC servers (requests in flight finish), then the
/// intake writers. `switchboard serve` and the tests build it the same way.
///
/// Every role serves HTTP: `api` and `all` the JSON gateway, `dispatcher` only `/healthz` and
/// `/readyz`.
public struct SwitchboardServer: Service {
  public let configuration: ServerConfiguration
  public let client: PostgresClient
  public let database: Database
  public let store: PostgresCallStore
  let logger: Logger
  private let grpc: GRPCServerService?
  private let http: Application<RouterResponder<BasicRequestContext>>
  private let httpPort: BoundPort
  private let operations: CallOperations
  private let dueNotifier: Notifier
  private let chainChanges: Notifier
  private let onMigrated: @Sendable (PostgresClient) async throws -> Void

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
    var storeConfiguration = PostgresCallStore.Configuration()
    storeConfiguration.idempotencyRetentionSeconds = configuration.idempotencyRetentionSeconds
    storeConfiguration.intakeWriters = configuration.intakeWriters
    dueNotifier = Notifier(database: database, channel: .due, logger: logger)
    chainChanges = Notifier(database: database, channel: .chains, logger: logger)
    store = PostgresCallStore(
      database: database, configuration: storeConfiguration, logger: logger, dueNotifier: dueNotifier,
      chainChanges: chainChanges)
    let operations = CallOperations(store: store, runtimeSecret: configuration.dialerSecret)
    self.operations = operations
    let batches = BatchOperations(
      calls: operations, store: PostgresBatchStore(database: database, logger: logger, chainChanges: chainChanges))
    let httpPort = BoundPort()
    self.httpPort = httpPort

    _ = PrometheusExport.registry  // the metrics backend, before anything records
    let gateway = Gateway(
      operations: operations, batches: batches, metrics: PrometheusExport.exposition, tracing: configuration.tracing)
    if configuration.role == .dispatcher {
      grpc = nil
    } else {
      grpc = GRPCServerService(
        host: configuration.grpcHost, port: configuration.grpcPort,
        services: [
          CallService(operations: operations), BatchService(operations: batches), HealthService(store: store),
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

  /// The HTTP port once listening (useful with port 0).
  public func httpListeningPort() async -> Int? {
    await httpPort.value()
  }

  public func run() async throws {
    try await Migrator(client: client, logger: logger).migrate()
    try await onMigrated(client)
    // Every role changes chains (intake and events, or dispatch); only roles that serve gRPC
    // have watchers.
    var services: [any Service] = [NotifierService(notifier: chainChanges)]
    if configuration.role != .dispatcher {
      services += [store, NotifierService(notifier: dueNotifier), WatchersService(watchers: operations.watchers)]
    }
    if let grpc { services.append(grpc) }
    services.append(http)
    if configuration.role != .api {
      services += try backgroundServices()
    }
    let group = ServiceGroup(services: services, logger: logger)
    try await withGracefulShutdownHandler {
      try await group.run()
    } onGracefulShutdown: {
      Task { await group.triggerGracefulShutdown() }
    }
  }

  /// Dispatch, the reaper, outcome delivery and maintenance: the work of role `dispatcher`. In
  /// shutdown order, reversed: what they share (the HTTP client, the simulated calls) stops last.
  func backgroundServices() throws -> [any Service] {
    let webhooks = WebhookSender.makeClient()
    let targets = TargetClients(policy: configuration.outboundPolicy, connectionsPerHost: OutboxDeliverer.perTarget)
    let dispatchStore = PostgresDispatchStore(database: database, logger: logger, chainChanges: chainChanges)
    var services: [any Service] = [HTTPClientService(client: webhooks), targets]
    let dialer: any Dialer
    switch configuration.dialer {
    case .webhook:
      guard let url = configuration.dialerURL else { throw ConfigurationError("--dialer webhook needs --dialer-url") }
      dialer = WebhookDialer(
        configuration: .init(url: url, secret: configuration.dialerSecret), client: webhooks, logger: logger)
    case .simulated:
      let simulated = SimulatedDialer(operations: operations, logger: logger)
      services.append(simulated)
      dialer = simulated
    }
    var dispatch = Dispatcher.Configuration(replicaID: configuration.replicaID)
    dispatch.lease = configuration.dispatchLease
    var reaping = Reaper.Configuration()
    reaping.ringTimeout = configuration.ringTimeout
    reaping.maxCallDuration = configuration.maxCallDuration
    return services + [
      Dispatcher(
        store: dispatchStore, dialer: dialer, configuration: dispatch, logger: logger,
        reportFailure: Dispatcher.reportingFailures(to: operations, logger: logger)),
      Reaper(
        store: dispatchStore, configuration: reaping, logger: logger, record: Reaper.recording(to: operations)),
      OutboxDeliverer(
        outbox: PostgresOutbox(database: database), sender: WebhookSender(targets: targets), logger: logger),
      IdempotencyKeyPurger(accounts: PostgresAccounts(client: client, logger: logger), logger: logger),
      BacklogSampler(store: dispatchStore, logger: logger),
    ]
  }

  /// The pool and the server, in start order, for a `ServiceGroup`.
  public var services: [any Service] { [client, self] }
}

/// A port learned once a listener is bound.
actor BoundPort {
  private var port: Int?
  private var waiters: [CheckedContinuation<Int?, Never>] = []

  func set(_ port: Int?) {
    self.port = port
    for waiter in waiters { waiter.resume(returning: port) }
    waiters = []
  }

  func value() async -> Int? {
    if let port { return port }
    return await withCheckedContinuation { waiters.append($0) }
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
  let logger: Logger

  func run() async throws {
    // Ends quietly when shutdown cancels the sleep.
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          let purged = try await accounts.purgeExpiredIdempotencyKeys()
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
