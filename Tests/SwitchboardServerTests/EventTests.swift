import AsyncHTTPClient
import Foundation
import NIOHTTP1
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// ReportCallEvent on the gateway: idempotent by event_id, forward only, merged into the chain.
@Suite("Call events")
struct EventTests {
  func report(_ tenant: TestTenant, _ traceID: String, _ body: JSONValue) async throws -> HTTPResult {
    try await GatewayClient.send(.POST, "/v1/calls/\(traceID)/events", authorization: tenant.authorization, body: body)
  }

  @Test("events move the attempt forward, replays are no-ops, backward moves are 409")
  func lifecycle() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)

    let ringing = try await report(tenant, trace, ["event_id": "e1", "status": "ringing"])
    #expect(ringing.status == 200)
    #expect(ringing.data?["status"] == "ringing")
    #expect(ringing.body["duplicate"] == false)
    let replay = try await report(tenant, trace, ["event_id": "e1", "status": "ringing"])
    #expect(replay.status == 200)
    #expect(replay.body["duplicate"] == true)

    let progress = try await report(
      tenant, trace,
      ["event_id": "e2", "status": "in_progress", "collected_data": ["intent": "pay"], "stage_id": "payment"])
    #expect(progress.data?["status"] == "in_progress")
    let backwards = try await report(tenant, trace, ["event_id": "e3", "status": "ringing"])
    #expect(backwards.status == 409)
    #expect(backwards.errorType == "conflict")

    let done = try await report(
      tenant, trace,
      [
        "event_id": "e4", "status": "completed", "results": ["paid": true], "duration_seconds": 42.5,
        "collected_data": ["amount": 1200],
      ])
    #expect(done.data?["status"] == "completed")
    #expect(done.data?["results"] == ["paid": true])
    #expect(done.data?["duration_seconds"] == 42.5)
    #expect(done.data?["ended_at"]?.stringValue != nil)
    let late = try await report(tenant, trace, ["event_id": "e5", "status": "failed"])
    #expect(late.status == 200, "an event for a finished attempt is ignored")
    #expect(late.data?["status"] == "completed")

    #expect(try await tenant.count("call_events") == 4, "every accepted report is logged; the 409 is not")
    let chainID = try #require(call.data?["conversation_id"]?.stringValue)
    let chain = try await GatewayClient.send(.GET, "/v1/conversations/\(chainID)", authorization: tenant.authorization)
    #expect(chain.data?["state"] == ["collected_data": ["intent": "pay", "amount": 1200], "stage_id": "payment"])

    // The next attempt of the chain starts from what the events collected.
    let next = try await GatewayClient.makeCall(tenant, tenant.callBody(["conversation_id": .string(chainID)]))
    let nextTrace = try #require(next.data?["trace_id"]?.stringValue)
    let stored = try await GatewayClient.send(.GET, "/v1/calls/\(nextTrace)", authorization: tenant.authorization)
    #expect(
      stored.data?["effective_retry_context"] == [
        "collected_data": ["intent": "pay", "amount": 1200], "retry_stage_id": "payment",
      ])
  }

  @Test("concurrent replays of one event record it once")
  func concurrentReplays() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let results = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
      for _ in 0..<16 {
        group.addTask {
          try await report(tenant, trace, ["event_id": "only-once", "status": "ringing", "collected_data": ["n": 1]])
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(results.allSatisfy { $0.status == 200 })
    #expect(results.filter { $0.body["duplicate"] == false }.count == 1)
    #expect(try await tenant.count("call_events") == 1)
  }

  static let malformedCases: [(JSONValue, String)] = [
    (["status": "ringing"], "event_id is required"),
    (["event_id": "x"], "status is required"),
    (["event_id": "x", "status": "scheduled"], "status must be one of"),
    (["event_id": "x", "status": "ringing", "collected_data": [1]], "collected_data must be an object"),
    (
      ["event_id": "x", "status": "completed", "duration_seconds": -1],
      "duration_seconds must be a number between 0 and 604800"
    ),
    (["event_id": 5, "status": "ringing"], "event_id must be a string"),
    (["event_id": "x", "status": "ringing", "stage_id": "a\u{0}"], "event reports must not contain NUL characters"),
  ]

  @Test("malformed events are 400 and record nothing", arguments: malformedCases)
  func malformed(body: JSONValue, message: String) async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let result = try await report(tenant, trace, body)
    #expect(result.status == 400)
    #expect(result.errorType == "invalid_request")
    #expect(result.errorMessage?.hasPrefix(message) == true, "\(result.errorMessage ?? "")")
    #expect(try await tenant.count("call_events") == 0)
  }

  @Test("a runtime serving every tenant reports with the dialer secret and the tenant's id")
  func dialerSecret() async throws {
    let tenant = try await TestTenant.make()
    let other = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let path = "/v1/calls/\(trace)/events"
    let secret = "Bearer \(TestEnvironment.dialerSecret)"
    let event: JSONValue = ["event_id": "runtime-1", "status": "ringing"]
    let missingTenant = try await GatewayClient.send(.POST, path, authorization: secret, body: event)
    #expect(missingTenant.status == 400)
    let wrongTenant = try await GatewayClient.send(
      .POST, path, authorization: secret, body: event, headers: ["Switchboard-Tenant": String(other.id)])
    #expect(wrongTenant.status == 404)
    let wrongSecret = try await GatewayClient.send(
      .POST, path, authorization: "Bearer nope", body: event, headers: ["Switchboard-Tenant": String(tenant.id)])
    #expect(wrongSecret.status == 401)
    let accepted = try await GatewayClient.send(
      .POST, path, authorization: secret, body: event, headers: ["Switchboard-Tenant": String(tenant.id)])
    #expect(accepted.status == 200)
    #expect(accepted.data?["status"] == "ringing")
    // The secret is for reporting only: it does not place calls.
    let call2 = try await GatewayClient.send(.POST, "/v1/call", authorization: secret, body: tenant.callBody())
    #expect(call2.status == 401)
  }

  @Test("events for unknown attempts or other tenants' attempts are 404")
  func notFound() async throws {
    let owner = try await TestTenant.make()
    let other = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(owner, owner.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let foreign = try await report(other, trace, ["event_id": "e", "status": "ringing"])
    #expect(foreign.status == 404)
    #expect(foreign.errorMessage == "call not found")
    let unknown = try await report(owner, UUID().uuidString, ["event_id": "e", "status": "ringing"])
    #expect(unknown.status == 404)
    #expect(try await owner.count("call_events") == 0)
    #expect(try await owner.count("call_attempts", where: "status = 'initiated'") == 1)
  }
}
