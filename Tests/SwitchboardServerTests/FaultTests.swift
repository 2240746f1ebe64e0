import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import SwiftProtobuf
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardHTTP
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Synchronization
import Testing

/// Tests that load the machine or measure answers against a deadline run one at a time, so that
/// none of them slows another past its bounds.
@Suite(.serialized, .isolatedDatabases)
enum OneAtATime {}

extension OneAtATime {
  /// What an answer guarantees when the database misbehaves: a 200 is in PostgreSQL, a plain 503 left
  /// nothing, a 503 with `"outcome": "unknown"` names the trace id to look up, and no answer waits
  /// much past the deadline.
  @Suite("Truthful under faults", .serialized, .isolatedDatabases)
  struct FaultTests {
    static let deadline: Duration = .seconds(2)

    /// A fixture, a proxy in front of its database, a replica behind the proxy, and a load on it.
    static func proxied(
      timeout: Duration, maxConnections: Int = 20
    ) async throws -> (Fixture, FaultProxy, Replica, Load) {
      let fixture = try await Fixture.make()
      let proxy = try await FaultProxy.start(to: fixture.port)
      let replica = try await Replica.start(
        databaseURL: fixture.databaseURL(port: proxy.port), timeout: timeout, maxConnections: maxConnections)
      return (fixture, proxy, replica, Load(port: replica.httpPort, key: fixture.key))
    }
    /// The longest any answer may take: the deadline and a small margin.
    static let longestAnswer = 4.0

    @Test("a lock held twice the deadline: every call answers in time, each 503 wrote nothing, each 200 one row")
    func lockedTable() async throws {
      let fixture = try await Fixture.make()
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: Self.deadline)
      defer { replica.stop() }
      let load = Load(port: replica.httpPort, key: fixture.key)
      #expect(try await load.call().status == 200)

