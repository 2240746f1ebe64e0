import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardTestSupport
import Synchronization
import Testing

/// The same contract over gRPC: canonical codes, the same messages, the type in an ErrorInfo
/// detail and in trailing metadata.
@Suite("gRPC CallService")
struct GRPCTests {
  struct Case: Sendable, CustomTestStringConvertible {
    let name: String
    let change: @Sendable (inout Switchboard_V1_MakeCallRequest) -> Void
    let code: RPCError.Code
    let type: String
    let message: String
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(
      name: "missing agent_id", change: { $0.agentID = 0 }, code: .invalidArgument, type: "invalid_request",
      message: "agent_id is required"),
    Case(
      name: "negative agent_id", change: { $0.agentID = -3 }, code: .invalidArgument, type: "invalid_request",
      message: "agent_id must be a positive integer"),
    Case(
      name: "missing parameters", change: { $0.parameters = [] }, code: .invalidArgument, type: "invalid_request",
      message: "parameters is required"),
    Case(
      name: "no customer_phone", change: { $0.parameters[0].name = "phone" }, code: .invalidArgument,
      type: "invalid_request", message: "customer_phone parameter is required"),
    Case(
      name: "customer_phone not E.164", change: { $0.parameters[0].value = "0044 20 7946" }, code: .invalidArgument,
      type: "invalid_request", message: "customer_phone must be an E.164 phone number"),
    Case(
      name: "unknown agent", change: { $0.agentID = 5_000_000 }, code: .notFound, type: "not_found",
      message: "agent not found"),
    Case(
      name: "unknown conversation", change: { $0.conversationID = UUID().uuidString }, code: .notFound,
      type: "not_found", message: "conversation not found"),
    Case(
      name: "scheduled in the past",
      change: { $0.scheduledFor = Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: 0)) },
      code: .invalidArgument, type: "invalid_request", message: "scheduled_for must be in the future"),
    Case(
      name: "scheduled too far ahead",
      change: { $0.scheduledFor = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(40 * 86400)) },
      code: .invalidArgument, type: "invalid_request", message: "scheduled_for must be within the next 30 days"),
    Case(
      name: "bad retry_language", change: { $0.retryContext.retryLanguage = "??" }, code: .invalidArgument,
      type: "invalid_request", message: "retry_context.retry_language must be a BCP 47 language tag"),
  ]

  @Test("rejects bad input with the documented status and writes nothing", arguments: cases)
  func rejects(_ testCase: Case) async throws {
    let tenant = try await TestTenant.make()
    var request = tenant.makeCallRequest()
    request.idempotencyKey = "k"
    testCase.change(&request)
    let error = try await withCallService { service in
      await #expect(throws: RPCError.self) { try await service.makeCall(request, metadata: tenant.metadata) }
    }
    let rpcError = try #require(error)
    #expect(rpcError.code == testCase.code)
    #expect(rpcError.message == testCase.message)
    #expect(rpcError.metadata[stringValues: "switchboard-error-type"].first { _ in true } == testCase.type)
    let status = try #require(try rpcError.unpackGoogleRPCStatus())
    #expect(status.details.first?.errorInfo?.reason == testCase.type.uppercased())
    #expect(try await tenant.count("call_attempts") == 0)
    #expect(try await tenant.count("idempotency_keys") == 0)
  }

  @Test("an accepted call answers with the receipt; a reused key is ALREADY_EXISTS with the original")
  func acceptAndDuplicate() async throws {
    let tenant = try await TestTenant.make()
    var request = tenant.makeCallRequest()
    request.retryContext.collectedData = Google_Protobuf_Struct(["visits": 2, "name": "Asha"])
    request.metadata = "crm:42"
    var metadata = tenant.metadata
    metadata.addString("order-9", forKey: "idempotency-key")
    let receipt = try await withCallService { try await $0.makeCall(request, metadata: metadata).data }
    #expect(receipt.status == "initiated")
    #expect(receipt.attemptNumber == 1)
    #expect(receipt.agentID == tenant.agentID)
    #expect(!receipt.hasScheduledFor)

    let duplicate = try await withCallService { service in
      await #expect(throws: RPCError.self) { try await service.makeCall(request, metadata: metadata) }
    }
    #expect(duplicate?.code == .alreadyExists)
    #expect(duplicate?.message == "idempotency key already used")
    let info = try #require(try duplicate?.unpackGoogleRPCStatus()?.details.first?.errorInfo)
    #expect(info.metadata["trace_id"] == receipt.traceID)

    let stored = try await withCallService { service in
      var get = Switchboard_V1_GetCallRequest()
      get.traceID = receipt.traceID
      return try await service.getCall(get, metadata: tenant.metadata).data
    }
    #expect(stored.status == .initiated)
    #expect(stored.metadata == "crm:42")
    #expect(stored.idempotencyKey == "order-9")
    #expect(stored.retryContext.collectedData == Google_Protobuf_Struct(["visits": 2, "name": "Asha"]))
    #expect(stored.effectiveRetryContext.collectedData == Google_Protobuf_Struct(["visits": 2, "name": "Asha"]))
  }

  @Test("reads, appends and cancels over gRPC, with <id>_<n> references")
  func chainOverGRPC() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { service in
      let first = try await service.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata).data
      var append = tenant.makeCallRequest()
      append.conversationID = "\(first.conversationID)_1"
      append.scheduledFor = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(3600))
      let second = try await service.makeCall(append, metadata: tenant.metadata).data
      #expect(second.conversationID == first.conversationID)
      #expect(second.attemptNumber == 2)
      #expect(second.status == "scheduled")

      var get = Switchboard_V1_GetConversationRequest()
      get.conversationID = "\(first.conversationID)_2"
      let chain = try await service.getConversation(get, metadata: tenant.metadata).data
      #expect(chain.attemptCount == 2)
      #expect(chain.attempts.map(\.attemptNumber) == [1, 2])
      #expect(chain.latestStatus == .scheduled)

      var list = Switchboard_V1_ListConversationsRequest()
      list.limit = 10
      list.includeTotal = true
      let page = try await service.listConversations(list, metadata: tenant.metadata)
      #expect(page.total == 1)
      #expect(page.data.first?.conversationID == first.conversationID)

      var cancel = Switchboard_V1_CancelCallRequest()
      cancel.traceID = second.traceID
      #expect(try await service.cancelCall(cancel, metadata: tenant.metadata).data.status == .canceled)
      var getCall = Switchboard_V1_GetCallRequest()
      getCall.traceID = UUID().uuidString
      let missing = await #expect(throws: RPCError.self) {
        try await service.getCall(getCall, metadata: tenant.metadata)
      }
      #expect(missing?.code == .notFound)
    }
  }

  @Test("limits answer RESOURCE_EXHAUSTED with a retry delay")
  func limits() async throws {
    let tenant = try await TestTenant.make(numberRateLimit: 1)
    try await withCallService { service in
      _ = try await service.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata)
      let limited = await #expect(throws: RPCError.self) {
        try await service.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata)
      }
      #expect(limited?.code == .resourceExhausted)
      #expect(limited?.message == "rate limit exceeded for this number")
      let details = try #require(try limited?.unpackGoogleRPCStatus()?.details)
      #expect(details.first?.errorInfo?.reason == "RATE_LIMIT_EXCEEDED")
      let delay = try #require(details.compactMap(\.retryInfo).first?.delay)
      #expect(delay > .seconds(3500) && delay <= .seconds(3600))
    }
    let busy = try await TestTenant.make(maxConcurrentCalls: 1)
    try await withCallService { service in
      _ = try await service.makeCall(busy.makeCallRequest(phone: "+919811111111"), metadata: busy.metadata)
      let limited = await #expect(throws: RPCError.self) {
        try await service.makeCall(busy.makeCallRequest(phone: "+919822222222"), metadata: busy.metadata)
      }
      #expect(limited?.code == .resourceExhausted)
      #expect(limited?.message == "concurrent call limit reached. 1 simultaneous calls allowed.")
      let info = try #require(try limited?.unpackGoogleRPCStatus()?.details.first?.errorInfo)
      #expect(info.reason == "CONCURRENT_CALL_LIMIT_EXCEEDED")
      #expect(info.metadata["current_calls"] == "1")
      #expect(info.metadata["max_calls"] == "1")
    }
  }

  @Test("missing and revoked keys are UNAUTHENTICATED")
  func authentication() async throws {
    let tenant = try await TestTenant.make()
    try await tenant.revokeKey()
    try await withCallService { service in
      for metadata in [Metadata(), tenant.metadata] {
        let error = await #expect(throws: RPCError.self) {
          try await service.makeCall(tenant.makeCallRequest(), metadata: metadata)
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message == "invalid API key")
      }
    }
  }

  @Test("two authorization values are UNAUTHENTICATED, as on HTTP")
  func twoAuthorizations() async throws {
    let tenant = try await TestTenant.make()
    let other = try await TestTenant.make()
    var metadata = tenant.metadata
    metadata.addString(other.authorization, forKey: "authorization")
    try await withCallService { service in
      let error = await #expect(throws: RPCError.self) {
        try await service.makeCall(tenant.makeCallRequest(), metadata: metadata)
      }
      #expect(error?.code == .unauthenticated)
      #expect(error?.message == "invalid API key")
    }
    #expect(try await tenant.count("call_attempts") == 0)
    #expect(try await other.count("call_attempts") == 0)
  }

  @Test("idempotency-key metadata follows the HTTP header's rules: once, not empty, as the body's")
  func idempotencyMetadata() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { service in
      for (values, body, message) in [
        (["k1", "k2"], "", "Idempotency-Key header must be given once"),
        ([""], "", "Idempotency-Key header must not be empty"),
        (["header-key"], "body-key", "idempotency_key and the Idempotency-Key header differ"),
      ] {
        var metadata = tenant.metadata
        for value in values { metadata.addString(value, forKey: "idempotency-key") }
        var request = tenant.makeCallRequest()
        request.idempotencyKey = body
        let error = await #expect(throws: RPCError.self) { try await service.makeCall(request, metadata: metadata) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == message)
      }
      var metadata = tenant.metadata
      metadata.addString("grpc-header-key", forKey: "idempotency-key")
      _ = try await service.makeCall(tenant.makeCallRequest(), metadata: metadata)
    }
    #expect(try await tenant.count("call_attempts", where: "idempotency_key = 'grpc-header-key'") == 1)
    #expect(try await tenant.count("call_attempts") == 1)
  }

  @Test("a malformed protobuf is INVALID_ARGUMENT and writes nothing")
  func malformedProtobuf() async throws {
    let tenant = try await TestTenant.make()
    let environment = try await TestEnvironment.shared.get()
    let code = try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: environment.grpcPort), transportSecurity: .plaintext)
    ) { client in
      // Field 2 (parameters) claims 200 bytes and ends after 3.
      let garbage: [UInt8] = [0x08, 0x07, 0x12, 0xC8, 0x01, 0x0A, 0x01, 0x41]
      return try await client.unary(
        request: ClientRequest(message: garbage, metadata: tenant.metadata),
        descriptor: Switchboard_V1_CallService.Method.MakeCall.descriptor, serializer: RawBytes(),
        deserializer: ProtobufDeserializer<Switchboard_V1_MakeCallResponse>(), options: .defaults
      ) { response in
        switch response.accepted {
        case .success: return RPCError.Code?.none
        case .failure(let error): return error.code
        }
      }
    }
    #expect(code == .invalidArgument)
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test("a message over 256 KiB is RESOURCE_EXHAUSTED with a message, and the connection lives on")
  func oversizedMessage() async throws {
    let tenant = try await TestTenant.make()
    let environment = try await TestEnvironment.shared.get()
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: environment.grpcPort), transportSecurity: .plaintext)
    ) { client in
      let error = await #expect(throws: RPCError.self) {
        try await client.unary(
          request: ClientRequest(message: [UInt8](repeating: 0x41, count: 300 * 1024), metadata: tenant.metadata),
          descriptor: Switchboard_V1_CallService.Method.MakeCall.descriptor, serializer: RawBytes(),
          deserializer: ProtobufDeserializer<Switchboard_V1_MakeCallResponse>(), options: .defaults
        ) { try $0.message }
      }
      #expect(error?.code == .resourceExhausted)
      #expect(error?.message == "request message must be at most 262144 bytes (it declares 307200)")
      let service = Switchboard_V1_CallService.Client(wrapping: client)
      let receipt = try await service.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata)
      #expect(!receipt.data.traceID.isEmpty, "the same connection still serves calls")
    }
    #expect(try await tenant.count("call_attempts") == 1)
  }

  @Test("a 4 GiB length prefix is RESOURCE_EXHAUSTED at once, not a reset stream")
  func hugeLengthPrefix() async throws {
    let environment = try await TestEnvironment.shared.get()
    let trailers = try await RawHTTP2.unary(
      port: environment.grpcPort, path: "/switchboard.v1.CallService/MakeCall",
      body: [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x01])
    #expect(trailers["grpc-status"] == "8")
    #expect(trailers["grpc-message"] == "request message must be at most 262144 bytes (it declares 4294967295)")
  }

  @Test("grpc.health.v1 reports SERVING")
  func health() async throws {
    let environment = try await TestEnvironment.shared.get()
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: environment.grpcPort), transportSecurity: .plaintext)
    ) { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      for service in ["", "switchboard.v1.CallService"] {
        var request = Grpc_Health_V1_HealthCheckRequest()
        request.service = service
        let status = try await health.check(request).status
        #expect(status == .serving)
      }
      var unknown = Grpc_Health_V1_HealthCheckRequest()
      unknown.service = "nope.v1.Nothing"
      let error = await #expect(throws: RPCError.self) { try await health.check(unknown) }
      #expect(error?.code == .notFound)
    }
  }
}

