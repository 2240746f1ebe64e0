import Foundation
import GRPCCore
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

@Suite("W3C trace context", .isolatedDatabases)
struct TraceContextTests {
  static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  @Test(
    "traceparent values: well formed kept, malformed dropped",
    arguments: [
      ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true),
      ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", true),
      ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false),
      ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false),
      ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false),
      ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false),
      ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false),
      ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false),
      ("", false), ("garbage", false),
    ])
  func parsing(_ text: String, _ kept: Bool) {
    #expect((TraceParent.valid(text) != nil) == kept)
  }

  @Test("a traceparent sent over HTTP or gRPC is stored on the attempt; a malformed one is dropped, the call placed")
  func stored() async throws {
    let tenant = try await TestTenant.make()
    let http = try await GatewayClient.makeCall(
      tenant, tenant.callBody(phone: "+919800000001"), headers: ["traceparent": Self.traceparent])
    #expect(http.status == 200)
    let malformed = try await GatewayClient.makeCall(
      tenant, tenant.callBody(phone: "+919800000002"), headers: ["traceparent": "00-nope"])
    #expect(malformed.status == 200)
    let grpc = try await withCallService { service in
      var metadata = tenant.metadata
      metadata.addString(Self.traceparent, forKey: "traceparent")
      return try await service.makeCall(tenant.makeCallRequest(phone: "+919800000003"), metadata: metadata).data
    }
    for (trace, expected) in [
      (http.data?["trace_id"]?.stringValue, Self.traceparent), (malformed.data?["trace_id"]?.stringValue, nil),
      (grpc.traceID, Self.traceparent),
    ] {
      let id = try #require(trace.flatMap(UUID.init(uuidString:)))
      let rows = try await tenant.environment.client.query(
        "SELECT traceparent FROM call_attempts WHERE tenant_id = \(tenant.id) AND trace_id = \(id)")
      var stored: String??
      for try await value in rows.decode(String?.self) { stored = value }
      #expect(stored == .some(expected))
    }
  }

  @Test("the dialer webhook and the outcome webhook carry the call's traceparent")
  func propagated() async throws {
    let database = try await IsolatedDatabase.make()
    let hooks = WebhookReceiver()
    let hookURL = try await hooks.start()
    try atTestEnd { await hooks.stop() }
    let dialer = WebhookReceiver()
    let dialerURL = try await dialer.start()
    try atTestEnd { await dialer.stop() }
    let tenant = try await database.tenant(
      agent: .init(phoneNumber: "+14155550123", webhookURL: hookURL, webhookSecret: "hook-secret"))
    let receipt = try await database.call(tenant, traceparent: Self.traceparent)
    let webhookDialer = WebhookDialer(
      configuration: .init(url: dialerURL, secret: Secret("dialer-secret")), client: .shared, logger: database.logger)
    let dialed = try await whileRunning([database.dispatcher("a", dialer: webhookDialer)]) {
      try await database.eventually { await !dialer.received.isEmpty }
    }
    #expect(dialed)
    #expect(await dialer.received.first?.headers["traceparent"] == Self.traceparent)

    let deliverer = OutboxDeliverer(
      outbox: PostgresOutbox(database: database.database), sender: WebhookSender(client: .shared),
      pollInterval: .milliseconds(50), logger: database.logger)
    let delivering = Task { try await deliverer.run() }
    defer { delivering.cancel() }
    _ = try await database.operations.reportEvent(
      traceID: receipt.traceID.lowercased, CallEventInput(eventID: "done", status: "completed"), tenant: tenant)
    let delivered = try await database.eventually { await !hooks.received.isEmpty }
    #expect(delivered)
    #expect(await hooks.received.first?.headers["traceparent"] == Self.traceparent)
  }
}
