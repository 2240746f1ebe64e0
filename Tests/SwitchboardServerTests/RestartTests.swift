import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OneAtATime {
  /// The real `switchboard serve` process, under load, while its PostgreSQL restarts: every request
  /// is answered within the deadline, and SIGTERM ends the process within 10 s. Repeated because the
  /// hang it guards against showed in about one run in three.
  @Suite("Database restart under load", .serialized)
  struct RestartTests {
    /// Rounds of load, restart and SIGTERM (`SWITCHBOARD_RESTART_ROUNDS`, default 20).
    static let rounds = ProcessInfo.processInfo.environment["SWITCHBOARD_RESTART_ROUNDS"].flatMap(Int.init) ?? 20
    static let databaseTimeout: Duration = .seconds(2)

    @Test("a PostgreSQL restart under load: every request answered in time, SIGTERM exits within 10 s")
    func restartUnderLoad() async throws {
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID())").path
      let keep = ProcessInfo.processInfo.environment["SWITCHBOARD_RESTART_KEEP"] != nil
      defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }
      var logger = Logger(label: "restart-tests")
      logger.logLevel = .critical
      var cluster = try await EmbeddedPostgres.start(in: directory, durable: false, logger: logger)
      defer { cluster.requestStop() }
      let key = try await Self.seed(databaseURL: cluster.databaseURL, logger: logger)

      for round in 1...Self.rounds {
        let server = try ServerProcess.start(
          databaseURL: cluster.databaseURL, role: "api", log: "\(directory)/serve-\(round).log",
          environment: ["SWITCHBOARD_DATABASE_TIMEOUT": "\(Self.databaseTimeout.components.seconds)"])
        try await server.waitUntilReady()
        let load = Load(port: server.httpPort, key: key)
        let clients = Task { await load.run(clients: 8) }
        try await load.waitForAnswers(20)

        await cluster.stop()
        cluster = try await EmbeddedPostgres.start(
          in: cluster.directory, port: cluster.port, durable: false, logger: logger)
        let answered = load.answered
        try await load.waitForAnswers(answered + 20, within: .seconds(15))

        server.terminate()
        load.stop()
        let exited = await server.waitForExit(within: .seconds(10))
        if !exited && keep {
          Issue.record("left running for inspection: pid \(server.process.processIdentifier), log \(server.log)")
          return
        }
        if !exited { server.kill() }
        let results = await clients.value
        #expect(exited, "round \(round): the server was still running 10 s after SIGTERM (log: \(server.log))")
        let late = results.filter { $0.seconds > Double(Self.databaseTimeout.components.seconds) + 2 }
        #expect(late.isEmpty, "round \(round): \(late.count) requests answered late or never: \(late.prefix(3))")
        let accepted = results.compactMap(\.traceID)
        #expect(
          try await Self.missing(accepted, databaseURL: cluster.databaseURL, logger: logger) == 0,
          "round \(round): a 200 without its attempt in PostgreSQL")
        if !exited || !late.isEmpty { break }
      }
    }

    @Test("SIGTERM under load: requests in flight finish, the process exits within 10 s, every 200 is in PostgreSQL")
    func drainOnSIGTERM() async throws {
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID())").path
      defer { try? FileManager.default.removeItem(atPath: directory) }
      var logger = Logger(label: "restart-tests")
      logger.logLevel = .critical
      let cluster = try await EmbeddedPostgres.start(in: directory, durable: false, logger: logger)
      defer { cluster.requestStop() }
      let key = try await Self.seed(databaseURL: cluster.databaseURL, logger: logger)
      // Role all: intake, dispatch and simulated calls all have work in flight at the signal.
      let server = try ServerProcess.start(
        databaseURL: cluster.databaseURL, role: "all", log: "\(directory)/serve.log")
      try await server.waitUntilReady()
      let load = Load(port: server.httpPort, key: key)
      let clients = Task { await load.run(clients: 8) }
      try await load.waitForAnswers(200)
      server.terminate()
      let exited = await server.waitForExit(within: .seconds(10))
      load.stop()
      if !exited { server.kill() }
      let results = await clients.value
      #expect(exited, "still running 10 s after SIGTERM (log: \(server.log))")
      #expect(server.process.terminationStatus == 0)
      let accepted = results.compactMap(\.traceID)
      #expect(accepted.count >= 200)
      #expect(try await Self.missing(accepted, databaseURL: cluster.databaseURL, logger: logger) == 0)
      #expect(results.allSatisfy { $0.status == nil || $0.status == 200 }, "\(results.filter { $0.status != 200 })")
    }

    /// A tenant with limits off, agent 1, and its key.
    static func seed(databaseURL: String, logger: Logger) async throws -> String {
      try await withClient(databaseURL: databaseURL, logger: logger) { client in
        try await Migrator(client: client, logger: logger).migrate()
        let accounts = PostgresAccounts(client: client, logger: logger)
        let tenant = try await accounts.createTenant(
          name: "restart", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 0))
        try await accounts.saveAgent(
          tenantID: tenant, agentID: 1, phoneNumber: "+14155550100", name: nil, update: false)
        return try await accounts.createAPIKey(tenantID: tenant)
      }
    }

    /// How many of `traceIDs` have no attempt.
    static func missing(_ traceIDs: [String], databaseURL: String, logger: Logger) async throws -> Int {
      guard !traceIDs.isEmpty else { return 0 }
      let ids = traceIDs.compactMap(UUID.init(uuidString:))
      return try await withClient(databaseURL: databaseURL, logger: logger) { client in
        let rows = try await client.query("SELECT count(*) FROM call_attempts WHERE trace_id = ANY(\(ids))")
        for try await found in rows.decode(Int.self) { return traceIDs.count - found }
        return traceIDs.count
      }
    }
  }
}