/// Sends bytes as they are, to test what the server does with a malformed message.
struct RawBytes: MessageSerializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

extension Google_Protobuf_Struct {
  init(_ members: [String: Google_Protobuf_Value]) {
    self.init()
    fields = members
  }
}

@Suite("gRPC events and watching")
struct GRPCEventTests {
  @Test("ReportCallEvent moves the attempt; WatchConversation streams the changes")
  func reportAndWatch() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { service in
      let receipt = try await service.makeCall(tenant.makeCallRequest(), metadata: tenant.metadata).data
      var watch = Switchboard_V1_WatchConversationRequest()
      watch.conversationID = receipt.conversationID
      let request = watch
      let seen = Mutex<[Switchboard_V1_CallStatus]>([])
      async let watched: [Switchboard_V1_CallStatus] = service.watchConversation(request, metadata: tenant.metadata) {
        response in
        for try await update in response.messages {
          seen.withLock { $0.append(update.attempt.status) }
          if update.attempt.status == .completed { break }
        }
        return seen.withLock { $0 }
      }
      var previous = Switchboard_V1_CallStatus.initiated
      for (index, status) in [Switchboard_V1_CallStatus.ringing, .inProgress, .completed].enumerated() {
        // Each report after the watcher has the state before it, so it sees every one.
        #expect(try await eventually { seen.withLock { $0.contains(previous) } }, "the watcher saw \(previous)")
        previous = status
        var event = Switchboard_V1_ReportCallEventRequest()
        event.traceID = receipt.traceID
        event.eventID = "grpc-\(index)"
        event.status = status
        if status == .completed { event.collectedData = Google_Protobuf_Struct(["agreed": true]) }
        let answer = try await service.reportCallEvent(event, metadata: tenant.metadata)
        #expect(answer.data.status == status)
        #expect(!answer.duplicate)
      }
      let statuses = try await watched
      #expect(statuses.first == .initiated)
      #expect(statuses.last == .completed)
      #expect(statuses == statuses.sorted { $0.rawValue < $1.rawValue }, "only forward")

      var replay = Switchboard_V1_ReportCallEventRequest()
      replay.traceID = receipt.traceID
      replay.eventID = "grpc-2"
      replay.status = .completed
      #expect(try await service.reportCallEvent(replay, metadata: tenant.metadata).duplicate)
      var backwards = replay
      backwards.eventID = "grpc-late"
      backwards.status = .ringing
      let ignored = try await service.reportCallEvent(backwards, metadata: tenant.metadata)
      #expect(ignored.data.status == .completed, "a finished attempt ignores later events")
    }
  }
}

