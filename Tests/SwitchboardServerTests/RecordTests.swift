import AsyncHTTPClient
import Foundation
import GRPCCore
import NIOCore
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardTestSupport
import Testing

/// What the voice runtime reports of a call beside its outcome: transcript, recording, who
/// answered, why it failed; stored on the attempt and read back on both transports.
@Suite("Call records")
struct RecordTests {
  func report(_ tenant: TestTenant, _ traceID: String, _ body: JSONValue) async throws -> HTTPResult {
    try await GatewayClient.send(.POST, "/v1/calls/\(traceID)/events", authorization: tenant.authorization, body: body)
  }

  /// `GET` without following redirects: the status and the `Location`.
  func recording(_ tenant: TestTenant, _ id: String) async throws -> (status: Int, location: String?, body: JSONValue) {
    let port = try await TestEnvironment.shared.get().httpPort
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    defer { _ = client.shutdown() }
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/conversations/\(id)/recording")
    request.headers.add(name: "Authorization", value: tenant.authorization)
    let response = try await client.execute(request, timeout: .seconds(10))
    let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
    return (
      Int(response.status.code), response.headers.first(name: "Location"),
      text.isEmpty ? .null : try JSONValue.decode(text)
    )
  }

  static let transcript: JSONValue = [
    ["role": "agent", "message": "Hello, is this Rahul?"], ["role": "human", "message": "Yes, speaking."],
  ]

  @Test("an event's transcript, recording and answered_by are stored and read back; the recording route redirects")
  func stored() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let chain = try #require(call.data?["conversation_id"]?.stringValue)
    #expect(try await recording(tenant, chain).status == 404)

    let done = try await report(
      tenant, trace,
      [
        "event_id": "done", "status": "completed", "transcript": Self.transcript,
        "recording_url": "https://recordings.example/calls/1.mp3", "answered_by": "human", "duration_seconds": 31,
      ])
    #expect(done.status == 200, "\(done.body)")
    let read = try await GatewayClient.send(.GET, "/v1/calls/\(trace)", authorization: tenant.authorization)
    #expect(read.data?["transcript"] == Self.transcript)
    #expect(read.data?["recording_url"] == "https://recordings.example/calls/1.mp3")
    #expect(read.data?["answered_by"] == "human" && read.data?["failure_type"] == .null)
    let chainRead = try await GatewayClient.send(
      .GET, "/v1/conversations/\(chain)", authorization: tenant.authorization)
    #expect(chainRead.data?["attempts"]?.arrayValue?.first?["transcript"] == Self.transcript)

    for id in [chain, "\(chain)_1"] {
      let redirect = try await recording(tenant, id)
      #expect(redirect.status == 302 && redirect.location == "https://recordings.example/calls/1.mp3", "\(id)")
    }
    // Another tenant finds no chain; an attempt that reported no recording has none.
    let other = try await TestTenant.make()
    let hidden = try await recording(other, chain)
    #expect(hidden.status == 404 && hidden.body["error"]?["message"] == "conversation not found")
    let next = try await GatewayClient.makeCall(tenant, tenant.callBody(["conversation_id": .string(chain)]))
    #expect(next.status == 200)
    let none = try await recording(tenant, "\(chain)_2")
    #expect(none.status == 404 && none.body["error"]?["message"] == "recording not found")
    #expect(try await recording(tenant, "\(chain)_1").status == 302)

