import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardServer
import Synchronization
import Testing

extension IsolatedDatabase {
  /// A new, migrated database in the shared cluster: its URL, a pool on it and a quiet logger.
  /// Only inside a test that has the ``Trait/isolatedDatabases`` trait, which drops the database
  /// (and stops the pool) when the test ends, pass or fail.
  ///
  /// Its deadline is long (30 s): the whole suite runs in parallel on two cores, and at its peak a
  /// write took longer than the service's 5 s, failing tests that are not about deadlines (a
  /// dial recorded late is dialed again after its lease). Tests about deadlines set their own.
  ///
  /// - Parameter beforeMigrating: runs with the new database's URL before it is migrated (the
  ///   upgrade test restores an older schema there).
  package static func create(
    prefix: String, timeout: Duration = .seconds(30), beforeMigrating: (String) throws -> Void = { _ in }
  ) async throws -> (url: String, client: PostgresClient, logger: Logger) {
    guard let created = CreatedDatabases.current else {
      throw TestFailure("IsolatedDatabase needs the .isolatedDatabases trait on the test or its suite")
    }
    let environment = try await TestEnvironment.shared.get()
    let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    try await environment.client.query("CREATE DATABASE \(unescaped: name)")
    var url = URLComponents(string: environment.databaseURL)!
    url.path = "/\(name)"
    var logger = Logger(label: "\(prefix)-tests")
    logger.logLevel = .critical
    var configuration = ServerConfiguration(databaseURL: url.string!)
    configuration.maxDatabaseConnections = 20
    configuration.databaseTimeout = timeout
    let client = PostgresClient(configuration: try configuration.postgresConfiguration(), backgroundLogger: logger)
    created.add(name: name, pool: Task { await client.run() })
    try beforeMigrating(url.string!)
    try await Migrator(client: client, logger: logger).migrate()
    return (url.string!, client, logger)
  }
}

/// The databases one test made, dropped when it ends.
package final class CreatedDatabases: Sendable {
  @TaskLocal package static var current: CreatedDatabases?
  private let made = Mutex<[(name: String, pool: Task<Void, Never>)]>([])
  private let stops = Mutex<[@Sendable () async -> Void]>([])

  package func add(name: String, pool: Task<Void, Never>) { made.withLock { $0.append((name, pool)) } }

  /// Runs `stop` when the test ends, before its databases are dropped, and waits for it.
  package func atEnd(_ stop: @escaping @Sendable () async -> Void) { stops.withLock { $0.append(stop) } }

  package func dropAll() async throws {
    for stop in stops.withLock({ $0 }).reversed() { await stop() }
    let environment = try await TestEnvironment.shared.get()
    for (name, pool) in made.withLock({ $0 }) {
      pool.cancel()
      // FORCE ends what is still connected: servers and dispatchers a test left running.
      try await environment.client.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)")
    }
  }
}

/// Stops a server, proxy or receiver a test started, when the test ends (pass or fail), and waits
/// for it: a structured teardown in a test with the ``Trait/isolatedDatabases`` trait.
package func atTestEnd(_ stop: @escaping @Sendable () async -> Void) throws {
  guard let created = CreatedDatabases.current else {
    throw TestFailure("atTestEnd needs the .isolatedDatabases trait on the test or its suite")
  }
  created.atEnd(stop)
}

/// Gives each test a ``CreatedDatabases`` and drops what it made when the test ends.
package struct IsolatedDatabasesTrait: TestTrait, SuiteTrait, TestScoping {
  package var isRecursive: Bool { true }

  package func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    guard testCase != nil else { return try await function() }
    let created = CreatedDatabases()
    do {
      try await CreatedDatabases.$current.withValue(created) { try await function() }
    } catch {
      try? await created.dropAll()
      throw error
    }
    try await created.dropAll()
  }
}

extension Trait where Self == IsolatedDatabasesTrait {
  /// Tests that make databases of their own (``IsolatedDatabase``) drop them when they end.
  package static var isolatedDatabases: Self { Self() }
}

