import Foundation
import GRPCCore
import PropertyBased
import SwiftProtobuf
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardTestSupport
import Testing

/// Issue #20, findings 1, 2 and 6: extreme values (±10^13 s, Int64 and Int32 bounds, NaN,
/// infinities, 1e308) in every numeric and time field of every request, on both transports,
/// against the shared server: never a crash, never a 5xx, and a refusal names its field. A
/// replica that trapped (as `created_after = 10^13 s` did) would fail every later request here.
@Suite("Extreme values on both transports")
struct ExtremeValueTests {
  static let seconds: [Int64] = [
    10_000_000_000_000, -10_000_000_000_000, .max / 1_000_000_000, .min / 1_000_000_000, 0,
  ]
  static let nanos: [Int32] = [0, 999_999_999, -1, .max, .min]
  static let longs: [Int64] = [.max, .min, 0, -1, 1 << 53]
  static let ints: [Int32] = [.max, .min, 0, -1]
  static let doubles: [Double] = [.nan, .infinity, -.infinity, 1e308, -1e308, 1e200, .leastNonzeroMagnitude, -0.0]

  static func timestamp(_ seconds: Int64, _ nanos: Int32) -> Google_Protobuf_Timestamp {
    var timestamp = Google_Protobuf_Timestamp()
    timestamp.seconds = seconds
    timestamp.nanos = nanos
    return timestamp
  }

  /// The answer is a status the caller can act on: never INTERNAL, UNKNOWN or UNAVAILABLE (the
  /// database answers here), and a refusal of `field` names it.
  static func check(_ field: String?, _ call: () async throws -> Void) async {
    do {
      try await call()
    } catch let error as RPCError {
      #expect(![.internalError, .unknown, .unavailable, .cancelled].contains(error.code), "\(field ?? ""): \(error)")
      if let field, error.code == .invalidArgument {
        #expect(error.message.contains(field), "\(field): \(error.message)")
      }
    } catch {
      Issue.record("\(field ?? ""): \(error)")
    }
  }

