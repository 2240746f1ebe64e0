import Foundation
import Hummingbird
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Synchronization
import Testing

/// A receiver that misbehaves on purpose: `/stall/...` answers `200` with `Content-Length: 1000`,
/// sends 10 bytes of the body and never the rest; `/redirect` answers 307 to `location`.
actor MisbehavingReceiver {
  private(set) var stalled = 0
  private var task: Task<Void, any Error>?
  let location: String

  init(location: String = "http://127.0.0.1:9/nowhere") {
    self.location = location
  }

  func arrived() { stalled += 1 }

  /// Starts listening; returns `http://127.0.0.1:<port>`.
  func start() async throws -> String {
    let router = Router()
    router.post("/stall/:target") { [self] _, _ -> Response in
      await self.arrived()
      return Response(
        status: .ok,
        body: ResponseBody(contentLength: 1000) { writer in
          try await writer.write(ByteBuffer(string: "0123456789"))
          try await Task.sleep(for: .seconds(3600))
        })
    }
    let location = location
    router.post("/redirect") { _, _ -> Response in
      Response(status: .temporaryRedirect, headers: [.location: location])
    }
    router.post("/found") { _, _ -> Response in
      Response(status: .found, headers: [.location: location])
    }
    let port = BoundValue()
    var logger = Logger(label: "misbehaving-receiver")
    logger.logLevel = .critical
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { await port.set($0.localAddress?.port ?? 0) }, logger: logger)
    task = Task { try await app.runService() }
    return "http://127.0.0.1:\(await port.value())"
  }

  func stop() { task?.cancel() }
}

/// Issue #20, findings 3, 7 and 8: outbound HTTP is bounded end to end, never follows a
/// redirect, connects only to addresses the policy allows, and shares the deliverer fairly.
@Suite("Outbound delivery", .isolatedDatabases)
struct OutboundDeliveryTests {
  @Test("a target that sends a head and stalls its body is cut at the send's deadline")
  func stalledBody() async throws {
    let receiver = MisbehavingReceiver()
    let base = try await receiver.start()
    let targets = TargetClients(policy: .loopbackReceivers)
    // The head comes at once; the body never ends. (Long enough for the head on a busy machine.)
    let sender = WebhookSender(targets: targets, timeout: .seconds(2))
    let outcome = await sender.post("{}", to: "\(base)/stall/1", secret: nil)
    #expect(outcome == .retryable("no answer within 2.0 seconds"))
    #expect(await receiver.stalled == 1)
    // The operator's dialer URL is bounded the same way.
    let dialer = WebhookSender(client: .shared, timeout: .seconds(2))
    #expect(await dialer.post("{}", to: "\(base)/stall/2", secret: nil) == .retryable("no answer within 2.0 seconds"))
    await targets.shutdown()
    await receiver.stop()
  }