      let locked = try await fixture.holdingLock(for: Self.deadline * 2) {
        await load.burst(20)
      }
      #expect(
        locked.allSatisfy { $0.seconds <= Self.longestAnswer }, "\(locked.filter { $0.seconds > Self.longestAnswer })")
      // Each is a 503. Most say nothing was written: PostgreSQL's statement_timeout ended the
      // statement. One sent late (behind another batch, on a busy machine) meets the service's
      // deadline first; its 503 says the outcome is unknown, as the read-back cannot get past the
      // lock either. Neither wrote anything.
      #expect(locked.allSatisfy { $0.status == 503 }, "\(locked)")
      #expect(locked.contains { $0.unknownTraceID == nil }, "\(locked)")
      #expect(try await fixture.attempts() == 1, "no 503 left a row")
      #expect(try await load.call().status == 200, "the service recovers when the lock goes")
      #expect(try await fixture.attempts() == 2)
    }

    @Test("a network that falls silent mid-run: every call answers in time; 200s are written, plain 503s are not")
    func silentNetwork() async throws {
      let (fixture, proxy, replica, load) = try await Self.proxied(timeout: Self.deadline)
      try atTestEnd { await proxy.stop() }
      defer { replica.stop() }
      let clients = Task { await load.run(clients: 8) }
      try await load.waitForAnswers(30)
      proxy.set(.silent)
      let silentFrom = load.answered
      try await load.waitForAnswers(silentFrom + 16, within: .seconds(30))
      proxy.set(.forwarding)
      let resumedAt = load.answered
      try await load.waitForAnswers(resumedAt + 30, within: .seconds(30))
      load.stop()
      let results = await clients.value

      #expect(
        results.allSatisfy { $0.seconds <= Self.longestAnswer }, "\(results.filter { $0.seconds > Self.longestAnswer })"
      )
      #expect(
        results.allSatisfy { $0.status == 200 || $0.status == 503 },
        "\(results.filter { $0.status != 200 && $0.status != 503 })")
      #expect(results.contains { $0.status == 503 }, "the silence was seen")
      let written = results.compactMap(\.traceID)
      let unknown = results.compactMap(\.unknownTraceID)
      #expect(try await fixture.attempts(among: written) == written.count, "every 200 is in PostgreSQL")
      #expect(try await fixture.attempts(outside: written + unknown) == 0, "no plain 503 left a row")
      #expect(try await fixture.attempts() <= written.count + unknown.count)
    }

    @Test("a reply lost after the commit: the attempt is read back and the answer is 200")
    func lostReply() async throws {
      // One connection: the call goes out on the connection whose replies are dropped, and the
      // lookup after it on a new one. Scheduled calls, so that no wake-up takes the connection.
      let (fixture, proxy, replica, load) = try await Self.proxied(timeout: .seconds(1), maxConnections: 1)
      try atTestEnd { await proxy.stop() }
      defer { replica.stop() }
      let later = Date().addingTimeInterval(3600)
      #expect(try await load.call(scheduledFor: later).status == 200)

      // The read-back has a budget of its own (a second); on a machine busy with the rest of the
      // suite it can run out, and the answer is then a truthful "unknown" 503 naming the attempt
      // (which exists). Up to three lost replies, until one is read back.
      var readBack: Load.Result?
      var written = 1
      for _ in 0..<3 where readBack == nil {
        proxy.set(.droppingReplies)
        let call = try await load.call(scheduledFor: later)
        proxy.set(.forwarding)
        #expect(proxy.droppedBytes > 0, "the reply was lost")
        #expect(call.seconds <= Self.longestAnswer)
        written += 1
        if call.status == 200 {
          readBack = call
        } else {
          let unknown = try #require(call.unknownTraceID, "a 503 that is not \"unknown\": \(call)")
          #expect(call.status == 503)
          #expect(try await fixture.attempts(among: [unknown]) == 1, "the unknown outcome was a write")
        }
      }
      let call = try #require(readBack, "no lost reply was read back in three tries")
      let trace = try #require(call.traceID)
      #expect(try await fixture.attempts(among: [trace]) == 1)
      #expect(try await fixture.attempts() == written)
    }

    @Test("a cancellation and an event report whose COMMIT answer is lost are read back: 200")
    func lostCommitReplies() async throws {
      // Two connections: with one, the read-back waited for the muted connection's close to free
      // the pool's only slot, and about one run in 25 that took longer than the read-back's budget
      // (a truthful "unknown" 503, but not what this test is about). Only a connection that sent
      // COMMIT is muted, so the writes still lose their answer and the read-back does not.
      let (fixture, proxy, replica, load) = try await Self.proxied(timeout: .seconds(1), maxConnections: 2)
      try atTestEnd { await proxy.stop() }
      defer { replica.stop() }
      let later = Date().addingTimeInterval(3600)
      let canceled = try #require(try await load.call(scheduledFor: later).traceID)
      let reported = try #require(try await load.call(scheduledFor: later).traceID)

      proxy.set(.droppingRepliesAfter("COMMIT"))
      let cancel = try await GatewayClient.send(
        .DELETE, "/v1/calls/\(canceled)", authorization: "Bearer \(fixture.key)", port: replica.httpPort)
      #expect(proxy.droppedBytes > 0, "the COMMIT's answer was lost")
      #expect(cancel.status == 200, "\(cancel.body)")
      #expect(cancel.data?["status"] == "canceled")

      let dropped = proxy.droppedBytes
      proxy.set(.droppingRepliesAfter("COMMIT"))
      let event = try await GatewayClient.send(
        .POST, "/v1/calls/\(reported)/events", authorization: "Bearer \(fixture.key)",
        body: ["event_id": "ring-1", "status": "ringing"], port: replica.httpPort)
      #expect(proxy.droppedBytes > dropped, "the COMMIT's answer was lost")
      #expect(event.status == 200, "\(event.body)")
      #expect(event.data?["status"] == "ringing")
      proxy.set(.forwarding)
      let rows = try await fixture.client.query(
        "SELECT count(*) FROM call_events WHERE tenant_id = \(fixture.tenantID) AND event_id = 'ring-1'")
      for try await count in rows.decode(Int.self) { #expect(count == 1) }
    }

    @Test("a batch cancel whose COMMIT answer is lost is read back: 200, and every waiting attempt is canceled")
    func lostBatchCancelReply() async throws {
      let (fixture, proxy, replica, _) = try await Self.proxied(timeout: .seconds(1), maxConnections: 2)
      try atTestEnd { await proxy.stop() }
      defer { replica.stop() }
      let recipients: [JSONValue] = (0..<20).map { index in
        ["parameters": [["name": "customer_phone", "value": .string("+9198765432\(10 + index)")]]]
      }
      let created = try await GatewayClient.send(
        .POST, "/v1/batch-call", authorization: "Bearer \(fixture.key)",
        body: [
          "agent_id": 1, "name": "lost", "recipients": .array(recipients),
          "scheduled_for": .string(Timestamp.format(Date().addingTimeInterval(3600))),
        ], port: replica.httpPort)
      let id = try #require(created.data?["id"]?.integerValue, "\(created.body)")

      proxy.set(.droppingRepliesAfter("COMMIT"))
      let cancel = try await GatewayClient.send(
        .POST, "/v1/batch-calls/\(id)/cancel", authorization: "Bearer \(fixture.key)", port: replica.httpPort)
      #expect(proxy.droppedBytes > 0, "the COMMIT's answer was lost")
      #expect(cancel.status == 200, "\(cancel.body)")
      #expect(cancel.data?["status"] == "canceled")
      proxy.set(.forwarding)
      let rows = try await fixture.client.query(
        """
        SELECT count(*) FROM call_attempts WHERE tenant_id = \(fixture.tenantID) AND batch_id = \(id)
          AND status = 'canceled'
        """)
      for try await count in rows.decode(Int.self) { #expect(count == 20) }
    }

    @Test("unknown outcomes: a 503 that says so names the trace id; over gRPC, in ErrorInfo")
    func unknownOutcomeEnvelope() async throws {
      let (fixture, proxy, replica, load) = try await Self.proxied(timeout: .seconds(1), maxConnections: 1)
      try atTestEnd { await proxy.stop() }
      defer { replica.stop() }
      let later = Date().addingTimeInterval(3600)
      #expect(try await load.call(scheduledFor: later).status == 200)

      // Silent on every connection: the call was sent and nothing can be learned in time.
      proxy.set(.silent)
      let call = try await load.call(scheduledFor: later)
      #expect(call.status == 503)
      #expect(call.seconds <= Self.longestAnswer)
      let body = try #require(call.body)
      #expect(body["error"]?["type"] == "service_unavailable")
      #expect(body["error"]?["message"] == "service temporarily unavailable")
      #expect(body["error"]?["outcome"] == "unknown")
      let trace = try #require(body["error"]?["trace_id"]?.stringValue)
      #expect(UUID(uuidString: trace) != nil)

      // The same over gRPC, once a connection is up again.
      proxy.set(.forwarding)
      #expect(try await load.call(scheduledFor: later).status == 200)
      proxy.set(.silent)
      let grpcPort = try #require(try await replica.server.grpcListeningPort())
      let rpcError = try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: grpcPort), transportSecurity: .plaintext)
      ) { client -> RPCError? in
        var request = Switchboard_V1_MakeCallRequest()
        request.agentID = 1
        request.parameters = [
          .with {
            $0.name = "customer_phone"
            $0.value = "+14155550199"
          }
        ]
        request.scheduledFor = .init(date: later)
        var metadata = Metadata()
        metadata.addString("Bearer \(fixture.key)", forKey: "authorization")
        do {
          _ = try await Switchboard_V1_CallService.Client(wrapping: client).makeCall(request, metadata: metadata)
          return nil
        } catch let error as RPCError {
          return error
        }
      }
      #expect(rpcError?.code == .unavailable)
      let info = try #require(try rpcError?.unpackGoogleRPCStatus()?.details.first?.errorInfo)
      #expect(info.metadata["outcome"] == "unknown")
      #expect(info.metadata["trace_id"].flatMap(UUID.init(uuidString:)) != nil)

      proxy.set(.forwarding)
      #expect(try await fixture.attempts(among: [trace]) == 0, "silence let nothing through")
      #expect(try await fixture.attempts() == 2)
    }
  }
}