  @Test("gRPC: ListConversations times, ids, limits and offsets")
  func listConversations() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { client in
      await propertyCheck(
        count: 80, input: Gen.element(of: Self.seconds), Gen.element(of: Self.nanos), Gen.element(of: Self.longs),
        Gen.element(of: Self.ints), Gen.element(of: [true, false])
      ) { seconds, nanos, long, int, after in
        var request = Switchboard_V1_ListConversationsRequest()
        if after == true {
          request.createdAfter = Self.timestamp(seconds ?? 0, nanos ?? 0)
        } else {
          request.createdBefore = Self.timestamp(seconds ?? 0, nanos ?? 0)
        }
        request.agentID = long ?? 0
        request.batchID = long ?? 0
        request.limit = int ?? 0
        request.offset = int ?? 0
        await Self.check(nil) { _ = try await client.listConversations(request, metadata: tenant.metadata) }
      }
      // The time alone, out of range: a refusal that names it.
      for field in ["created_after", "created_before"] {
        for seconds in [Int64(10_000_000_000_000), -10_000_000_000_000] {
          var request = Switchboard_V1_ListConversationsRequest()
          if field == "created_after" {
            request.createdAfter = Self.timestamp(seconds, 0)
          } else {
            request.createdBefore = Self.timestamp(seconds, 0)
          }
          await #expect(throws: RPCError.self) {
            _ = try await client.listConversations(request, metadata: tenant.metadata)
          }
          await Self.check(field) { _ = try await client.listConversations(request, metadata: tenant.metadata) }
        }
      }
      // The replica is alive.
      _ = try await client.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata)
    }
  }

  @Test("gRPC: MakeCall ids, schedule and retry context numbers")
  func makeCall() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { client in
      await propertyCheck(
        count: 60, input: Gen.element(of: Self.seconds), Gen.element(of: Self.nanos), Gen.element(of: Self.longs),
        Gen.element(of: Self.doubles)
      ) { seconds, nanos, long, number in
        var request = tenant.makeCallRequest()
        request.agentID = long ?? 0
        request.scheduledFor = Self.timestamp(seconds ?? 0, nanos ?? 0)
        var value = Google_Protobuf_Value()
        value.numberValue = number ?? 0
        request.retryContext.collectedData = Google_Protobuf_Struct(fields: ["n": value])
        await Self.check(nil) { _ = try await client.makeCall(request, metadata: tenant.metadata) }
      }
      for number in [Double.nan, .infinity, -.infinity] {
        var request = tenant.makeCallRequest()
        var value = Google_Protobuf_Value()
        value.numberValue = number
        request.retryContext.collectedData = Google_Protobuf_Struct(fields: ["n": value])
        await #expect(throws: RPCError.self) { _ = try await client.makeCall(request, metadata: tenant.metadata) }
        await Self.check("retry_context") { _ = try await client.makeCall(request, metadata: tenant.metadata) }
      }
      for seconds in [Int64(10_000_000_000_000), -10_000_000_000_000] {
        var request = tenant.makeCallRequest()
        request.scheduledFor = Self.timestamp(seconds, 0)
        await Self.check("scheduled_for") { _ = try await client.makeCall(request, metadata: tenant.metadata) }
      }
    }
    #expect(try await tenant.count("call_attempts") == 0, "nothing out of range was written")
  }

  @Test("gRPC: ReportCallEvent durations and collected numbers")
  func reportEvent() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { client in
      let receipt = try await client.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata)
      for (index, number) in Self.doubles.enumerated() {
        var request = Switchboard_V1_ReportCallEventRequest()
        request.traceID = receipt.data.traceID
        request.eventID = "extreme-\(index)"
        request.status = .inProgress
        request.durationSeconds = number
        let metadata = tenant.metadata
        let refused = !(0...RecordContract.maxDurationSeconds).contains(number)
        await Self.check(refused ? "duration_seconds" : nil) {
          _ = try await client.reportCallEvent(request, metadata: metadata)
        }
        var data = Switchboard_V1_ReportCallEventRequest()
        data.traceID = receipt.data.traceID
        data.eventID = "extreme-data-\(index)"
        data.status = .inProgress
        var value = Google_Protobuf_Value()
        value.numberValue = number
        data.collectedData = Google_Protobuf_Struct(fields: ["n": value])
        await Self.check(number.isFinite ? nil : "collected_data") {
          _ = try await client.reportCallEvent(data, metadata: metadata)
        }
      }
    }
    #expect(
      try await tenant.count("call_events", where: "duration_seconds > \(RecordContract.maxDurationSeconds)") == 0)
  }

  @Test("gRPC: batch ids, limits, offsets, schedule and concurrency")
  func batches() async throws {
    let tenant = try await TestTenant.make()
    try await withBatchService { client in
      for long in Self.longs {
        var request = Switchboard_V1_BatchRequest()
        request.batchID = long
        await Self.check(nil) { _ = try await client.getBatch(request, metadata: tenant.metadata) }
        await Self.check(nil) { _ = try await client.getBatchMetrics(request, metadata: tenant.metadata) }
        await Self.check(nil) { _ = try await client.cancelBatch(request, metadata: tenant.metadata) }
      }
      for int in Self.ints {
        var request = Switchboard_V1_ListBatchesRequest()
        request.limit = int
        request.offset = int
        request.agentID = Int64(int)
        await Self.check(nil) { _ = try await client.listBatches(request, metadata: tenant.metadata) }
      }
      for (seconds, int) in zip(Self.seconds, Self.ints + [0]) {
        var header = Switchboard_V1_BatchHeader()
        header.agentID = tenant.agentID
        header.name = "extreme"
        header.scheduledFor = Self.timestamp(seconds, 0)
        header.maxConcurrency = int
        var first = Switchboard_V1_CreateBatchRequest()
        first.header = header
        var recipient = Switchboard_V1_BatchRecipient()
        var phone = Switchboard_V1_Parameter()
        phone.name = "customer_phone"
        phone.value = "+14155550100"
        recipient.parameters = [phone]
        var rows = Switchboard_V1_CreateBatchRequest()
        rows.recipients.recipients = [recipient]
        let (opening, recipients) = (first, rows)
        await Self.check(nil) {
          _ = try await client.createBatch(metadata: tenant.metadata) { writer in
            try await writer.write(opening)
            try await writer.write(recipients)
          }
        }
      }
    }
  }

  @Test("HTTP: query and body numbers and times at their extremes")
  func gateway() async throws {
    let tenant = try await TestTenant.make()
    let call = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let trace = try #require(call.data?["trace_id"]?.stringValue)
    let huge = ["9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e308", "NaN", "-0"]
    for value in huge {
      for name in ["agent_id", "batch_id", "limit", "offset"] {
        for path in ["/v1/conversations", "/v1/batch-calls"] {
          let result = try await GatewayClient.send(
            .GET, "\(path)?\(name)=\(value)", authorization: tenant.authorization)
          #expect(result.status < 500, "\(path) \(name)=\(value)")
        }
      }
    }
    for time in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "99999-01-01T00:00:00Z"] {
      for name in ["created_after", "created_before"] {
        let result = try await GatewayClient.send(
          .GET, "/v1/conversations?\(name)=\(time)", authorization: tenant.authorization)
        #expect(result.status < 500, "\(name)=\(time)")
      }
    }
    let forged = Data("c1.9223372036854775807.0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b".utf8).base64EncodedString()
      .replacingOccurrences(of: "=", with: "")
    let cursor = try await GatewayClient.send(
      .GET, "/v1/conversations?cursor=\(forged)", authorization: tenant.authorization)
    #expect(cursor.status == 400 && cursor.errorMessage?.hasPrefix("cursor") == true)
    for number: JSONValue in [.double(1e308), .double(-1e308), .double(1e200), .integer(.max), .integer(.min)] {
      let event = try await GatewayClient.send(
        .POST, "/v1/calls/\(trace)/events", authorization: tenant.authorization,
        body: ["event_id": .string("x-\(number)"), "status": "in_progress", "duration_seconds": number])
      #expect(event.status < 500, "duration_seconds \(number)")
      if event.status == 400 { #expect(event.errorMessage?.hasPrefix("duration_seconds") == true) }
      let made = try await GatewayClient.makeCall(
        tenant, tenant.callBody(["agent_id": number, "retry_context": ["collected_data": ["n": number]]]))
      #expect(made.status < 500, "agent_id \(number)")
    }
    #expect(try await tenant.count("call_events", where: "duration_seconds > 604800") == 0)
  }
}