/// Runs `body` with a pool of its own on `databaseURL`.
func withClient<T: Sendable>(
  databaseURL: String, logger: Logger, _ body: @escaping @Sendable (PostgresClient) async throws -> T
) async throws -> T {
  let client = PostgresClient(
    configuration: try ServerConfiguration(databaseURL: databaseURL).postgresConfiguration(), backgroundLogger: logger)
  return try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask {
      await client.run()
      return nil
    }
    defer { group.cancelAll() }
    return try await body(client)
  }
}

/// `switchboard serve` as a child process, on free loopback ports.
final class ServerProcess: Sendable {
  let process: Process
  let httpPort: Int
  let grpcPort: Int
  let log: String

  private init(process: Process, httpPort: Int, grpcPort: Int, log: String) {
    self.process = process
    self.httpPort = httpPort
    self.grpcPort = grpcPort
    self.log = log
  }

  /// The `switchboard` executable built beside the test bundle.
  static var executable: String {
    let tests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return tests.appendingPathComponent("switchboard").path
  }

  static func start(
    databaseURL: String, role: String, log: String, arguments: [String] = [], environment: [String: String] = [:]
  ) throws -> ServerProcess {
    guard FileManager.default.isExecutableFile(atPath: executable) else {
      throw TestFailure("\(executable) is missing: build the package first (swift build)")
    }
    let httpPort = try EmbeddedPostgres.freePort()
    let grpcPort = try EmbeddedPostgres.freePort()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments =
      [
        "serve", "--database-url", databaseURL, "--role", role, "--host", "127.0.0.1", "--http-port", "\(httpPort)",
        "--grpc-port", "\(grpcPort)",
      ] + arguments
    var variables = ProcessInfo.processInfo.environment
    variables["LOG_LEVEL"] = ProcessInfo.processInfo.environment["SWITCHBOARD_SERVE_LOG_LEVEL"] ?? "info"
    variables.merge(environment) { _, new in new }
    process.environment = variables
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return ServerProcess(process: process, httpPort: httpPort, grpcPort: grpcPort, log: log)
  }

  /// Waits for `/readyz` to answer 200.
  func waitUntilReady() async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
      guard process.isRunning else { throw TestFailure("switchboard exited at start (log: \(log))") }
      var request = HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/readyz")
      request.method = .GET
      if let response = try? await HTTPClient.tests.execute(request, timeout: .seconds(2)),
        response.status == .ok
      {
        return
      }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure("switchboard was not ready within 60 s (log: \(log))")
  }

  func terminate() { Glibc.kill(process.processIdentifier, SIGTERM) }
  func kill() { Glibc.kill(process.processIdentifier, SIGKILL) }

  /// Whether the process ended within `limit`.
  func waitForExit(within limit: Duration) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while process.isRunning && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(50))
    }
    return !process.isRunning
  }
}

