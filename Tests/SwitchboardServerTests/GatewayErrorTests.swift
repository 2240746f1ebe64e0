import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// Every row of the error table, and every input rule, on the JSON gateway: the documented status,
/// type and message, and nothing written.
@Suite("JSON gateway errors")
struct GatewayErrorTests {
  struct Case: Sendable, CustomTestStringConvertible {
    let name: String
    let body: @Sendable (TestTenant) -> JSONValue
    let status: Int
    let type: String
    let message: String
    var testDescription: String { name }
  }

  static let future = Date().addingTimeInterval(3600)
  static let cases: [Case] = [
    Case(
      name: "missing agent_id", body: { _ in ["parameters": [["name": "customer_phone", "value": "+919876543210"]]] },
      status: 400, type: "invalid_request", message: "agent_id is required"),
    Case(
      name: "agent_id of the wrong type", body: { $0.callBody(["agent_id": "seven"]) }, status: 400,
      type: "invalid_request", message: "agent_id must be an integer"),
    Case(
      name: "agent_id not positive", body: { $0.callBody(["agent_id": 0]) }, status: 400, type: "invalid_request",
      message: "agent_id must be a positive integer"),
    Case(
      name: "missing parameters", body: { t in ["agent_id": .integer(t.agentID)] }, status: 400,
      type: "invalid_request", message: "parameters is required"),
    Case(
      name: "parameters not an array", body: { $0.callBody(["parameters": "customer_phone"]) }, status: 400,
      type: "invalid_request", message: "parameters must be an array of {name, value} objects"),
    Case(
      name: "no customer_phone", body: { $0.callBody(["parameters": [["name": "customer_name", "value": "R"]]]) },
      status: 400, type: "invalid_request", message: "customer_phone parameter is required"),
    Case(
      name: "customer_phone not E.164", body: { $0.callBody(phone: "98765 43210") }, status: 400,
      type: "invalid_request", message: "customer_phone must be an E.164 phone number"),
    Case(
      name: "duplicate parameter names",
      body: {
        $0.callBody([
          "parameters": [
            ["name": "customer_phone", "value": "+919876543210"], ["name": "customer_phone", "value": "+919876543211"],
          ]
        ])
      }, status: 400, type: "invalid_request", message: "parameters[1].name \"customer_phone\" is a duplicate"),
    Case(
      name: "parameter value of the wrong type",
      body: {
        $0.callBody([
          "parameters": [["name": "customer_phone", "value": "+919876543210"], ["name": "x", "value": [1]]]
        ])
      }, status: 400, type: "invalid_request", message: "parameters[1].value must be a string, number or boolean"),
    Case(
      name: "too many parameters",
      body: {
        $0.callBody([
          "parameters": .array(
            [["name": "customer_phone", "value": "+919876543210"]]
              + (0..<100).map { ["name": .string("p\($0)"), "value": "v"] })
        ])
      }, status: 400, type: "invalid_request", message: "parameters must have at most 100 items"),
    Case(
      name: "parameter name too long",
      body: {
        $0.callBody([
          "parameters": [
            ["name": "customer_phone", "value": "+919876543210"],
            ["name": .string(String(repeating: "n", count: 129)), "value": "v"],
          ]
        ])
      }, status: 400, type: "invalid_request", message: "parameters[1].name must be at most 128 characters"),
    Case(
      name: "parameter value too long",
      body: {
        $0.callBody([
          "parameters": [
            ["name": "customer_phone", "value": "+919876543210"],
            ["name": "notes", "value": .string(String(repeating: "v", count: 4097))],
          ]
        ])
      }, status: 400, type: "invalid_request", message: "parameters[1].value must be at most 4096 characters"),
    Case(
      name: "unknown conversation", body: { $0.callBody(["conversation_id": .string(UUID().uuidString)]) },
      status: 404, type: "not_found", message: "conversation not found"),
    Case(
      name: "attempt suffix past 32 bits",
      body: { $0.callBody(["conversation_id": .string("\(UUID().uuidString)_2147483648")]) }, status: 404,
      type: "not_found", message: "conversation not found"),
    Case(
      name: "attempt suffix of 63 bits",
      body: { $0.callBody(["conversation_id": .string("\(UUID().uuidString)_9223372036854775807")]) },
      status: 404, type: "not_found", message: "conversation not found"),
    Case(
      name: "scheduled_for on November 31", body: { $0.callBody(["scheduled_for": "2026-11-31T10:00:00Z"]) },
      status: 400, type: "invalid_request", message: "scheduled_for must be an ISO 8601 date-time with a UTC offset"),
    Case(
      name: "scheduled_for at hour 25", body: { $0.callBody(["scheduled_for": "2026-12-01T25:00:00Z"]) },
      status: 400, type: "invalid_request", message: "scheduled_for must be an ISO 8601 date-time with a UTC offset"),
    Case(
      name: "malformed conversation id", body: { $0.callBody(["conversation_id": "chain-1"]) }, status: 404,
      type: "not_found", message: "conversation not found"),
    Case(
      name: "idempotency key too long",
      body: { $0.callBody(["idempotency_key": .string(String(repeating: "k", count: 256))]) }, status: 400,
      type: "invalid_request", message: "idempotency_key must be at most 255 characters"),
    Case(
      name: "metadata too large", body: { $0.callBody(["metadata": .string(String(repeating: "m", count: 16385))]) },
      status: 400, type: "invalid_request", message: "metadata must be at most 16384 bytes"),
    Case(
      name: "metadata not a string", body: { $0.callBody(["metadata": ["a": 1]]) }, status: 400,
      type: "invalid_request", message: "metadata must be a string"),
    Case(
      name: "retry_context not an object", body: { $0.callBody(["retry_context": "resume"]) }, status: 400,
      type: "invalid_request", message: "retry_context must be an object"),
    Case(
      name: "collected_data not an object", body: { $0.callBody(["retry_context": ["collected_data": [1, 2]]]) },
      status: 400, type: "invalid_request", message: "retry_context.collected_data must be an object, not array"),
    Case(
      name: "retry_language not BCP 47", body: { $0.callBody(["retry_context": ["retry_language": "hindi please"]]) },
      status: 400, type: "invalid_request", message: "retry_context.retry_language must be a BCP 47 language tag"),
    Case(
      name: "retry_context too large",
      body: {
        $0.callBody(["retry_context": ["collected_data": ["blob": .string(String(repeating: "x", count: 70_000))]]])
      }, status: 400, type: "invalid_request", message: "retry_context must be at most 65536 bytes"),
    Case(
      name: "scheduled_for in the past", body: { $0.callBody(["scheduled_for": "2020-01-01T00:00:00Z"]) },
      status: 400, type: "invalid_request", message: "scheduled_for must be in the future"),
    Case(
      name: "scheduled_for beyond 30 days",
      body: { $0.callBody(["scheduled_for": .string(Date().addingTimeInterval(31 * 86400).formatted(.iso8601))]) },
      status: 400, type: "invalid_request", message: "scheduled_for must be within the next 30 days"),
    Case(
      name: "scheduled_for without offset", body: { $0.callBody(["scheduled_for": "2030-01-01T10:00:00"]) },
      status: 400, type: "invalid_request", message: "scheduled_for must be an ISO 8601 date-time with a UTC offset"),
    Case(
      name: "agent of nobody", body: { $0.callBody(["agent_id": 424_242]) }, status: 404, type: "not_found",
      message: "agent not found"),
    Case(
      name: "body not an object", body: { _ in [1, 2, 3] }, status: 400, type: "invalid_request",
      message: "request body must be a JSON object"),
    // PostgreSQL cannot store U+0000; these were 500s before the contract refused them.
    Case(
      name: "NUL in a parameter",
      body: {
        $0.callBody([
          "parameters": [["name": "customer_phone", "value": "+919876543210"], ["name": "x", "value": "a\u{0}"]]
        ])
      }, status: 400, type: "invalid_request", message: "parameters[1] must not contain NUL characters"),
    Case(
      name: "NUL in metadata", body: { $0.callBody(["metadata": "a\u{0}b"]) }, status: 400, type: "invalid_request",
      message: "metadata must not contain NUL characters"),
    Case(
      name: "NUL in the idempotency key", body: { $0.callBody(["idempotency_key": "k\u{0}"]) }, status: 400,
      type: "invalid_request", message: "idempotency_key must not contain NUL characters"),
    Case(
      name: "NUL in retry_context", body: { $0.callBody(["retry_context": ["collected_data": ["k\u{0}": 1]]]) },
      status: 400, type: "invalid_request", message: "retry_context must not contain NUL characters"),
  ]

