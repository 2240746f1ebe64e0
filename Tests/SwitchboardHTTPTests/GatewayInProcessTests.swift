import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardHTTP

/// The gateway's routes and error envelope, in process (Hummingbird's test client, no socket), over
/// a store that answers from a fixed script. What needs PostgreSQL is tested in SwitchboardServerTests.
@Suite("JSON gateway in process")
struct GatewayInProcessTests {
  let gateway = Gateway(operations: CallOperations(store: ScriptedStore()))

  func send(
    _ method: HTTPRequest.Method, _ uri: String, body: String? = nil, key: String = ScriptedStore.key
  ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: JSONValue) {
    let app = Application(router: gateway.router())
    return try await app.test(.router) { client in
      try await client.execute(
        uri: uri, method: method, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
        body: body.map { ByteBuffer(string: $0) }
      ) { response in
        (response.status, response.headers, try JSONValue.decode(String(buffer: response.body)))
      }
    }
  }

  @Test("a failure no one expected is a 500 internal_error that does not repeat its cause")
  func unexpected() async throws {
    let answer = try await send(.get, "/v1/calls/\(ScriptedStore.explodingTrace)")
    #expect(answer.status == .internalServerError)
    #expect(answer.body == ["error": ["message": "internal error", "type": "internal_error"]])
  }

  @Test("an unreachable database is a 503 with Retry-After")
  func unavailable() async throws {
    let answer = try await send(.get, "/v1/calls/\(ScriptedStore.unreachableTrace)")
    #expect(answer.status == .serviceUnavailable)
    #expect(answer.headers[HTTPField.Name("Retry-After")!] == "1")
    #expect(answer.body["error"]?["type"] == "service_unavailable")
  }

  @Test("not found, bad key, bad body, no route, wrong method: each in the envelope")
  func envelope() async throws {
    let cases: [(HTTPRequest.Method, String, String?, String, HTTPResponse.Status, String)] = [
      (.get, "/v1/calls/\(UUID())", nil, ScriptedStore.key, .notFound, "call not found"),
      (.get, "/v1/calls/\(UUID())", nil, "sk_unknown", .unauthorized, "invalid API key"),
      (.post, "/v1/call", "{", ScriptedStore.key, .badRequest, "request body must be valid JSON"),
      (.get, "/v1/nowhere", nil, ScriptedStore.key, .notFound, "no such route: GET /v1/nowhere"),
      (.put, "/v1/call", nil, ScriptedStore.key, .methodNotAllowed, "method PUT not allowed on /v1/call"),
    ]
    for (method, uri, body, key, status, message) in cases {
      let answer = try await send(method, uri, body: body, key: key)
      #expect(answer.status == status, "\(method) \(uri)")
      #expect(answer.body["error"]?["message"]?.stringValue == message, "\(method) \(uri)")
    }
  }

  @Test("a limit refusal carries its headers and members")
  func limited() async throws {
    let body = #"{"agent_id": 7, "parameters": [{"name": "customer_phone", "value": "+919876543210"}]}"#
    let answer = try await send(.post, "/v1/call", body: body)
    #expect(answer.status == .tooManyRequests)
    #expect(answer.body["error"]?["current_calls"] == 3)
    #expect(answer.body["error"]?["max_calls"] == 3)
  }
}