extension OneAtATime {
  @Suite("gRPC fan-out on one connection")
  struct GRPCFanOutTests {
    @Test("500 concurrent calls and 500 watch streams on one connection all succeed")
    func manyStreams() async throws {
      let tenant = try await TestTenant.make()
      try await withCallService { service in
        let receipts = try await withThrowingTaskGroup(of: Switchboard_V1_CallReceipt.self) { group in
          for number in 0..<500 {
            group.addTask {
              try await service.makeCall(
                tenant.makeCallRequest(phone: "+1415700\(String(format: "%04d", number))"), metadata: tenant.metadata
              ).data
            }
          }
          return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(receipts.count == 500)
        #expect(try await tenant.count("call_attempts") == 500)

        // Every watch is open at once: each waits, after its first update, for all the others.
        let conversation = try #require(receipts.first?.conversationID)
        let open = OpenStreams()
        let watched = try await withThrowingTaskGroup(of: Bool.self) { group in
          for _ in 0..<500 {
            group.addTask {
              var watch = Switchboard_V1_WatchConversationRequest()
              watch.conversationID = conversation
              return try await service.watchConversation(watch, metadata: tenant.metadata) { response in
                for try await update in response.messages {
                  open.count.withLock { $0 += 1 }
                  // Bounded: a stream limit below 500 would leave the rest queued behind these.
                  let giveUp = ContinuousClock.now + .seconds(20)
                  while open.count.withLock({ $0 }) < 500 && ContinuousClock.now < giveUp {
                    try await Task.sleep(for: .milliseconds(20))
                  }
                  return update.attempt.conversationID == conversation && open.count.withLock { $0 } >= 500
                }
                return false
              }
            }
          }
          return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(watched == 500)
      }
    }
  }
}

/// How many watch streams have received their first update.
final class OpenStreams: Sendable {
  let count = Mutex(0)
}

/// One request on a raw HTTP/2 stream, to send what no gRPC client would (a false length prefix).
enum RawHTTP2 {
  /// Sends `body` on a new stream without ending it, and returns the headers of the frame that
  /// ends the response.
  static func unary(port: Int, path: String, body: [UInt8]) async throws -> [String: String] {
    let multiplexer = try await ClientBootstrap(group: .singletonMultiThreadedEventLoopGroup)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.configureAsyncHTTP2Pipeline(mode: .client) { $0.eventLoop.makeSucceededFuture(()) }
      }
    let stream = try await multiplexer.openStream { channel in
      channel.eventLoop.makeCompletedFuture {
        try NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>(wrappingChannelSynchronously: channel)
      }
    }
    return try await stream.executeThenClose { inbound, outbound in
      let headers: HPACKHeaders = [
        ":method": "POST", ":scheme": "http", ":path": path, ":authority": "localhost",
        "content-type": "application/grpc", "te": "trailers",
      ]
      try await outbound.write(.headers(.init(headers: headers)))
      try await outbound.write(.data(.init(data: .byteBuffer(ByteBuffer(bytes: body)))))
      for try await frame in inbound {
        switch frame {
        case .headers(let headers) where headers.endStream:
          return Dictionary(headers.headers.map { ($0.name, $0.value) }) { first, _ in first }
        case .rstStream(let code):
          throw TestFailure("stream reset: \(code)")
        default:
          continue
        }
      }
      throw TestFailure("the stream ended without trailers")
    }
  }
}