/// A database of its own, in the shared cluster, for tests whose dispatchers would otherwise take
/// other tests' attempts, or that change what other tests would see.
package struct IsolatedDatabase: Sendable {
  package let client: PostgresClient
  package let database: Database
  package let store: PostgresCallStore
  package let operations: CallOperations
  package let accounts: PostgresAccounts
  package let logger: Logger
  /// Each tenant's API key, made with the tenant.
  package let keys = TenantKeys()

  /// - Parameter timeout: the database deadline. Long by default: the whole suite runs in
  ///   parallel on two cores, and at its peak a write of a test about something else than
  ///   deadlines waited past 5 s (a different test each run). A test about deadlines gives its own.
  package static func make(
    prefix: String = "dispatch", timeout: Duration = .seconds(30), beforeMigrating: (String) throws -> Void = { _ in }
  ) async throws
    -> IsolatedDatabase
  {
    let (_, client, logger) = try await Self.create(
      prefix: prefix, timeout: timeout, beforeMigrating: beforeMigrating)
    let database = Database(client: client, timeout: timeout, logger: logger)
    let store = PostgresCallStore(database: database, configuration: .defaults, logger: logger).running()
    return IsolatedDatabase(
      client: client, database: database, store: store, operations: CallOperations(store: store),
      accounts: PostgresAccounts(client: client, logger: logger, outboundPolicy: .loopbackReceivers), logger: logger)
  }

  /// A tenant with limits off and agent 7.
  package func tenant(
    agent settings: PostgresAccounts.AgentSettings = .init(phoneNumber: "+14155550123")
  ) async throws
    -> Tenant
  {
    let id = try await accounts.createTenant(
      name: "dispatch", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 0))
    try await accounts.saveAgent(tenantID: id, agentID: 7, settings: settings, update: false)
    keys.set(try await accounts.createAPIKey(tenantID: id), for: id)
    return Tenant(id: id, name: "dispatch")
  }

  package func call(
    _ tenant: Tenant, phone: String = "+919876543210", parameters: [String: String] = [:],
    scheduledFor: Date? = nil, conversation: String? = nil, context: RetryContext? = nil, traceparent: String? = nil
  ) async throws -> CallReceipt {
    let extra = parameters.sorted { $0.key < $1.key }.map { CallParameter(name: $0.key, value: $0.value) }
    var input = MakeCallInput(
      agentID: 7, parameters: [CallParameter(name: "customer_phone", value: phone)] + extra,
      conversationID: conversation, retryContext: context, scheduledFor: scheduledFor)
    input.traceparent = traceparent
    let key = try keys.key(for: tenant.id)
    let caller = try await operations.authenticateCaller(authorization: "Bearer \(key)")
    return try await operations.makeCall(input, caller: caller).receipt
  }

  package func count(_ sql: String) async throws -> Int {
    for try await count in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return count }
    return 0
  }

  /// A dispatcher on this database, looking for work every 50 ms. `now` is its wall clock;
  /// `store` wraps the store it claims from (a test counting its claims).
  package func dispatcher(
    _ replica: String, dialer: any Dialer, lease: Duration = .seconds(30),
    now: @escaping @Sendable () -> Date = { Date() }, maxInFlight: Int = 512,
    store wrap: (any DispatchStore) -> any DispatchStore = { $0 }
  ) -> Dispatcher {
    var configuration = Dispatcher.Configuration(replicaID: replica, lease: lease)
    configuration.pollInterval = .milliseconds(50)
    configuration.maxInFlight = maxInFlight
    configuration.now = now
    return Dispatcher(
      store: wrap(PostgresDispatchStore(database: database, logger: logger)), dialer: dialer,
      configuration: configuration,
      logger: logger, reportFailure: Dispatcher.reportingFailures(to: operations, logger: logger))
  }

  /// The batch operations over this database.
  package var batches: BatchOperations {
    BatchOperations(
      calls: operations,
      store: PostgresBatchStore(database: database, idempotencyRetentionSeconds: 86_400, logger: logger))
  }

  /// Uploads a batch of agent `agentID` calling `phones`, one row each (lines from 2, as in a CSV).
  package func batch(
    _ tenant: Tenant, phones: [String], agentID: Int64 = 7, name: String
  ) async throws
    -> BatchReceipt
  {
    var recipients = BatchRecipients()
    for (line, number) in phones.enumerated() {
      recipients.add(
        BatchRecipientInput(line: line + 2, parameters: [CallParameter(name: "customer_phone", value: number)]),
        agentID: agentID, now: Date())
    }
    return try await batches.create(
      BatchOptions.validate(BatchOptionsInput(agentID: agentID, name: name), now: Date()), recipients: recipients,
      tenant: tenant)
  }

  /// The simulated dialer, reporting through this database's event path.
  package func simulatedDialer() -> SimulatedDialer {
    let dialer = SimulatedDialer(operations: operations, logger: logger)
    Task { await dialer.run() }
    return dialer
  }

  /// Polls until `condition` holds (bounded: 600 tries, 50 ms apart: a whole suite in parallel on
  /// two cores once took longer than 10 s to dial 400 calls); returns whether it did.
  package func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    try await SwitchboardTestSupport.eventually(condition)
  }
}

/// Whether `condition` comes true within 30 s, looking every 50 ms: waiting for a signal, not
/// for a time (nothing asserts how long it took).
package func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
  for _ in 0..<600 {
    if try await condition() { return true }
    try await Task.sleep(for: .milliseconds(50))
  }
  return false
}