/// A database of its own in the shared cluster, migrated, with a tenant (limits off), agent 1 and
/// a key, reached directly.
struct Fixture: Sendable {
  let databaseURL: String
  let port: Int
  let client: PostgresClient
  let tenantID: Int64
  let key: String

  static func make() async throws -> Fixture {
    let (databaseURL, client, logger) = try await IsolatedDatabase.create(prefix: "faults", timeout: .seconds(30))
    let url = URLComponents(string: databaseURL)!
    let accounts = PostgresAccounts(client: client, logger: logger)
    let tenant = try await accounts.createTenant(
      name: "faults", settings: .init(numberRateLimit: 0, maxConcurrentCalls: 0))
    try await accounts.saveAgent(tenantID: tenant, agentID: 1, phoneNumber: "+14155550100", name: nil, update: false)
    return Fixture(
      databaseURL: databaseURL, port: url.port ?? 5432, client: client, tenantID: tenant,
      key: try await accounts.createAPIKey(tenantID: tenant))
  }

  /// The same database through another port (a proxy's).
  func databaseURL(port: Int) -> String {
    var url = URLComponents(string: databaseURL)!
    url.port = port
    return url.string!
  }

  /// Attempts of the tenant: all, those among `traceIDs`, or those outside them.
  func attempts(among traceIDs: [String]? = nil, outside excluded: [String]? = nil) async throws -> Int {
    let among = traceIDs?.compactMap(UUID.init(uuidString:))
    let outside = (excluded ?? []).compactMap(UUID.init(uuidString:))
    let rows = try await client.query(
      """
      SELECT count(*) FROM call_attempts WHERE tenant_id = \(tenantID)
        AND (\(among)::uuid[] IS NULL OR trace_id = ANY(\(among)::uuid[]))
        AND NOT (trace_id = ANY(\(outside)::uuid[]))
      """)
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }

  /// Runs `body` while another session holds an exclusive lock on `call_attempts`, for `duration`
  /// (slept by PostgreSQL, in that session).
  func holdingLock<T: Sendable>(for duration: Duration, _ body: @Sendable () async throws -> T) async throws -> T {
    let locked = AsyncStream<Void>.makeStream()
    let logger = Logger(label: "fault-tests")
    let holder = Task {
      try await client.withConnection { connection in
        try await connection.query("BEGIN", logger: logger)
        try await connection.query("LOCK TABLE call_attempts IN ACCESS EXCLUSIVE MODE", logger: logger)
        locked.continuation.yield()
        try await connection.query("SELECT pg_sleep(\(Double(duration.components.seconds)))", logger: logger)
        try await connection.query("COMMIT", logger: logger)
      }
    }
    for await _ in locked.stream { break }
    let result = try await body()
    try await holder.value
    return result
  }
}

/// A replica of role `api` in this process, on ports the OS picks.
struct Replica: Sendable {
  let server: SwitchboardServer
  let running: Task<Void, any Error>
  let httpPort: Int

  static func start(
    databaseURL: String, timeout: Duration, maxConnections: Int = 20, role: ServerConfiguration.Role = .api,
    httpLimits: ConnectionLimits = .init(), logger given: Logger? = nil,
    configure: (inout ServerConfiguration) -> Void = { _ in }
  ) async throws -> Replica {
    var logger = given ?? Logger(label: "fault-replica")
    if given == nil {
      logger.logLevel = ProcessInfo.processInfo.environment["FAULT_LOG"] != nil ? .debug : .critical
    }
    var configuration = ServerConfiguration(databaseURL: databaseURL)
    configuration.role = role
    configuration.grpcHost = "127.0.0.1"
    configuration.grpcPort = 0
    configuration.httpHost = "127.0.0.1"
    configuration.httpPort = 0
    configuration.databaseTimeout = timeout
    configuration.maxDatabaseConnections = maxConnections
    configuration.httpLimits = httpLimits
    configure(&configuration)
    let server = try SwitchboardServer(configuration: configuration, logger: logger)
    let group = try await server.serviceGroup()
    let running = Task { try await group.run() }
    guard let port = await server.httpListeningPort() else { throw TestFailure("the replica did not listen") }
    return Replica(server: server, running: running, httpPort: port)
  }

