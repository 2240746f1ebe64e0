import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PropertyBased
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// Thousands of random and mutated inputs to every decoder the gateway has (call bodies, event
/// bodies, query parameters, conversation references, timestamps), through the real server: never
/// a 5xx, and every refusal in the documented envelope.
@Suite("Decoders under random input")
struct DecoderFuzzTests {
  /// Valid inputs the mutations start from.
  static let callBodies = [
    #"{"agent_id": 7, "parameters": [{"name": "customer_phone", "value": "+919876543210"}]}"#,
    #"{"agent_id": 7, "idempotency_key": "k", "metadata": "m", "scheduled_for": "2026-12-24T10:00:00+05:30", "retry_context": {"collected_data": {"a": 1}, "retry_language": "hi-IN", "retry_stage_id": "s"}, "parameters": [{"name": "customer_phone", "value": "+14155550100"}, {"name": "n", "value": 12.5}]}"#,
    #"{"agent_id": 7, "conversation_id": "0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b_2", "parameters": [{"name": "customer_phone", "value": "+14155550100"}]}"#,
  ]
  static let eventBodies = [
    #"{"event_id": "e1", "status": "completed", "collected_data": {"k": "v"}, "stage_id": "s", "results": {"ok": true}, "duration_seconds": 12.5, "failure_reason": null}"#,
    #"{"event_id": "e2", "status": "ringing"}"#,
  ]
  static let queries = ["agent_id=7&limit=20&offset=0", "limit=100", "offset=5&agent_id=1"]
  static let references = ["0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b", "0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b_3"]
  /// Bytes a mutation inserts: JSON's own punctuation, digits, quotes, escapes, NUL, non-ASCII.
  static let interesting = Array("{}[]\",:\\ 0-9e+.nultrfa%&=_/\u{0}\u{7f}é€".utf8)

  /// `seed` with bytes deleted, replaced or inserted at `positions`.
  static func mutate(_ seed: String, positions: [Int], bytes: [UInt8], operations: [Int]) -> [UInt8] {
    var body = Array(seed.utf8)
    for (index, position) in positions.enumerated() {
      let at = body.isEmpty ? 0 : position % (body.count + 1)
      let byte = bytes[index % bytes.count]
      switch operations[index % operations.count] % 4 {
      case 0 where at < body.count: body.remove(at: at)
      case 1 where at < body.count: body[at] = byte
      case 2: body.insert(interesting[Int(byte) % interesting.count], at: at)
      default: body.insert(byte, at: at)
      }
    }
    return body
  }

  static let positions = Gen.int(in: 0...100_000).array(of: 1...6)
  static let bytes = Gen.uint8(in: 0...255).array(of: 6)
  static let operations = Gen.int(in: 0...3).array(of: 6)

  /// The answer is no 5xx, and a refusal is the envelope.
  static func check(_ result: HTTPResult, _ input: [UInt8]) {
    #expect(result.status < 500, "\(String(decoding: input, as: UTF8.self))")
    if result.status >= 400 {
      #expect(result.error?["message"]?.stringValue?.isEmpty == false, "\(String(decoding: input, as: UTF8.self))")
      #expect(result.errorType != nil, "\(String(decoding: input, as: UTF8.self))")
    }
  }

  /// POSTs 1,500 mutations of `seeds` to `path` and checks each answer.
  static func postMutations(of seeds: [String], to path: String, tenant: TestTenant) async {
    await propertyCheck(count: 1500, input: Gen.element(of: seeds), positions, bytes, operations) {
      seed, positions, bytes, operations in
      let body = mutate(seed ?? "", positions: positions, bytes: bytes, operations: operations)
      guard let result = try? await GatewayClient.send(.POST, path, authorization: tenant.authorization, rawBody: body)
      else {
        Issue.record("no answer for \(String(decoding: body, as: UTF8.self))")
        return
      }
      check(result, body)
    }
  }

  @Test("mutated call bodies")
  func callBodies() async throws {
    let tenant = try await TestTenant.make()
    await Self.postMutations(of: Self.callBodies, to: "/v1/call", tenant: tenant)
  }

  @Test("mutated event bodies")
  func eventBodies() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    await Self.postMutations(of: Self.eventBodies, to: "/v1/calls/\(trace)/events", tenant: tenant)
  }

  @Test("mutated query strings and conversation references")
  func queriesAndReferences() async throws {
    let tenant = try await TestTenant.make()
    let safe = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))
    await propertyCheck(
      count: 1500, input: Gen.element(of: Self.queries + Self.references), Self.positions, Self.bytes,
      Self.operations
    ) { seed, positions, bytes, operations in
      let mutated = String(
        decoding: Self.mutate(seed ?? "", positions: positions, bytes: bytes, operations: operations), as: UTF8.self)
      let encoded = mutated.addingPercentEncoding(withAllowedCharacters: safe) ?? ""
      let path =
        (seed ?? "").contains("=")
        ? "/v1/conversations?\(mutated.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "")"
        : "/v1/conversations/\(encoded)"
      guard let result = try? await GatewayClient.send(.GET, path, authorization: tenant.authorization) else {
        Issue.record("no answer for \(path)")
        return
      }
      Self.check(result, Array(path.utf8))
    }
  }

  @Test("random timestamps: parsed only when every field is in range")
  func timestamps() async {
    let digits = Gen.int(in: 0...99)
    await propertyCheck(
      count: 5000, input: digits.array(of: 7),
      Gen.element(of: ["Z", "+05:30", "-12:00", "+14:00", "+18:30", "+24:00", ""])
    ) {
      fields, zone in
      let text = String(
        format: "20%02d-%02d-%02dT%02d:%02d:%02d%@", fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
        zone ?? "")
      let valid =
        (1...12).contains(fields[1]) && fields[2] >= 1 && fields[3] < 24 && fields[4] < 60 && fields[5] < 60
        && ["Z", "+05:30", "-12:00", "+14:00"].contains(zone ?? "")
        && fields[2]
          <= Calendar(identifier: .gregorian).range(
            of: .day, in: .month,
            for: DateComponents(
              calendar: Calendar(identifier: .gregorian), year: 2000 + fields[0], month: max(1, min(12, fields[1]))
            ).date!)!.count
      #expect((Timestamp.parse(text) != nil) == valid, "\(text)")
    }
  }
}
