import Foundation
import Logging
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// Things that start their own PostgreSQL: the launcher from a clean state, and an outage.
@Suite("Embedded PostgreSQL and outages", .serialized)
struct OutageTests {
  @Test("the embedded launcher creates, starts and stops a cluster from a clean directory")
  func launcherFromCleanState() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let cluster = try await EmbeddedPostgres.start(in: directory, durable: false, logger: Logger(label: "tests"))
    #expect(cluster.startedHere)
    let pid = try #require(EmbeddedPostgres.postmasterPID(in: cluster.directory))
    // A second launcher on the same directory shares the running cluster.
    let shared = try await EmbeddedPostgres.start(in: directory, durable: false, logger: Logger(label: "tests"))
    #expect(!shared.startedHere)
    #expect(shared.port == cluster.port)

    let client = PostgresClient(
      configuration: try ServerConfiguration(databaseURL: cluster.databaseURL).postgresConfiguration(),
      backgroundLogger: Logger(label: "tests"))
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      try await Migrator(client: client, logger: Logger(label: "tests")).migrate()
      let rows = try await client.query("SELECT count(*) FROM schema_migrations")
      for try await count in rows.decode(Int.self) { #expect(count >= 2) }
      group.cancelAll()
    }
    await shared.stop()
    #expect(EmbeddedPostgres.postmasterPID(in: cluster.directory) == pid, "only the launcher that started it stops it")
    await cluster.stop()
    // Stopped: its pid file is gone (the process itself may linger as a zombie until reaped).
    #expect(EmbeddedPostgres.postmasterPID(in: cluster.directory) == nil)
  }

  @Test("a database outage answers 503 with Retry-After, and the service recovers by itself")
  func outage() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var logger = Logger(label: "tests")
    logger.logLevel = .critical
    var cluster = try await EmbeddedPostgres.start(in: directory, durable: false, logger: logger)
    var configuration = ServerConfiguration(databaseURL: cluster.databaseURL)
    configuration.role = .api
    configuration.grpcHost = "127.0.0.1"
    configuration.grpcPort = 0
    configuration.httpHost = "127.0.0.1"
    configuration.httpPort = 0
    configuration.databaseTimeout = .seconds(2)
    let server = try SwitchboardServer(configuration: configuration, logger: logger)
    let group = try await server.serviceGroup()
    let running = Task { try await group.run() }
    defer {
      running.cancel()
      cluster.requestStop()
    }
    let port = try #require(await server.httpListeningPort())
    let accounts = PostgresAccounts(client: server.client, logger: logger)
    let tenant = try await accounts.createTenant(
      name: "outage", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 0))
    try await accounts.saveAgent(tenantID: tenant, agentID: 1, phoneNumber: "+14155550100", name: nil, update: false)
    let key = try await accounts.createAPIKey(tenantID: tenant)
    let body: JSONValue = ["agent_id": 1, "parameters": [["name": "customer_phone", "value": "+919876543210"]]]
    func call() async throws -> HTTPResult {
      try await GatewayClient.send(.POST, "/v1/call", authorization: "Bearer \(key)", body: body, port: port)
    }
    #expect(try await call().status == 200)

    await cluster.stop()
    let down = try await call()
    #expect(down.status == 503)
    #expect(down.errorType == "service_unavailable")
    #expect(down.errorMessage == "service temporarily unavailable")
    #expect(down.headers["retry-after"] == "1")
    // Calls queued behind the intake writers are answered with them, each a 503, none a 500
    // (8: the test client's connections to one host).
    let burst = try await withThrowingTaskGroup(of: Int.self) { group in
      for _ in 0..<8 { group.addTask { try await call().status } }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(burst == Array(repeating: 503, count: 8))
    let ready = try await GatewayClient.send(.GET, "/readyz", authorization: nil, port: port)
    #expect(ready.status == 503)

    cluster = try await EmbeddedPostgres.start(
      in: cluster.directory, port: cluster.port, durable: false, logger: logger)
    var recovered = 0
    for _ in 0..<50 where recovered == 0 {
      if try await call().status == 200 { recovered += 1 } else { try await Task.sleep(for: .milliseconds(200)) }
    }
    #expect(recovered == 1)
    #expect(try await GatewayClient.send(.GET, "/readyz", authorization: nil, port: port).status == 200)
  }
}