/// Steady `POST /v1/call` load from a few clients, each sending its next call when the last is
/// answered, until stopped or the server stops accepting connections.
final class Load: Sendable {
  struct Result: Sendable, CustomStringConvertible {
    var status: Int?
    var seconds: Double
    /// A 200's attempt.
    var traceID: String?
    /// A 503's attempt when the answer says its outcome is unknown.
    var unknownTraceID: String?
    var body: JSONValue?
    var error: String?

    var description: String { "\(status.map(String.init) ?? error ?? "?") after \(seconds) s" }
  }

  let port: Int
  let key: String
  private let state = Mutex((answered: 0, stopped: false, sequence: 0))
  private let client = HTTPClient(
    eventLoopGroupProvider: .singleton,
    configuration: .init(
      connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64))
  )

  init(port: Int, key: String) {
    self.port = port
    self.key = key
  }

  deinit { try? client.syncShutdown() }

  var answered: Int { state.withLock { $0.answered } }

  func stop() { state.withLock { $0.stopped = true } }

  /// Waits until `count` requests have been answered (any status).
  func waitForAnswers(_ count: Int, within limit: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + limit
    while answered < count {
      guard ContinuousClock.now < deadline else { throw TestFailure("only \(answered) of \(count) answers came") }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  /// One call, now (or, given a time, scheduled then).
  func call(scheduledFor: Date? = nil) async throws -> Result {
    let sequence = state.withLock { state in
      state.sequence += 1
      return state.sequence
    }
    return await send(phone: "+1415999\(String(format: "%04d", sequence % 10000))", scheduledFor: scheduledFor)
  }

  /// `count` calls at once.
  func burst(_ count: Int) async -> [Result] {
    await withTaskGroup(of: Result.self) { group in
      for number in 0..<count {
        group.addTask { await self.send(phone: "+1415888\(String(format: "%04d", number))") }
      }
      return await group.reduce(into: []) { $0.append($1) }
    }
  }

  func run(clients: Int) async -> [Result] {
    await withTaskGroup(of: [Result].self) { group in
      for client in 0..<clients {
        group.addTask { await self.loop(client) }
      }
      return await group.reduce(into: []) { $0 += $1 }
    }
  }

  private func loop(_ number: Int) async -> [Result] {
    var results: [Result] = []
    var sequence = 0
    while !state.withLock({ $0.stopped }) {
      sequence += 1
      let result = await send(
        phone: "+1415\(String(format: "%03d", number))\(String(format: "%04d", sequence % 10000))")
      results.append(result)
      state.withLock { $0.answered += 1 }
      // Refused once the server has stopped listening: nothing more to send.
      if result.status == nil && state.withLock({ $0.stopped }) { break }
      if result.status == nil { try? await Task.sleep(for: .milliseconds(20)) }
    }
    return results
  }

  private func send(phone: String, scheduledFor: Date? = nil) async -> Result {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/call")
    request.method = .POST
    request.headers.add(name: "Authorization", value: "Bearer \(key)")
    request.headers.add(name: "Content-Type", value: "application/json")
    var body: JSONValue = ["agent_id": 1, "parameters": [["name": "customer_phone", "value": .string(phone)]]]
    if let scheduledFor, case .object(var members) = body {
      members["scheduled_for"] = .string(Timestamp.format(scheduledFor))
      body = .object(members)
    }
    request.body = .bytes(ByteBuffer(string: body.encoded()))
    let start = ContinuousClock.now
    func elapsed() -> Double {
      let duration = ContinuousClock.now - start
      return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    do {
      let response = try await client.execute(request, timeout: .seconds(15))
      let bytes = try await response.body.collect(upTo: 1 << 20)
      let json = try? JSONValue.decode(String(buffer: bytes))
      let trace = response.status == .ok ? json?["data"]?["trace_id"]?.stringValue : nil
      let unknown =
        json?["error"]?["outcome"]?.stringValue == "unknown" ? json?["error"]?["trace_id"]?.stringValue : nil
      return Result(
        status: Int(response.status.code), seconds: elapsed(), traceID: trace, unknownTraceID: unknown, body: json)
    } catch {
      let seconds = elapsed()
      // A refused or reset connection answers at once; only a wait counts against the server.
      return Result(status: nil, seconds: seconds < 14 ? 0 : seconds, error: "\(error)")
    }
  }
}