  @Test("a redirect is the answer: the signed POST never reaches its Location")
  func redirects() async throws {
    let hidden = WebhookReceiver()
    let hiddenURL = try await hidden.start()
    let receiver = MisbehavingReceiver(location: hiddenURL)
    let base = try await receiver.start()
    let targets = TargetClients(policy: .loopbackReceivers)
    let operatorClient = WebhookSender.makeClient()
    for sender in [WebhookSender(targets: targets), WebhookSender(client: operatorClient)] {
      #expect(
        await sender.post("{}", to: "\(base)/redirect", secret: Secret("s"))
          == .rejected("HTTP 307 (redirects are not followed)"))
      #expect(
        await sender.post("{}", to: "\(base)/found", secret: Secret("s"))
          == .rejected("HTTP 302 (redirects are not followed)"))
    }
    #expect(await hidden.received.isEmpty)
    try await operatorClient.shutdown()
    await targets.shutdown()
    await receiver.stop()
    await hidden.stop()
  }

  @Test("every address a name resolves to is checked at each send, and the connection goes to the checked one")
  func resolvedAddresses() async throws {
    let receiver = WebhookReceiver()
    let url = try #require(URLComponents(string: try await receiver.start()))
    let port = try #require(url.port)
    // DNS as a rebinding attacker serves it: a name registered while public, now internal.
    let rebinding: TargetClients.Resolver = { host in
      switch host {
      case "hooks.example.com": [.v4(0x7F00_0001)]
      case "mixed.example.com": [.v4(0x5DB8_D822), .v4(0x0A00_0001)]
      default: [.v4(0x7F00_0001)]
      }
    }
    let strict = TargetClients(policy: OutboundURLPolicy(), resolve: rebinding)
    let sender = WebhookSender(targets: strict)
    for host in ["hooks.example.com", "mixed.example.com"] {
      let outcome = await sender.post("{}", to: "http://\(host):\(port)/hook", secret: nil)
      guard case .rejected(let reason) = outcome else {
        Issue.record("\(host): \(outcome)")
        continue
      }
      #expect(reason.contains("resolves to a private, loopback or link-local address"), "\(reason)")
    }
    // Literals are checked without a lookup.
    #expect(await sender.post("{}", to: "http://127.0.0.1:\(port)/hook", secret: nil) != .delivered)
    #expect(await receiver.received.isEmpty, "nothing reached the internal receiver")

    // Allowed, the request goes to the address that was checked: this name exists nowhere but in
    // the resolver above, so only the pinned connection can reach the receiver.
    let allowed = TargetClients(policy: .loopbackReceivers, resolve: rebinding)
    let delivered = await WebhookSender(targets: allowed).post(
      "{}", to: "http://receiver.switchboard.invalid:\(port)/hook", secret: nil)
    #expect(delivered == .delivered)
    #expect(await receiver.received.count == 1)
    await strict.shutdown()
    await allowed.shutdown()
    await receiver.stop()
  }

  @Test("a tenant with five stalling targets holds at most its share; another tenant's events arrive")
  func fairShare() async throws {
    let database = try await IsolatedDatabase.make()
    let noisy = try await database.tenant()
    let quiet = try await database.tenant()
    // Five receivers of its own, each answering a head and stalling its body.
    var stalling: [MisbehavingReceiver] = []
    for target in 1...5 {
      let receiver = MisbehavingReceiver()
      stalling.append(receiver)
      _ = try await database.accounts.addWebhookTarget(
        WebhookTargetInput(
          url: "\(try await receiver.start())/stall/\(target)", secret: Secret("s"), events: ["call.completed"]),
        tenantID: noisy.id, agentID: 7)
    }
    let healthy = WebhookReceiver()
    let healthyURL = try await healthy.start()
    let quietTarget = try await database.accounts.addWebhookTarget(
      WebhookTargetInput(url: healthyURL, secret: Secret("q"), events: ["call.completed"]), tenantID: quiet.id,
      agentID: 7)
    func complete(_ tenant: Tenant, _ count: Int, prefix: String) async throws {
      for index in 0..<count {
        let receipt = try await database.call(tenant, phone: "+91\(prefix)\(String(format: "%06d", index))")
        _ = try await database.operations.reportEvent(
          traceID: receipt.traceID.lowercased,
          CallEventInput(eventID: "done", status: "completed", durationSeconds: 3), tenant: tenant)
      }
    }
    // The noisy tenant's events are older: a first-come deliverer would give it every send.
    try await complete(noisy, 10, prefix: "9811")
    try await complete(quiet, 10, prefix: "9822")
    #expect(try await database.count("SELECT count(*) FROM event_deliveries WHERE tenant_id = \(noisy.id)") == 50)

    let targets = TargetClients(policy: .loopbackReceivers)
    let deliverer = OutboxDeliverer(
      outbox: PostgresOutbox(database: database.database),
      sender: WebhookSender(targets: targets, timeout: .seconds(3600)), pollInterval: .milliseconds(20),
      logger: database.logger)
    let delivering = Task { try await deliverer.run() }
    let arrived = try await database.eventually {
      try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE target_id = \(quietTarget) AND delivered_at IS NOT NULL") == 10
    }
    #expect(arrived, "the quiet tenant's events arrived while the noisy one's sends stalled")
    let held = try await database.count(
      "SELECT count(*) FROM event_deliveries WHERE tenant_id = \(noisy.id) AND attempts > 0 AND delivered_at IS NULL")
    #expect(held >= 1 && held <= OutboxDeliverer.perTenant, "the noisy tenant holds \(held) sends")
    var arrivedAtStalling = 0
    for receiver in stalling { arrivedAtStalling += await receiver.stalled }
    #expect(arrivedAtStalling <= OutboxDeliverer.perTenant)
    #expect(
      try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE tenant_id = \(noisy.id) AND last_error IS NOT NULL") == 0,
      "no stalled send had ended: the quiet tenant did not wait for one")
    delivering.cancel()
    await targets.shutdown()
    for receiver in stalling { await receiver.stop() }
    await healthy.stop()
  }
}
