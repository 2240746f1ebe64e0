import Foundation
import GRPCCore
import GRPCInProcessTransport
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardGRPC

/// CallService's status mapping, in process (grpc-swift's in-process transport, no socket), over a
/// store that answers from a fixed script.
@Suite("gRPC CallService in process")
struct CallServiceInProcessTests {
  func withService<T: Sendable>(
    _ body: (Switchboard_V1_CallService.Client<InProcessTransport.Client>) async throws -> T
  ) async throws -> T {
    let transport = InProcessTransport()
    let service = CallService(operations: CallOperations(store: ScriptedStore()))
    return try await withGRPCServer(
      transport: transport.server, services: [service],
      interceptors: [MetricsInterceptor(), ErrorInterceptor(logger: .init(label: "tests"))]
    ) { _ in
      try await withGRPCClient(transport: transport.client) { client in
        try await body(Switchboard_V1_CallService.Client(wrapping: client))
      }
    }
  }

  var metadata: Metadata { ["authorization": "Bearer \(ScriptedStore.key)"] }

  func status(_ call: () async throws -> Void) async -> RPCError? {
    do {
      try await call()
      return nil
    } catch {
      return error as? RPCError
    }
  }

  @Test("an unexpected failure is INTERNAL `internal error`, its cause kept out")
  func unexpected() async throws {
    try await withService { client in
      var request = Switchboard_V1_GetCallRequest()
      request.traceID = ScriptedStore.explodingTrace.uuidString
      let error = await status { _ = try await client.getCall(request, metadata: metadata) }
      #expect(error?.code == .internalError)
      #expect(error?.message == "internal error")
      #expect(error?.metadata[stringValues: "switchboard-error-type"].first { _ in true } == "internal_error")
    }
  }

  @Test("unreachable is UNAVAILABLE; unknown call NOT_FOUND; bad key UNAUTHENTICATED; a limit RESOURCE_EXHAUSTED")
  func mapped() async throws {
    try await withService { client in
      var request = Switchboard_V1_GetCallRequest()
      request.traceID = ScriptedStore.unreachableTrace.uuidString
      #expect(await status { _ = try await client.getCall(request, metadata: metadata) }?.code == .unavailable)
      request.traceID = UUID().uuidString
      #expect(await status { _ = try await client.getCall(request, metadata: metadata) }?.code == .notFound)
      #expect(
        await status { _ = try await client.getCall(request, metadata: ["authorization": "Bearer sk_x"]) }?.code
          == .unauthenticated)
      var call = Switchboard_V1_MakeCallRequest()
      call.agentID = 7
      var phone = Switchboard_V1_Parameter()
      phone.name = "customer_phone"
      phone.value = "+919876543210"
      call.parameters = [phone]
      let limited = await status { _ = try await client.makeCall(call, metadata: metadata) }
      #expect(limited?.code == .resourceExhausted)
      #expect(limited?.message == "concurrent call limit reached. 3 simultaneous calls allowed.")
    }
  }
}