/// Runs `body` while `services` run, then cancels them.
package func whileRunning<T: Sendable>(_ services: [Dispatcher], _ body: () async throws -> T) async throws -> T {
  let tasks = services.map { service in Task { try await service.run() } }
  defer { tasks.forEach { $0.cancel() } }
  return try await body()
}

/// Counts what each trace id was dialed with.
package actor RecordingDialer: Dialer {
  package private(set) var dials: [UUID: Int] = [:]
  package private(set) var requests: [DialRequest] = []
  package let result: DialResult

  package init(result: DialResult = .accepted) { self.result = result }

  package func dial(_ request: DialRequest) async -> DialResult {
    dials[request.traceID, default: 0] += 1
    requests.append(request)
    return result
  }

  package var total: Int { dials.values.reduce(0, +) }
}

/// A webhook receiver on a real socket: records every request, answers with `status`.
package actor WebhookReceiver {
  package struct Received: Sendable {
    package let headers: [String: String]
    package let body: String
    /// The body as sent (for binary ones, such as OTLP protobuf).
    package var bytes: [UInt8] = []
  }

  package private(set) var received: [Received] = []
  private var statuses: [HTTPResponse.Status]
  private var task: Task<Void, any Error>?
  /// Requests held until ``open()``; `nil` when the gate is open.
  private var held: [CheckedContinuation<Void, Never>]?

  /// - Parameter gated: hold every request unanswered until ``open()``.
  package init(statuses: [HTTPResponse.Status] = [.ok], gated: Bool = false) {
    self.statuses = statuses
    held = gated ? [] : nil
  }

  /// Requests held at the gate now.
  package var holding: Int { held?.count ?? 0 }

  /// Answers the held requests, and every later one at once.
  package func open() {
    let waiting = held ?? []
    held = nil
    waiting.forEach { $0.resume() }
  }

  private func pass() async {
    guard held != nil else { return }
    await withCheckedContinuation { held?.append($0) }
  }

  package func record(_ item: Received) -> HTTPResponse.Status {
    received.append(item)
    return statuses.count > 1 ? statuses.removeFirst() : statuses[0]
  }

  /// Starts listening; returns the URL to post to.
  package func start() async throws -> String {
    let router = Router()
    router.post("/hook") { [self] request, _ -> Response in
      var request = request
      let body = try await request.collectBody(upTo: 1 << 20)
      var headers: [String: String] = [:]
      for field in request.headers { headers[field.name.canonicalName] = field.value }
      await self.pass()
      let status = await self.record(
        Received(headers: headers, body: String(buffer: body), bytes: Array(body.readableBytesView)))
      return Response(status: status)
    }
    let port = BoundValue()
    var logger = Logger(label: "webhook-receiver")
    logger.logLevel = .critical
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { await port.set($0.localAddress?.port ?? 0) }, logger: logger)
    task = Task { try await app.runService() }
    return "http://127.0.0.1:\(await port.value())/hook"
  }

  package func stop() { task?.cancel() }
}

package actor BoundValue {
  private var value: Int?
  private var waiters: [CheckedContinuation<Int, Never>] = []

  package init() {}

  package func set(_ value: Int) {
    self.value = value
    waiters.forEach { $0.resume(returning: value) }
    waiters = []
  }

  package func value() async -> Int {
    if let value { return value }
    return await withCheckedContinuation { waiters.append($0) }
  }
}

/// API keys of the tenants an ``IsolatedDatabase`` made.
package final class TenantKeys: Sendable {
  private let keys = Mutex<[Int64: String]>([:])

  package func set(_ key: String, for tenantID: Int64) {
    keys.withLock { $0[tenantID] = key }
  }

  package func key(for tenantID: Int64) throws -> String {
    guard let key = keys.withLock({ $0[tenantID] }) else { throw TestFailure("no key for tenant \(tenantID)") }
    return key
  }
}

extension PostgresCallStore {
  /// The store with its intake writers running (for the rest of the test process).
  package func running() -> Self {
    Task { await self.run() }
    return self
  }
}

// The service's defaults, from the one place they are written, for stores and loops a test
// builds by hand.
extension PostgresCallStore.Configuration {
  package static var defaults: Self {
    let server = ServerConfiguration.defaults
    return Self(idempotencyRetentionSeconds: server.idempotencyRetentionSeconds, intakeWriters: server.intakeWriters)
  }
}

extension Reaper.Configuration {
  package static var defaults: Self {
    let server = ServerConfiguration.defaults
    return Self(ringTimeout: server.ringTimeout, maxCallDuration: server.maxCallDuration)
  }
}
