import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardGRPC
import SwitchboardPostgres
import SwitchboardServer

/// One PostgreSQL and one running Switchboard (role api, ports picked by the OS) shared by every
/// test of the process. Tests keep out of each other's way by each making its own tenant.
package actor TestEnvironment {
  package static let shared = TestEnvironment()
  /// The shared server's dialer secret, which voice runtimes may report events with.
  package static let dialerSecret = "runtime-secret-for-tests"

  package struct Running: Sendable {
    package let databaseURL: String
    package let client: PostgresClient
    package let grpcPort: Int
    package let httpPort: Int
  }

  private var running: Task<Running, any Error>?

  package func get() async throws -> Running {
    if let running { return try await running.value }
    let task = Task { try await Self.start() }
    running = task
    return try await task.value
  }

  private static func start() async throws -> Running {
    var logger = Logger(label: "switchboard-tests")
    logger.logLevel = .warning
    let url: String
    if let given = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_DATABASE_URL"], !given.isEmpty {
      url = given
    } else {
      let embedded = try await EmbeddedPostgres.start(
        in: ".switchboard/test-postgres", durable: false, logger: logger)
      EmbeddedCluster.stopAtExit(embedded)
      url = embedded.databaseURL
      try await dropEarlierRunsDatabases(url: url, logger: logger)
    }
    var configuration = ServerConfiguration(databaseURL: url)
    configuration.role = .api
    configuration.grpcHost = "127.0.0.1"
    configuration.grpcPort = 0
    configuration.httpHost = "127.0.0.1"
    configuration.httpPort = 0
    configuration.maxDatabaseConnections = 40
    configuration.dialerSecret = Secret(TestEnvironment.dialerSecret)
    configuration.outboundPolicy = .loopbackReceivers
    let server = try SwitchboardServer(configuration: configuration, logger: logger)
    let group = try await server.serviceGroup()
    Task { try await group.run() }
    guard let grpcPort = try await server.grpcListeningPort(), let httpPort = await server.httpListeningPort() else {
      throw TestFailure("server did not report its ports")
    }
    let client = PostgresClient(configuration: try configuration.postgresConfiguration(), backgroundLogger: logger)
    Task { await client.run() }
    return Running(databaseURL: url, client: client, grpcPort: grpcPort, httpPort: httpPort)
  }
}

/// The test cluster outlives a run, and each run leaves its isolated databases (`<prefix>_<8 hex>`)
/// behind. Hundreds of them slowed the cluster enough that a read-back after a lost COMMIT answer
/// missed its deadline in a long-lived checkout (never on a fresh clone): each run starts clean.
private func dropEarlierRunsDatabases(url: String, logger: Logger) async throws {
  let configuration = try ServerConfiguration(databaseURL: url).postgresConfiguration()
  let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
  try await withThrowingDiscardingTaskGroup { group in
    group.addTask { await client.run() }
    let rows = try await client.query(
      "SELECT datname FROM pg_database WHERE datname ~ '^[a-z]+_[0-9a-f]{8}$'", logger: logger)
    var names: [String] = []
    for try await name in rows.decode(String.self) { names.append(name) }
    for name in names {
      try await client.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
    }
    group.cancelAll()
  }
}

/// Stops the embedded test cluster when the test process exits.
package enum EmbeddedCluster {
  nonisolated(unsafe) private static var clusters: [EmbeddedPostgres] = []

  package static func stopAtExit(_ cluster: EmbeddedPostgres) {
    clusters.append(cluster)
    if clusters.count == 1 {
      atexit { EmbeddedCluster.clusters.forEach { $0.requestStop() } }
    }
  }
}

package struct TestFailure: Error, CustomStringConvertible {
  package var description: String
  package init(_ description: String) { self.description = description }
}