  func stop() { running.cancel() }
}

@Suite("Every role is probeable", .isolatedDatabases)
struct RoleTests {
  @Test("a dispatcher-only replica serves /healthz and /readyz, and nothing else")
  func dispatcherHealth() async throws {
    let fixture = try await Fixture.make()
    let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(2), role: .dispatcher)
    defer { replica.stop() }
    let ready = try await GatewayClient.send(.GET, "/readyz", authorization: nil, port: replica.httpPort)
    #expect(ready.status == 200)
    #expect(ready.body["status"] == "ready")
    #expect(try await GatewayClient.send(.GET, "/healthz", authorization: nil, port: replica.httpPort).status == 200)
    let call = try await GatewayClient.send(
      .POST, "/v1/call", authorization: "Bearer \(fixture.key)", body: ["agent_id": 1], port: replica.httpPort)
    #expect(call.status == 404)
    #expect(call.errorType == "not_found")
    #expect(try await replica.server.grpcListeningPort() == nil)
  }
}

extension OneAtATime {
  @Suite("Connections that never finish", .isolatedDatabases)
  struct ConnectionLimitTests {
    /// A raw TCP connection to the gateway: sends `bytes`, then waits for the server to close it.
    /// Whether it was closed within `limit`.
    static func closedByServer(port: Int, sending bytes: String, within limit: Duration) async throws -> Bool {
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port).get()
      // A write fails when the server has closed the connection already; the close is what counts.
      if !bytes.isEmpty { try? await channel.writeAndFlush(ByteBuffer(string: bytes)) }
      let closed = try await closedByServer(channel: channel, within: limit)
      if !closed { try? await channel.close() }
      return closed
    }

    /// Whether `channel` was closed (by the server) within `limit`.
    static func closedByServer(channel: any Channel, within limit: Duration) async throws -> Bool {
      let closed = AsyncStream<Void>.makeStream()
      channel.closeFuture.whenComplete { _ in closed.continuation.yield() }
      let giveUp = Task {
        try await Task.sleep(for: limit)
        closed.continuation.finish()
      }
      defer { giveUp.cancel() }
      for await _ in closed.stream {
        return true
      }
      return false
    }