  @Test("rejects bad input with the documented error and writes nothing", arguments: cases)
  func rejects(_ testCase: Case) async throws {
    let tenant = try await TestTenant.make()
    let result = try await GatewayClient.makeCall(tenant, testCase.body(tenant).withKey("k-\(testCase.name)"))
    #expect(result.status == testCase.status)
    #expect(result.errorType == testCase.type)
    #expect(result.errorMessage == testCase.message)
    #expect(try await tenant.count("call_attempts") == 0)
    #expect(try await tenant.count("idempotency_keys") == 0)
  }

  @Test("malformed JSON is a 400, not a 500")
  func malformedJSON() async throws {
    let tenant = try await TestTenant.make()
    for raw in ["{\"agent_id\": 7,", "", "not json", "{\"agent_id\": 7}}"] {
      let result = try await GatewayClient.send(
        .POST, "/v1/call", authorization: tenant.authorization, rawBody: Array(raw.utf8))
      #expect(result.status == 400, "\(raw)")
      #expect(result.errorType == "invalid_request")
    }
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test("JSON with a trailing comma is malformed, in a call and in an event")
  func trailingCommas() async throws {
    let tenant = try await TestTenant.make()
    let bodies = [
      #"{"agent_id": 7, "parameters": [{"name": "customer_phone", "value": "+919876543210"}],}"#,
      #"{"agent_id": 7, "parameters": [{"name": "customer_phone", "value": "+919876543210"},]}"#,
      #"{"agent_id": 7, "parameters": [{"name": "customer_phone", "value": "+919876543210",}]}"#,
    ]
    for raw in bodies {
      let result = try await GatewayClient.send(
        .POST, "/v1/call", authorization: tenant.authorization, rawBody: Array(raw.utf8))
      #expect(result.status == 400, "\(raw)")
      #expect(result.errorMessage == "request body must be valid JSON")
    }
    // A comma inside a string is no trailing comma.
    let fine =
      #"{"agent_id": 7, "metadata": ",}", "parameters": [{"name": "customer_phone", "value": "+919876543210"}]}"#
    #expect(
      try await GatewayClient.send(.POST, "/v1/call", authorization: tenant.authorization, rawBody: Array(fine.utf8))
        .status
        == 200)
    let trace = UUID().uuidString
    let event = try await GatewayClient.send(
      .POST, "/v1/calls/\(trace)/events", authorization: tenant.authorization,
      rawBody: Array(#"{"event_id": "e", "status": "ringing",}"#.utf8))
    #expect(event.status == 400)
    #expect(event.errorMessage == "request body must be valid JSON")
    #expect(try await tenant.count("call_attempts") == 1)
  }

  @Test("an empty limit, two Idempotency-Key headers, or a header that contradicts the body are 400s")
  func ambiguousInput() async throws {
    let tenant = try await TestTenant.make()
    let empty = try await GatewayClient.send(.GET, "/v1/conversations?limit=", authorization: tenant.authorization)
    #expect(empty.status == 400)
    #expect(empty.errorMessage == "limit must be an integer")

    let port = try await TestEnvironment.shared.get().httpPort
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/call")
    request.method = .POST
    request.headers.add(name: "Authorization", value: tenant.authorization)
    request.headers.add(name: "Idempotency-Key", value: "k1")
    request.headers.add(name: "Idempotency-Key", value: "k2")
    request.body = .bytes(ByteBuffer(string: tenant.callBody().encoded()))
    let twice = try await HTTPClient.tests.execute(request, timeout: .seconds(30))
    let twiceBody = try JSONValue.decode(String(buffer: try await twice.body.collect(upTo: 1 << 20)))
    #expect(twice.status.code == 400)
    #expect(twiceBody["error"]?["message"] == "Idempotency-Key header must be given once")

    let contradicting = try await GatewayClient.makeCall(
      tenant, tenant.callBody(["idempotency_key": "body-key"]), headers: ["Idempotency-Key": "header-key"])
    #expect(contradicting.status == 400)
    #expect(contradicting.errorMessage == "idempotency_key and the Idempotency-Key header differ")
    let emptyKey = try await GatewayClient.makeCall(tenant, tenant.callBody(), headers: ["Idempotency-Key": ""])
    #expect(emptyKey.status == 400)
    #expect(emptyKey.errorMessage == "Idempotency-Key header must not be empty")
    let agreeing = try await GatewayClient.makeCall(
      tenant, tenant.callBody(["idempotency_key": "same"]), headers: ["Idempotency-Key": "same"])
    #expect(agreeing.status == 200)
    #expect(try await tenant.count("call_attempts") == 1)
    #expect(try await tenant.count("idempotency_keys") == 1)
  }

  @Test("a known route asked with another method is a 405 that says which are allowed")
  func methodNotAllowed() async throws {
    let tenant = try await TestTenant.make()
    let cases: [(HTTPMethod, String, String)] = [
      (.PUT, "/v1/call", "POST"), (.OPTIONS, "/v1/call", "POST"), (.TRACE, "/v1/call", "POST"),
      (.PUT, "/v1/calls/\(UUID().uuidString)", "GET, DELETE"), (.POST, "/v1/conversations", "GET"),
      (.DELETE, "/healthz", "GET"),
    ]
    for (method, path, allowed) in cases {
      let result = try await GatewayClient.send(method, path, authorization: tenant.authorization)
      #expect(result.status == 405, "\(method) \(path)")
      #expect(result.headers["allow"] == allowed, "\(method) \(path)")
      #expect(result.errorType == "invalid_request")
    }
    #expect(try await GatewayClient.send(.GET, "/v1/nothing", authorization: tenant.authorization).status == 404)
  }

  @Test("a body over 256 KiB is a 413")
  func bodyTooLarge() async throws {
    let tenant = try await TestTenant.make()
    let body = tenant.callBody(["metadata": .string(String(repeating: "m", count: 300_000))])
    let result = try await GatewayClient.makeCall(tenant, body)
    #expect(result.status == 413)
    #expect(result.errorType == "invalid_request")
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test(
    "missing, malformed, unknown and revoked keys are a 401", arguments: ["none", "malformed", "unknown", "revoked"])
  func authentication(_ variant: String) async throws {
    let tenant = try await TestTenant.make()
    var authorization: String?
    switch variant {
    case "malformed": authorization = "Bearer nope"
    case "unknown": authorization = "Bearer " + APIKey.generate()
    case "revoked":
      try await tenant.revokeKey()
      authorization = tenant.authorization
    default: authorization = nil
    }
    let result = try await GatewayClient.send(.POST, "/v1/call", authorization: authorization, body: tenant.callBody())
    #expect(result.status == 401)
    #expect(result.errorType == "authentication_error")
    #expect(result.errorMessage == "invalid API key")
    let read = try await GatewayClient.send(.GET, "/v1/conversations", authorization: authorization)
    #expect(read.status == 401)
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test("an agent without a phone number cannot call")
  func agentWithoutPhone() async throws {
    let tenant = try await TestTenant.make(agentPhone: nil)
    let result = try await GatewayClient.makeCall(tenant, tenant.callBody())
    #expect(result.status == 400)
    #expect(result.errorType == "invalid_request")
    #expect(result.errorMessage == "agent has no phone number configured")
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test("unknown routes answer in the envelope")
  func unknownRoute() async throws {
    let tenant = try await TestTenant.make()
    let result = try await GatewayClient.send(.GET, "/v1/nothing", authorization: tenant.authorization)
    #expect(result.status == 404)
    #expect(result.errorType == "not_found")
  }
}

extension JSONValue {
  /// The body with an idempotency key, to show a rejected request leaves no key behind.
  func withKey(_ key: String) -> JSONValue {
    guard var members = objectValue else { return self }
    members["idempotency_key"] = members["idempotency_key"] ?? .string(key)
    return .object(members)
  }
}