    // gRPC carries the same fields.
    try await withCallService { service in
      var request = Switchboard_V1_GetCallRequest()
      request.traceID = trace
      let attempt = try await service.getCall(request, metadata: tenant.metadata).data
      #expect(attempt.transcript.map(\.role) == ["agent", "human"])
      #expect(attempt.recordingURL == "https://recordings.example/calls/1.mp3" && attempt.answeredBy == "human")
    }
  }

  @Test("the recording reported after the call ended, restating its final status, is added; nothing else moves")
  func recordingAfterEnd() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let chain = try #require(call.data?["conversation_id"]?.stringValue)
    let ended = try await report(tenant, trace, ["event_id": "end", "status": "completed", "duration_seconds": 40])
    let endedAt = try #require(ended.data?["ended_at"]?.stringValue)
    #expect(try await recording(tenant, chain).status == 404)
    // Another final status after the end changes nothing, and adds nothing it carries.
    let other = try await report(
      tenant, trace, ["event_id": "late-failure", "status": "failed", "recording_url": "https://r.example/x.mp3"])
    #expect(other.status == 200 && other.body["duplicate"] == true && other.data?["recording_url"] == .null)
    // The same final status, with what came after the call: added.
    let later = try await report(
      tenant, trace,
      [
        "event_id": "recording", "status": "completed", "recording_url": "https://recordings.example/late.mp3",
        "transcript": Self.transcript,
      ])
    #expect(later.status == 200 && later.body["duplicate"] == false)
    #expect(later.data?["status"] == "completed" && later.data?["ended_at"] == .string(endedAt))
    #expect(later.data?["duration_seconds"] == 40 && later.data?["transcript"] == Self.transcript)
    let redirect = try await recording(tenant, chain)
    #expect(redirect.status == 302 && redirect.location == "https://recordings.example/late.mp3")
    #expect(try await tenant.count("call_events", where: "trace_id = '\(trace)'") == 3)
  }

  @Test("gRPC ReportCallEvent records a failure's type and a transcript")
  func grpcReport() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    try await withCallService { service in
      var event = Switchboard_V1_ReportCallEventRequest()
      event.traceID = trace
      event.eventID = "failed-1"
      event.status = .failed
      event.failureType = "socket_failure"
      var turn = Switchboard_V1_TranscriptTurn()
      turn.role = "agent"
      turn.message = "Hello?"
      event.transcript = [turn]
      event.answeredBy = "machine"
      let answer = try await service.reportCallEvent(event, metadata: tenant.metadata).data
      #expect(answer.failureType == "socket_failure" && answer.answeredBy == "machine")
      #expect(answer.transcript.map(\.message) == ["Hello?"])
    }
    let read = try await GatewayClient.send(.GET, "/v1/calls/\(trace)", authorization: tenant.authorization)
    #expect(read.data?["failure_type"] == "socket_failure")
  }

  @Test("voicemail: a final status a machine answered, counted as final and reported as such")
  func voicemail() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let ended = try await report(
      tenant, trace, ["event_id": "vm", "status": "voicemail", "answered_by": "machine", "duration_seconds": 12])
    #expect(ended.status == 200 && ended.data?["status"] == "voicemail" && ended.data?["ended_at"] != .null)
    let late = try await report(tenant, trace, ["event_id": "late", "status": "completed"])
    #expect(late.data?["status"] == "voicemail", "a final status stays")
    try await withCallService { service in
      var request = Switchboard_V1_GetCallRequest()
      request.traceID = trace
      let stored = try await service.getCall(request, metadata: tenant.metadata).data
      #expect(stored.status == .voicemail)
    }
  }

  struct Bad: Sendable, CustomTestStringConvertible {
    let name: String
    let members: [String: JSONValue]
    let message: String
    var testDescription: String { name }
  }

  static let bad: [Bad] = [
    Bad(
      name: "transcript not an array", members: ["transcript": "hi"],
      message: "transcript must be an array of {role, message} objects"),
    Bad(
      name: "transcript role", members: ["transcript": [["role": "bot", "message": "x"]]],
      message: "transcript[0].role must be agent or human"),
    Bad(
      name: "transcript message", members: ["transcript": [["role": "agent", "message": "ok"], ["role": "human"]]],
      message: "transcript[1].message must be a string"),
    Bad(
      name: "recording over http", members: ["recording_url": "http://recordings.example/1.mp3"],
      message: "recording_url must be an https URL"),
    Bad(
      name: "recording not a URL", members: ["recording_url": "not-a-url"],
      message: "recording_url must be an https URL"),
    Bad(
      name: "recording with CR/LF", members: ["recording_url": "https://recordings.example/1.mp3\r\nX-Evil: 1"],
      message: "recording_url must not contain spaces, control or non-ASCII characters (percent-encode them)"),
    Bad(
      name: "recording with a space", members: ["recording_url": "https://recordings.example/a b.mp3"],
      message: "recording_url must not contain spaces, control or non-ASCII characters (percent-encode them)"),
    Bad(
      name: "recording with U+2028", members: ["recording_url": "https://recordings.example/\u{2028}.mp3"],
      message: "recording_url must not contain spaces, control or non-ASCII characters (percent-encode them)"),
    Bad(
      name: "answered_by", members: ["answered_by": "robot"], message: "answered_by must be human, machine or unknown"),
    Bad(
      name: "failure_type unknown", members: ["status": "failed", "failure_type": "gremlins"],
      message: "failure_type must be socket_failure, telephony_failed or other"),
    Bad(
      name: "failure_type without failed", members: ["failure_type": "other"],
      message: "failure_type is only reported with status failed"),
  ]

  @Test("a bad record field is a 400 that names it, and changes nothing", arguments: bad)
  func rejected(_ bad: Bad) async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    var body: [String: JSONValue] = ["event_id": "bad", "status": "completed"]
    body.merge(bad.members) { _, new in new }
    let result = try await report(tenant, trace, .object(body))
    #expect(result.status == 400 && result.errorType == "invalid_request")
    #expect(result.errorMessage == bad.message)
    #expect(try await tenant.count("call_events") == 0)
    let read = try await GatewayClient.send(.GET, "/v1/calls/\(trace)", authorization: tenant.authorization)
    #expect(read.data?["status"] == "initiated" || read.data?["status"] == "dispatched")
  }
}