    @Test("a silent, a half-sent, an idle and a never-ending request are closed within their timeouts")
    func stalledConnections() async throws {
      let fixture = try await Fixture.make()
      var limits = ConnectionLimits()
      limits.idleTimeout = .seconds(1)
      limits.requestTimeout = .seconds(1)
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(2), httpLimits: limits)
      defer { replica.stop() }
      let port = replica.httpPort
      async let silent = Self.closedByServer(port: port, sending: "", within: .seconds(5))
      async let halfHeaders = Self.closedByServer(
        port: port, sending: "POST /v1/call HTTP/1.1\r\nHost: switchboard\r\nContent-Ty", within: .seconds(5))
      async let idle = Self.closedByServer(
        port: port, sending: "GET /healthz HTTP/1.1\r\nHost: switchboard\r\n\r\n", within: .seconds(5))
      async let endless = Self.closedByServer(
        port: port,
        sending: "POST /v1/call HTTP/1.1\r\nHost: switchboard\r\nAuthorization: Bearer \(fixture.key)\r\n"
          + "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\n{\"age\r\n",
        within: .seconds(5))
      let closed = try await (silent, halfHeaders, idle, endless)
      #expect(closed.0, "a connection that sends nothing")
      #expect(closed.1, "a connection that sends half its headers")
      #expect(closed.2, "an idle keep-alive connection")
      #expect(closed.3, "a chunked body that never ends")
      #expect(try await fixture.attempts() == 0)
    }

    @Test(
      "requests the HTTP parser refuses answer in the envelope; too large headers are a 431",
      arguments: [
        ("a NUL in a header", "GET /healthz HTTP/1.1\r\nHost: s\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("a bare LF", "GET /healthz HTTP/1.1\nHost: s\r\nX-A: b\r\n\r\n", 400),
        ("an obs-fold", "GET /healthz HTTP/1.1\r\nHost: s\r\nX-A: a\r\n folded\r\n\r\n", 400),
        (
          "1,000 headers",
          "GET /healthz HTTP/1.1\r\nHost: s\r\n" + (0..<1000).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431
        ),
        (
          "a 100 KiB header",
          "GET /healthz HTTP/1.1\r\nHost: s\r\nX-Big: " + String(repeating: "a", count: 100 * 1024) + "\r\n\r\n", 431
        ),
      ])
    func parserRejects(_ name: String, _ request: String, _ status: Int) async throws {
      let environment = try await TestEnvironment.shared.get()
      let answer = try await Self.exchange(port: environment.httpPort, sending: request)
      #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(name): \(answer.prefix(200))")
      let body = try #require(answer.range(of: "\r\n\r\n").map { String(answer[$0.upperBound...]) })
      let envelope = try JSONValue.decode(body)
      #expect(envelope["error"]?["type"] == "invalid_request", "\(name)")
      #expect(envelope["error"]?["message"]?.stringValue?.isEmpty == false, "\(name)")
    }

    /// Sends raw bytes on a new connection; everything the server answers until it closes.
    static func exchange(port: Int, sending bytes: String) async throws -> String {
      let received = Received()
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
        }
        .connect(host: "127.0.0.1", port: port).get()
      try? await channel.writeAndFlush(ByteBuffer(string: bytes))
      let closed = try await closedByServer(channel: channel, within: .seconds(5))
      if !closed { try? await channel.close() }
      return received.text
    }

    @Test("connections past the cap are closed at once; the ones under it are served")
    func connectionCap() async throws {
      let fixture = try await Fixture.make()
      var limits = ConnectionLimits()
      limits.maxConnections = 2
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(2), httpLimits: limits)
      defer { replica.stop() }
      // Each held connection is answered once, so the server has surely counted it before the
      // third arrives (a connect completes in the kernel before the server accepts it).
      var held: [any Channel] = []
      for _ in 0..<2 {
        let received = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
          .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
          }
          .connect(host: "127.0.0.1", port: replica.httpPort).get()
        try await channel.writeAndFlush(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: switchboard\r\n\r\n"))
        for _ in 0..<100 where !received.text.contains("\r\n\r\n") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(received.text.hasPrefix("HTTP/1.1 200"))
        held.append(channel)
      }
      #expect(
        try await Self.closedByServer(
          port: replica.httpPort, sending: "GET /healthz HTTP/1.1\r\nHost: switchboard\r\n\r\n", within: .seconds(5)))
      for channel in held { try await channel.close() }
      // Once the server has seen them close, there is room again.
      var served = false
      for _ in 0..<50 where !served {
        served =
          (try? await GatewayClient.send(.GET, "/healthz", authorization: nil, port: replica.httpPort).status) == 200
        if !served { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(served)
    }
  }
}

/// Collects what a raw connection receives.
final class Received: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  private let bytes = Mutex<[UInt8]>([])

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    bytes.withLock { $0 += buffer.readableBytesView }
  }

  var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}