/// A tenant made for one test: its key, and agent 7 with a phone number.
package struct TestTenant: Sendable {
  package let id: Int64
  package let key: String
  package let agentID: Int64 = 7
  package let environment: TestEnvironment.Running

  package var authorization: String { "Bearer \(key)" }

  /// A fresh tenant; limits off unless given.
  package static func make(
    numberRateLimit: Int = 0, numberRateBurst: Int? = nil, maxConcurrentCalls: Int = 0,
    agentPhone: String? = "+14155550123"
  ) async throws -> TestTenant {
    let environment = try await TestEnvironment.shared.get()
    let accounts = PostgresAccounts(
      client: environment.client, logger: Logger(label: "tests"), outboundPolicy: .loopbackReceivers)
    let id = try await accounts.createTenant(
      name: "test",
      settings: .init(
        numberRateLimit: numberRateLimit, numberRateBurst: numberRateBurst, maxConcurrentCalls: maxConcurrentCalls))
    try await accounts.saveAgent(tenantID: id, agentID: 7, phoneNumber: agentPhone, name: nil, update: false)
    let key = try await accounts.createAPIKey(tenantID: id)
    return TestTenant(id: id, key: key, environment: environment)
  }

  /// Rows of one of this tenant's tables.
  package func count(_ table: String, where condition: String = "true") async throws -> Int {
    let rows = try await environment.client.query(
      "SELECT count(*) FROM \(unescaped: table) WHERE tenant_id = \(id) AND \(unescaped: condition)")
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }

  /// A body for `POST /v1/call` to `phone`, with extra fields.
  package func callBody(phone: String = "+919876543210", _ extra: [String: JSONValue] = [:]) -> JSONValue {
    var body: [String: JSONValue] = [
      "agent_id": .integer(agentID),
      "parameters": [
        ["name": "customer_phone", "value": .string(phone)], ["name": "customer_name", "value": "Rahul"],
      ],
    ]
    body.merge(extra) { _, new in new }
    return .object(body)
  }
}

/// A JSON response from the gateway.
package struct HTTPResult: Sendable {
  package let status: Int
  package let headers: [String: String]
  package let body: JSONValue

  package var data: JSONValue? { body.objectValue?["data"] }
  package var error: [String: JSONValue]? { body.objectValue?["error"]?.objectValue }
  package var errorType: String? { error?["type"]?.stringValue }
  package var errorMessage: String? { error?["message"]?.stringValue }
}

extension JSONValue {
  package subscript(key: String) -> JSONValue? { objectValue?[key] }
}

extension HTTPClient {
  /// The tests' client: like `HTTPClient.shared`, with room for the whole suite's concurrent
  /// requests to one host (`shared` opens 8 and queues the rest behind long batch uploads).
  package static let tests: HTTPClient = {
    var configuration = HTTPClient.Configuration.singletonConfiguration
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }()
}

/// Talks to the shared server's JSON gateway over a real socket.
package enum GatewayClient {
  package static func send(
    _ method: HTTPMethod, _ path: String, authorization: String?, body: JSONValue? = nil, rawBody: [UInt8]? = nil,
    headers: [String: String] = [:], port: Int? = nil, timeout: Duration = .seconds(30)
  ) async throws -> HTTPResult {
    let port = if let port { port } else { try await TestEnvironment.shared.get().httpPort }
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    request.method = method
    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(string: body.encoded()))
    } else if let rawBody {
      request.body = .bytes(ByteBuffer(bytes: rawBody))
    }
    let response = try await HTTPClient.tests.execute(request, timeout: .init(timeout))
    let bytes = try await response.body.collect(upTo: 4 << 20)
    let text = String(buffer: bytes)
    var headerMap: [String: String] = [:]
    for header in response.headers { headerMap[header.name.lowercased()] = header.value }
    return HTTPResult(
      status: Int(response.status.code), headers: headerMap, body: text.isEmpty ? .null : try JSONValue.decode(text))
  }

  package static func makeCall(
    _ tenant: TestTenant, _ body: JSONValue, headers: [String: String] = [:]
  ) async throws
    -> HTTPResult
  {
    try await send(.POST, "/v1/call", authorization: tenant.authorization, body: body, headers: headers)
  }
}

