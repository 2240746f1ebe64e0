import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Synchronization
import Testing

/// A Prometheus text exposition, read into `name{labels}` → value.
struct Exposition {
  let samples: [String: Double]
  let text: String

  init(_ text: String) {
    self.text = text
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
      samples[String(line[..<space])] = value
    }
    self.samples = samples
  }

  static func scrape(port: Int) async throws -> Exposition {
    let response = try await GatewayClient.fetch("/metrics", port: port)
    guard response.status == 200 else { throw TestFailure("/metrics answered \(response.status)") }
    return Exposition(response.text)
  }

  /// The sum of every sample of `name` whose labels include each of `labels` (`key="value"`).
  func sum(_ name: String, _ labels: String...) -> Double { sum(name, labels) }

  func sum(_ name: String, _ labels: [String]) -> Double {
    samples.filter { key, _ in
      (key == name || key.hasPrefix(name + "{")) && labels.allSatisfy { key.contains($0) }
    }.values.reduce(0, +)
  }
}

@Suite("Operations: /metrics", .isolatedDatabases)
struct MetricsTests {
  @Test(
    "requests on both transports, accepted calls and intake batches are counted, with bounded labels, and no key is needed"
  )
  func intakeMetrics() async throws {
    let tenant = try await TestTenant.make()
    let environment = try await TestEnvironment.shared.get()
    let before = try await Exposition.scrape(port: environment.httpPort)
    let http = try await GatewayClient.makeCall(tenant, tenant.callBody())
    #expect(http.status == 200)
    let missing = try await GatewayClient.send(.GET, "/v1/calls/\(UUID())", authorization: tenant.authorization)
    #expect(missing.status == 404)
    let receipt = try await withCallService { service in
      try await service.makeCall(tenant.makeCallRequest(phone: "+919811112222"), metadata: tenant.metadata).data
    }
    let httpCalls = #"route="/v1/call""#
    let makeCall = #"method="switchboard.v1.CallService/MakeCall""#
    // Hummingbird counts a request once its response is written, which may be just after the
    // client has it: look again until every count has moved, or give up after 5 s.
    var after = before
    var grew: [Bool] = []
    for _ in 0..<50 {
      after = try await Exposition.scrape(port: environment.httpPort)
      func delta(_ name: String, _ labels: String...) -> Double {
        after.sum(name, labels) - before.sum(name, labels)
      }
      grew = [
        delta("http_requests_total", httpCalls, #"method="POST""#, #"code="200""#) >= 1,
        delta("http_requests_total", #"route="/v1/calls/{trace_id}""#, #"code="404""#) >= 1,
        delta("http_request_duration_seconds_count", httpCalls) >= 1,
        delta("grpc_requests_total", makeCall, #"code="ok""#) >= 1,
        delta("grpc_request_duration_seconds_count", makeCall) >= 1,
        delta("switchboard_calls_accepted_total", #"status="initiated""#) >= 2,
        delta("switchboard_intake_batch_size_count") >= 1,
      ]
      if !grew.contains(false) { break }
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(
      grew == Array(repeating: true, count: 7), "HTTP 200, HTTP 404, HTTP time, gRPC, gRPC time, accepted, batches")
    #expect(after.text.contains("switchboard_intake_batch_size_bucket{le="))
    // Bounded labels: no trace id, conversation id, phone number or key reaches the exposition.
    for secret in [receipt.traceID, receipt.conversationID, "919811112222", tenant.key] {
      #expect(!after.text.contains(secret), "\(secret) is in /metrics")
    }
  }
}

extension GatewayClient {
  /// A GET whose answer is not JSON: status, headers (lowercased names) and text.
  static func fetch(_ path: String, port: Int) async throws -> (status: Int, headers: [String: String], text: String) {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    request.method = .GET
    let response = try await HTTPClient.tests.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 4 << 20)
    var headers: [String: String] = [:]
    for header in response.headers { headers[header.name.lowercased()] = header.value }
    return (Int(response.status.code), headers, String(buffer: body))
  }
}

extension OneAtATime {
  @Suite("Operations: /metrics of replicas", .isolatedDatabases)
  struct ReplicaMetricsTests {
    @Test("a replica that dispatches reports dispatch lag, dial results and the backlog")
    func dispatchMetrics() async throws {
      let fixture = try await Fixture.make()
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(5), role: .all)
      defer { replica.stop() }
      let before = try await Exposition.scrape(port: replica.httpPort)
      let call = try await GatewayClient.send(
        .POST, "/v1/call", authorization: "Bearer \(fixture.key)",
        body: ["agent_id": 1, "parameters": [["name": "customer_phone", "value": "+919876500000"]]],
        port: replica.httpPort)
      #expect(call.status == 200)
      // The registry is the process's: dispatchers of suites running beside this one record into it
      // too, so wait until every metric has moved (this replica's call moves them all).
      var after = before
      for _ in 0..<100 {
        after = try await Exposition.scrape(port: replica.httpPort)
        let dialed = after.sum("switchboard_dial_results_total", #"result="accepted""#)
        if dialed > before.sum("switchboard_dial_results_total", #"result="accepted""#),
          after.sum("switchboard_dispatch_lag_seconds_count") > before.sum("switchboard_dispatch_lag_seconds_count"),
          after.text.contains("switchboard_due_attempts_waiting ")
        {
          break
        }
        try await Task.sleep(for: .milliseconds(100))
      }
      #expect(
        after.sum("switchboard_dial_results_total", #"result="accepted""#)
          > before.sum("switchboard_dial_results_total", #"result="accepted""#))
      #expect(
        after.sum("switchboard_dispatch_lag_seconds_count") > before.sum("switchboard_dispatch_lag_seconds_count"))
      #expect(after.text.contains("switchboard_due_attempts_waiting "))
      #expect(after.text.contains("switchboard_outbox_pending "))
    }

    @Test("a dispatcher-only replica serves /metrics too")
    func dispatcherMetrics() async throws {
      let fixture = try await Fixture.make()
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(2), role: .dispatcher)
      defer { replica.stop() }
      let metrics = try await Exposition.scrape(port: replica.httpPort)
      #expect(metrics.text.contains("# TYPE"))
    }
  }
}

@Suite("Operations: /openapi.yaml", .isolatedDatabases)
struct OpenAPITests {
  @Test("the OpenAPI document is served without a key, and names every route the gateway has")
  func served() async throws {
    let environment = try await TestEnvironment.shared.get()
    let response = try await GatewayClient.fetch("/openapi.yaml", port: environment.httpPort)
    #expect(response.status == 200)
    #expect(response.headers["content-type"]?.hasPrefix("application/yaml") == true)
    #expect(response.text.hasPrefix("openapi: 3.1.0"))
    let paths = [
      "/v1/call", "/v1/calls/{trace_id}", "/v1/calls/{trace_id}/events", "/v1/conversations/{conversation_id}",
      "/v1/conversations", "/healthz", "/readyz", "/metrics", "/openapi.yaml",
    ]
    for path in paths {
      #expect(response.text.contains("\n  \(path):\n"), "\(path) is not described")
    }
    // The seed's words, as the public API gives them.
    for words in [
      "customer_phone parameter is required", "agent not found", "agent has no phone number configured",
      "idempotency key already used", "rate limit exceeded for this number",
      "Schedule the call within the next 30 days. Omit for immediate calls.",
    ] {
      #expect(response.text.contains(words), "\(words)")
    }
  }
}

/// Every line a logger wrote.
final class LogCapture: Sendable {
  private let lines = Mutex<[String]>([])
  var all: [String] { lines.withLock { $0 } }
  func append(_ line: String) { lines.withLock { $0.append(line) } }
}

extension OneAtATime {
  @Suite("Operations: logs", .isolatedDatabases)
  struct LogTests {
    @Test("no API key, dialer secret or webhook secret reaches the log, at any level")
    func secretsStayOut() async throws {
      let fixture = try await Fixture.make()
      let webhookSecret = "whsec_never_logged_\(UUID().uuidString.prefix(8))"
      let dialerSecret = "dialer_secret_never_logged_\(UUID().uuidString.prefix(8))"
      let wrongKey = "sk_" + String(repeating: "w", count: 32)
      // The shared server has no such paths: the dialer and the outcome webhook are both refused
      // (404) at once, and say so.
      let refusing = "http://127.0.0.1:\(try await TestEnvironment.shared.get().httpPort)"
      let accounts = PostgresAccounts(
        client: fixture.client, logger: Logger(label: "tests"), outboundPolicy: .loopbackReceivers)
      try await accounts.saveAgent(
        tenantID: fixture.tenantID, agentID: 2,
        settings: .init(phoneNumber: "+14155550102", webhookURL: "\(refusing)/hooks", webhookSecret: webhookSecret),
        update: false)
      let capture = LogCapture()
      var logger = Logger(label: "secrets") { JSONLogHandler(label: $0, write: capture.append) }
      logger.logLevel = .trace
      let replica = try await Replica.start(
        databaseURL: fixture.databaseURL, timeout: .seconds(5), role: .all, logger: logger
      ) { configuration in
        configuration.dialer = .webhook
        configuration.dialerURL = "\(refusing)/dial"
        configuration.dialerSecret = Secret(dialerSecret)
      }
      defer { replica.stop() }
      let body: JSONValue = ["agent_id": 2, "parameters": [["name": "customer_phone", "value": "+919876500001"]]]
      let placed = try await GatewayClient.send(
        .POST, "/v1/call", authorization: "Bearer \(fixture.key)", body: body, port: replica.httpPort)
      #expect(placed.status == 200)
      let refused = try await GatewayClient.send(
        .POST, "/v1/call", authorization: "Bearer \(wrongKey)", body: body, port: replica.httpPort)
      #expect(refused.status == 401)
      let asRuntime = try await GatewayClient.send(
        .GET, "/v1/calls/\(UUID())", authorization: "Bearer \(dialerSecret)", port: replica.httpPort)
      #expect(asRuntime.status == 401)
      // The dial fails, the attempt ends failed, and its outcome event fails to deliver.
      var undelivered = 0
      for _ in 0..<300 where undelivered == 0 {
        let rows = try await fixture.client.query(
          "SELECT count(*) FROM event_deliveries WHERE tenant_id = \(fixture.tenantID) AND last_error IS NOT NULL")
        for try await count in rows.decode(Int.self) { undelivered = count }
        if undelivered == 0 { try await Task.sleep(for: .milliseconds(100)) }
      }
      let lines = capture.all
      #expect(undelivered == 1, "the outcome webhook was tried, refused, and recorded as such")
      #expect(lines.count > 20, "trace logging wrote \(lines.count) lines")
      for secret in [fixture.key, wrongKey, dialerSecret, webhookSecret] {
        let leaks = lines.filter { $0.contains(secret) }
        #expect(leaks.isEmpty, "\(secret) was logged: \(leaks.prefix(2))")
      }
      // Every line is one JSON object with the required fields.
      for line in lines.prefix(200) {
        let object = try JSONValue.decode(line).objectValue
        #expect(object?["timestamp"] != nil && object?["level"] != nil && object?["message"] != nil)
      }
    }
  }
}

extension OneAtATime {
  @Suite("Operations: OTLP traces", .isolatedDatabases)
  struct OTLPTests {
    @Test("with --otel-endpoint, HTTP and gRPC requests export server spans in the caller's trace")
    func exportsSpans() async throws {
      let fixture = try await Fixture.make()
      let collector = WebhookReceiver()
      let endpoint = try await collector.start()
      try atTestEnd { await collector.stop() }
      let server = try ServerProcess.start(
        databaseURL: fixture.databaseURL, role: "api", log: NSTemporaryDirectory() + "switchboard-otlp.log",
        arguments: ["--otel-endpoint", endpoint])
      defer { server.kill() }
      try await server.waitUntilReady()

      let httpTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
      let grpcTrace = "0af7651916cd43dd8448eb211c80319c"
      let call = try await GatewayClient.send(
        .POST, "/v1/call", authorization: "Bearer \(fixture.key)",
        body: ["agent_id": 1, "parameters": [["name": "customer_phone", "value": "+919876500002"]]],
        headers: ["traceparent": "00-\(httpTrace)-00f067aa0ba902b7-01"], port: server.httpPort)
      #expect(call.status == 200)
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: server.grpcPort), transportSecurity: .plaintext)
      ) { client in
        var metadata: Metadata = ["authorization": "Bearer \(fixture.key)"]
        metadata.addString("00-\(grpcTrace)-b7ad6b7169203331-01", forKey: "traceparent")
        var request = Switchboard_V1_MakeCallRequest()
        request.agentID = 1
        request.parameters = [
          .with {
            $0.name = "customer_phone"
            $0.value = "+919876500003"
          }
        ]
        _ = try await Switchboard_V1_CallService.Client(wrapping: client).makeCall(request, metadata: metadata)
      }
      // The exporter sends a batch every second; each span carries its trace id as 16 raw bytes.
      func exported(_ trace: String) async -> Bool {
        let bytes = stride(from: 0, to: trace.count, by: 2).map { offset -> UInt8 in
          let start = trace.index(trace.startIndex, offsetBy: offset)
          return UInt8(trace[start..<trace.index(start, offsetBy: 2)], radix: 16)!
        }
        return await collector.received.contains { received in
          received.bytes.count >= 16
            && (0...(received.bytes.count - 16)).contains { Array(received.bytes[$0..<$0 + 16]) == bytes }
        }
      }
      var both = false
      for _ in 0..<100 where !both {
        let http = await exported(httpTrace)
        let grpc = await exported(grpcTrace)
        both = http && grpc
        if !both { try await Task.sleep(for: .milliseconds(100)) }
      }
      #expect(both, "spans of both requests reached the collector")
      #expect(await collector.received.first?.headers["content-type"] == "application/x-protobuf")
    }
  }
}
