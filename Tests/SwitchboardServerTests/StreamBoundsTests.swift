import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardHTTP
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// Issue #20, findings 4 and 9: a request stream is bounded in bytes and in time, and an
/// over-limit message is always RESOURCE_EXHAUSTED, never a reset.
extension OneAtATime {
  @Suite("gRPC request streams are bounded")
  struct StreamBoundsTests {
    static func header(agentID: Int64) -> Switchboard_V1_CreateBatchRequest {
      var header = Switchboard_V1_BatchHeader()
      header.agentID = agentID
      header.name = "bounded"
      var message = Switchboard_V1_CreateBatchRequest()
      message.header = header
      return message
    }

    /// One recipient with `parameters` parameters of `size` characters: a message of about
    /// `parameters * size` bytes.
    static func recipients(parameters: Int, size: Int) -> Switchboard_V1_CreateBatchRequest {
      var recipient = Switchboard_V1_BatchRecipient()
      var phone = Switchboard_V1_Parameter()
      phone.name = "customer_phone"
      phone.value = "+14155550100"
      recipient.parameters = [phone]
      for index in 0..<parameters {
        var parameter = Switchboard_V1_Parameter()
        parameter.name = "p\(index)"
        parameter.value = String(repeating: "x", count: size)
        recipient.parameters.append(parameter)
      }
      var message = Switchboard_V1_CreateBatchRequest()
      message.recipients.recipients = [recipient]
      return message
    }

    @Test("a message over 256 KiB answers RESOURCE_EXHAUSTED every time, and the connection lives on")
    func oversizedMessage() async throws {
      let tenant = try await TestTenant.make()
      let oversized = Self.recipients(parameters: 80, size: 4000)
      try await withBatchService { service in
        for _ in 0..<8 {
          do {
            _ = try await service.createBatch(metadata: tenant.metadata) { writer in
              try await writer.write(Self.header(agentID: tenant.agentID))
              try await writer.write(oversized)
            }
            Issue.record("an oversized message was taken")
          } catch let error as RPCError {
            #expect(error.code == .resourceExhausted, "\(error)")
            #expect(error.message.hasPrefix("request message must be at most \(CallContract.maxBodyBytes) bytes"))
          }
        }
        var list = Switchboard_V1_ListBatchesRequest()
        list.agentID = tenant.agentID
        #expect(try await service.listBatches(list, metadata: tenant.metadata).data.isEmpty)
      }
    }

    @Test("a stream over its byte limit in all answers RESOURCE_EXHAUSTED and writes nothing")
    func streamTotal() async throws {
      #expect(ServerConfiguration.defaults.grpcMaxRequestStreamBytes == BatchContract.maxBodyBytes)
      // The same guard with a 2 MiB limit, so that the test streams 3 MB rather than 55.
      let fixture = try await Fixture.make()
      // About 200 KB a message (under the message limit), 15 of them.
      let part = Self.recipients(parameters: 50, size: 4000)
      var configuration = ServerConfiguration.defaults
      configuration.grpcMaxRequestStreamBytes = 2 << 20
      try await Self.withReplica(fixture, like: configuration) { service, metadata in
        do {
          _ = try await service.createBatch(metadata: metadata) { writer in
            try await writer.write(Self.header(agentID: 1))
            for _ in 0..<15 { try await writer.write(part) }
          }
          Issue.record("a 3 MB stream was taken")
        } catch let error as RPCError {
          #expect(error.code == .resourceExhausted, "\(error)")
          #expect(error.message == "request stream must be at most \(2 << 20) bytes")
        }
      }
      var batches = -1
      for try await count in try await fixture.client.query("SELECT count(*) FROM batches").decode(Int.self) {
        batches = count
      }
      #expect(batches == 0)
    }

    @Test("a stream left open past the request deadline answers DEADLINE_EXCEEDED")
    func streamDeadline() async throws {
      let fixture = try await Fixture.make()
      var configuration = ServerConfiguration.defaults
      configuration.httpLimits.requestTimeout = .seconds(1)
      try await Self.withReplica(fixture, like: configuration) { service, metadata in
        do {
          _ = try await service.createBatch(metadata: metadata) { writer in
            try await writer.write(Self.header(agentID: 1))
            // Left open: the client never ends its stream.
            try await Task.sleep(for: .seconds(3600))
          }
          Issue.record("an open stream was answered")
        } catch let error as RPCError {
          #expect(error.code == .deadlineExceeded, "\(error)")
          #expect(error.message == "request stream must end within 1 s of its start")
        }
      }
    }

    /// Runs `body` with a `BatchService` client of a replica of its own, with the stream limits of
    /// `configuration`, and the fixture tenant's credentials.
    static func withReplica(
      _ fixture: Fixture, like configuration: ServerConfiguration,
      _ body: (Switchboard_V1_BatchService.Client<HTTP2ClientTransport.Posix>, Metadata) async throws -> Void
    ) async throws {
      let replica = try await Replica.start(databaseURL: fixture.databaseURL, timeout: .seconds(5)) {
        $0.grpcMaxRequestStreamBytes = configuration.grpcMaxRequestStreamBytes
        $0.httpLimits = configuration.httpLimits
      }
      defer { replica.stop() }
      let port = try #require(try await replica.server.grpcListeningPort())
      var metadata = Metadata()
      metadata.addString("Bearer \(fixture.key)", forKey: "authorization")
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
      ) { client in
        try await body(Switchboard_V1_BatchService.Client(wrapping: client), metadata)
      }
    }
  }
}