/// Runs `body` with a gRPC client of the shared server.
package func withSharedServerClient<T: Sendable>(
  _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  let environment = try await TestEnvironment.shared.get()
  return try await withGRPCClient(
    transport: .http2NIOPosix(
      target: .ipv4(address: "127.0.0.1", port: environment.grpcPort), transportSecurity: .plaintext),
    handleClient: body)
}

/// Runs `body` with a `CallService` client of the shared server.
package func withCallService<T: Sendable>(
  _ body: (Switchboard_V1_CallService.Client<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  try await withSharedServerClient { try await body(Switchboard_V1_CallService.Client(wrapping: $0)) }
}

extension TestTenant {
  package var metadata: Metadata {
    var metadata = Metadata()
    metadata.addString(authorization, forKey: "authorization")
    return metadata
  }

  package func makeCallRequest(phone: String = "+919876543210") -> Switchboard_V1_MakeCallRequest {
    var request = Switchboard_V1_MakeCallRequest()
    request.agentID = agentID
    var parameter = Switchboard_V1_Parameter()
    parameter.name = "customer_phone"
    parameter.value = phone
    request.parameters = [parameter]
    return request
  }
}

extension TestTenant {
  package func revokeKey() async throws {
    let revoked = try await PostgresAccounts(client: environment.client, logger: Logger(label: "tests")).revokeAPIKey(
      key)
    guard revoked else { throw TestFailure("key was not live") }
  }
}

/// Runs `body` with a `BatchService` client of the shared server.
package func withBatchService<T: Sendable>(
  _ body: (Switchboard_V1_BatchService.Client<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  try await withSharedServerClient { try await body(Switchboard_V1_BatchService.Client(wrapping: $0)) }
}

/// `multipart/form-data` as a browser or `curl -F` sends it.
package struct MultipartForm: Sendable {
  package static let boundary = "----switchboard-test-7MA4YWxkTrZu0gW"
  package var parts: [(name: String, filename: String?, bytes: [UInt8])] = []

  package init(_ fields: [String: String] = [:]) {
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) { parts.append((name, nil, Array(value.utf8))) }
  }

  package mutating func file(_ bytes: [UInt8], name: String = "file", filename: String = "contacts.csv") {
    parts.append((name, filename, bytes))
  }

  package var contentType: String { "multipart/form-data; boundary=\(Self.boundary)" }

  package var body: [UInt8] {
    var out: [UInt8] = []
    for part in parts {
      var head = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
      if let filename = part.filename { head += "; filename=\"\(filename)\"\r\nContent-Type: text/csv" }
      head += "\r\n\r\n"
      out += Array(head.utf8) + part.bytes + Array("\r\n".utf8)
    }
    return out + Array("--\(Self.boundary)--\r\n".utf8)
  }
}

extension GatewayClient {
  /// `POST /v1/batch-call` with a form: `fields` and a CSV `file` (none when `csv` is `nil`).
  package static func uploadBatch(
    _ tenant: TestTenant, fields: [String: String], csv: String?, headers: [String: String] = [:],
    timeout: Duration = .seconds(30)
  ) async throws -> HTTPResult {
    var form = MultipartForm(fields)
    if let csv { form.file(Array(csv.utf8)) }
    var headers = headers
    headers["Content-Type"] = form.contentType
    return try await send(
      .POST, "/v1/batch-call", authorization: tenant.authorization, rawBody: form.body, headers: headers,
      timeout: timeout)
  }
}

extension OutboundURLPolicy {
  /// The tests' receivers listen on loopback, which the default policy refuses: they opt in, as
  /// an operator does with `--allow-private-targets`.
  package static let loopbackReceivers = OutboundURLPolicy(allowPrivateAddresses: true)
}
