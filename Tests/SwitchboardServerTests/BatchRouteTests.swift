import Foundation
import GRPCCore
import SwiftProtobuf
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardTestSupport
import Testing

/// Batch calls through the running server, over both transports.
@Suite("Batch routes")
struct BatchRouteTests {
  static let csv = """
    customer_phone,customer_name,loan_id,due_amount
    +919876543210,Rahul,L-1,5000
    +919876543211,"Sharma, Priya",L-2,7500
    """

  func batchCount(_ tenant: TestTenant) async throws -> Int { try await tenant.count("batches") }

  @Test("a CSV upload answers the seed's batch and writes a chain and a first attempt per row")
  func multipart() async throws {
    let tenant = try await TestTenant.make()
    let result = try await GatewayClient.uploadBatch(
      tenant, fields: ["agent_id": "7", "name": "March Follow Ups"], csv: Self.csv)
    #expect(result.status == 200, "\(result.body)")
    let data = try #require(result.data)
    let id = try #require(data["id"]?.integerValue)
    #expect(data["name"] == "March Follow Ups" && data["agent_id"] == 7 && data["status"] == "pending")
    #expect(data["total_recipients"] == 2 && data["total_rejected"] == nil)
    #expect(data["created_at"]?.stringValue.flatMap(Timestamp.parse) != nil)
    #expect(try await tenant.count("conversations", where: "batch_id = \(id)") == 2)
    #expect(try await tenant.count("call_attempts", where: "batch_id = \(id) AND status = 'scheduled'") == 2)
    // Counted in /metrics.
    let metrics = try await GatewayClient.fetch("/metrics", port: try await TestEnvironment.shared.get().httpPort)
    #expect(metrics.text.contains("switchboard_batches_created_total"))
    #expect(metrics.text.contains("switchboard_batch_recipients_total"))
    // Every other column is a parameter of its row, quotes and commas kept.
    #expect(
      try await tenant.count(
        "call_attempts",
        where: """
          batch_id = \(id) AND parameters @> '[{"name": "customer_name", "value": "Sharma, Priya"},
            {"name": "due_amount", "value": "7500"}]'
          """) == 1)
  }

  @Test("JSON recipients, the options, and bad rows reported (not fatal)")
  func json() async throws {
    let tenant = try await TestTenant.make()
    let start = Date(timeIntervalSince1970: Date().addingTimeInterval(3600).timeIntervalSince1970.rounded(.down))
    func recipient(_ phone: String) -> JSONValue {
      ["parameters": [["name": "customer_phone", "value": .string(phone)]], "metadata": "m"]
    }
    let body: JSONValue = [
      "agent_id": 7, "name": "Renewals", "scheduled_for": .string(Timestamp.format(start)), "max_concurrency": 3,
      "recipients": [
        recipient("+919876543210"), recipient("not-a-phone"), recipient("+919876543210"),
        ["parameters": "nope"], recipient("+919876543211"),
      ],
    ]
    let result = try await GatewayClient.send(
      .POST, "/v1/batch-call", authorization: tenant.authorization, body: body)
    #expect(result.status == 200, "\(result.body)")
    let data = try #require(result.data)
    #expect(data["total_recipients"] == 2 && data["max_concurrency"] == 3)
    #expect(data["scheduled_for"]?.stringValue.flatMap(Timestamp.parse) == start)
    #expect(data["total_rejected"] == 3)
    #expect(
      data["rejected_rows"] == [
        ["line": 2, "message": "customer_phone must be an E.164 phone number"],
        ["line": 3, "message": "customer_phone +919876543210 appears earlier in this batch"],
        ["line": 4, "message": "parameters must be an array of {name, value} objects"],
      ])
    let id = try #require(data["id"]?.integerValue)
    #expect(try await tenant.count("call_attempts", where: "batch_id = \(id) AND metadata = 'm'") == 2)
  }

  struct BadUpload: Sendable, CustomTestStringConvertible {
    let name: String
    var fields: [String: String] = ["agent_id": "7", "name": "Bad"]
    let csv: String?
    let status: Int
    let type: String
    let message: String
    var testDescription: String { name }
  }

  static let header = "file must be a CSV file whose first row names its columns, customer_phone among them"
  static let badUploads: [BadUpload] = [
    BadUpload(name: "no file", csv: nil, status: 400, type: "invalid_request", message: "file is required"),
    BadUpload(name: "not CSV", csv: "\u{1}\u{2}\u{3}", status: 400, type: "invalid_request", message: header),
    BadUpload(name: "empty file", csv: "", status: 400, type: "invalid_request", message: header),
    BadUpload(
      name: "no customer_phone column", csv: "phone,name\n+919876543210,A\n", status: 400, type: "invalid_request",
      message: header),
    BadUpload(
      name: "no rows", csv: "customer_phone,name\n", status: 400, type: "invalid_request",
      message: "file has no rows besides the header"),
    BadUpload(
      name: "every row bad", csv: "customer_phone\n12345\nabc\n", status: 400, type: "invalid_request",
      message: "no valid recipients: every row was rejected"),
    BadUpload(
      name: "unknown agent", fields: ["agent_id": "99999", "name": "Bad"], csv: csv, status: 404, type: "not_found",
      message: "agent not found"),
    BadUpload(
      name: "missing name", fields: ["agent_id": "7"], csv: csv, status: 400, type: "invalid_request",
      message: "name is required"),
    BadUpload(
      name: "agent_id not an integer", fields: ["agent_id": "seven", "name": "Bad"], csv: csv, status: 400,
      type: "invalid_request", message: "agent_id must be an integer"),
    BadUpload(
      name: "max_concurrency 0", fields: ["agent_id": "7", "name": "Bad", "max_concurrency": "0"], csv: csv,
      status: 400, type: "invalid_request", message: "max_concurrency must be between 1 and 10000"),
    BadUpload(
      name: "scheduled beyond 30 days",
      fields: [
        "agent_id": "7", "name": "Bad", "scheduled_for": Timestamp.format(Date().addingTimeInterval(40 * 86400)),
      ], csv: csv, status: 400, type: "invalid_request", message: "scheduled_for must be within the next 30 days"),
  ]

  @Test("a bad upload is a 4xx in the envelope and writes nothing", arguments: badUploads)
  func bad(_ upload: BadUpload) async throws {
    let tenant = try await TestTenant.make()
    let result = try await GatewayClient.uploadBatch(tenant, fields: upload.fields, csv: upload.csv)
    #expect(result.status == upload.status, "\(result.body)")
    #expect(result.errorType == upload.type && result.errorMessage == upload.message, "\(result.body)")
    #expect(try await batchCount(tenant) == 0)
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test("an agent without a number, or a body that is neither a form nor JSON, is refused whole")
  func refusedWhole() async throws {
    let noPhone = try await TestTenant.make(agentPhone: nil)
    let result = try await GatewayClient.uploadBatch(noPhone, fields: ["agent_id": "7", "name": "N"], csv: Self.csv)
    #expect(result.status == 400 && result.errorMessage == "agent has no phone number configured")
    let plain = try await GatewayClient.send(
      .POST, "/v1/batch-call", authorization: noPhone.authorization, rawBody: Array(Self.csv.utf8),
      headers: ["Content-Type": "text/csv"])
    #expect(plain.status == 400)
    #expect(plain.errorMessage == "Content-Type must be multipart/form-data or application/json")
    #expect(try await batchCount(noPhone) == 0)
  }

  @Test("16 concurrent uploads with one idempotency key make one batch; the rest are 409s with it")
  func idempotent() async throws {
    let tenant = try await TestTenant.make()
    let answers = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
      for index in 0..<16 {
        group.addTask {
          // Half name the key in the form, half in the header.
          index.isMultiple(of: 2)
            ? try await GatewayClient.uploadBatch(
              tenant, fields: ["agent_id": "7", "name": "Once", "idempotency_key": "upload-1"], csv: Self.csv)
            : try await GatewayClient.uploadBatch(
              tenant, fields: ["agent_id": "7", "name": "Once"], csv: Self.csv,
              headers: ["Idempotency-Key": "upload-1"])
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(answers.filter { $0.status == 200 }.count == 1)
    #expect(answers.filter { $0.status == 409 && $0.errorType == "duplicate_request" }.count == 15)
    let ids = Set(answers.compactMap { ($0.data ?? $0.error?["data"])?["id"]?.integerValue })
    #expect(ids.count == 1)
    #expect(try await batchCount(tenant) == 1)
    #expect(try await tenant.count("conversations") == 2)
    #expect(try await tenant.count("call_attempts") == 2)
  }

  @Test("list, read, metrics, and ListConversations by batch_id")
  func reads() async throws {
    let tenant = try await TestTenant.make()
    var ids: [Int64] = []
    for name in ["first", "second", "third"] {
      let created = try await GatewayClient.uploadBatch(tenant, fields: ["agent_id": "7", "name": name], csv: Self.csv)
      ids.append(try #require(created.data?["id"]?.integerValue))
    }
    let page = try await GatewayClient.send(.GET, "/v1/batch-calls?limit=2", authorization: tenant.authorization)
    #expect(page.status == 200 && page.body["has_more"] == true && page.body["total"] == 3)
    #expect(page.data?.arrayValue?.compactMap { $0["id"]?.integerValue } == [ids[2], ids[1]])
    let rest = try await GatewayClient.send(
      .GET, "/v1/batch-calls?limit=2&offset=2&agent_id=7", authorization: tenant.authorization)
    #expect(rest.body["has_more"] == false && rest.data?.arrayValue?.compactMap { $0["id"]?.integerValue } == [ids[0]])
    let none = try await GatewayClient.send(.GET, "/v1/batch-calls?agent_id=8", authorization: tenant.authorization)
    #expect(none.body["total"] == 0)
    let badLimit = try await GatewayClient.send(.GET, "/v1/batch-calls?limit=101", authorization: tenant.authorization)
    #expect(badLimit.status == 400 && badLimit.errorMessage == "limit must be between 1 and 100")

    let one = try await GatewayClient.send(.GET, "/v1/batch-calls/\(ids[0])", authorization: tenant.authorization)
    #expect(one.status == 200 && one.data?["name"] == "first" && one.data?["total_recipients"] == 2)
    let metrics = try await GatewayClient.send(
      .GET, "/v1/batch-calls/\(ids[0])/metrics", authorization: tenant.authorization)
    #expect(metrics.status == 200)
    let seedFields = [
      "avg_duration_seconds", "busy_count", "completed_count", "failed_count", "in_progress_count", "no_answer_count",
      "pending_retry_count", "socket_failure_count", "success_count", "success_rate", "total_processed",
      "unreachable_count",
    ]
    for field in seedFields { #expect(metrics.data?[field] != nil, "\(field)") }
    #expect(metrics.data?["total_processed"] == 0 && metrics.data?["waiting_count"] == 2)

    let chains = try await GatewayClient.send(
      .GET, "/v1/conversations?batch_id=\(ids[1])&include_total=true", authorization: tenant.authorization)
    #expect(chains.body["total"] == 2)
    #expect(chains.data?.arrayValue?.allSatisfy { $0["batch_id"]?.integerValue == ids[1] } == true)
    let chainID = try #require(chains.data?.arrayValue?.first?["conversation_id"]?.stringValue)
    let chain = try await GatewayClient.send(
      .GET, "/v1/conversations/\(chainID)", authorization: tenant.authorization)
    #expect(chain.data?["attempts"]?.arrayValue?.first?["batch_id"]?.integerValue == ids[1])
    let missing = try await GatewayClient.send(.GET, "/v1/batch-calls/abc", authorization: tenant.authorization)
    #expect(missing.status == 404 && missing.errorMessage == "batch not found")
  }

  @Test("pause, resume and cancel: repeats answer as is; what the status forbids is a 409")
  func control() async throws {
    let tenant = try await TestTenant.make()
    let created = try await GatewayClient.uploadBatch(tenant, fields: ["agent_id": "7", "name": "C"], csv: Self.csv)
    let id = try #require(created.data?["id"]?.integerValue)
    func post(_ action: String) async throws -> HTTPResult {
      try await GatewayClient.send(.POST, "/v1/batch-calls/\(id)/\(action)", authorization: tenant.authorization)
    }
    #expect(try await post("pause").data?["status"] == "paused")
    #expect(try await post("pause").data?["status"] == "paused")
    let resumed = try await post("resume")
    #expect(resumed.data?["status"] == "running" || resumed.data?["status"] == "pending")
    let canceled = try await post("cancel")
    #expect(canceled.data?["status"] == "canceled" && canceled.data?["completed_at"] != .null)
    #expect(try await tenant.count("call_attempts", where: "batch_id = \(id) AND status = 'canceled'") == 2)
    let again = try await post("resume")
    #expect(again.status == 409 && again.errorType == "conflict")
    #expect(again.errorMessage == "batch is canceled and cannot be resumed")
    #expect(try await post("cancel").status == 200)
  }

  @Test("another tenant's batch is not found on any route, nor listed")
  func isolation() async throws {
    let owner = try await TestTenant.make()
    let other = try await TestTenant.make()
    let created = try await GatewayClient.uploadBatch(owner, fields: ["agent_id": "7", "name": "Mine"], csv: Self.csv)
    let id = try #require(created.data?["id"]?.integerValue)
    for path in ["/v1/batch-calls/\(id)", "/v1/batch-calls/\(id)/metrics"] {
      let result = try await GatewayClient.send(.GET, path, authorization: other.authorization)
      #expect(result.status == 404 && result.errorMessage == "batch not found", "\(path)")
    }
    for action in BatchAction.allCases {
      let result = try await GatewayClient.send(
        .POST, "/v1/batch-calls/\(id)/\(action.rawValue)", authorization: other.authorization)
      #expect(result.status == 404, "\(action)")
    }
    let list = try await GatewayClient.send(.GET, "/v1/batch-calls", authorization: other.authorization)
    #expect(list.body["total"] == 0)
    let chains = try await GatewayClient.send(
      .GET, "/v1/conversations?batch_id=\(id)&include_total=true", authorization: other.authorization)
    #expect(chains.body["total"] == 0)
    // Unchanged for its owner; and no key at all is a 401.
    let mine = try await GatewayClient.send(.GET, "/v1/batch-calls/\(id)", authorization: owner.authorization)
    #expect(mine.data?["status"] == "pending")
    #expect(try await GatewayClient.send(.GET, "/v1/batch-calls", authorization: nil).status == 401)
  }

  @Test("gRPC: CreateBatch streams a header and recipients; every batch RPC, scoped to the tenant")
  func grpc() async throws {
    let tenant = try await TestTenant.make()
    let other = try await TestTenant.make()
    @Sendable func recipient(_ phone: String) -> Switchboard_V1_BatchRecipient {
      var parameter = Switchboard_V1_Parameter()
      parameter.name = "customer_phone"
      parameter.value = phone
      var recipient = Switchboard_V1_BatchRecipient()
      recipient.parameters = [parameter]
      return recipient
    }
    try await withBatchService { service in
      let created = try await service.createBatch(metadata: tenant.metadata) { writer in
        var header = Switchboard_V1_BatchHeader()
        header.agentID = 7
        header.name = "Streamed"
        header.maxConcurrency = 2
        var first = Switchboard_V1_CreateBatchRequest()
        first.header = header
        try await writer.write(first)
        for chunk in [["+919876543210", "+919876543211"], ["+919876543212", "bad", "+919876543210"]] {
          var part = Switchboard_V1_BatchRecipients()
          part.recipients = chunk.map(recipient)
          var message = Switchboard_V1_CreateBatchRequest()
          message.recipients = part
          try await writer.write(message)
        }
      }
      #expect(created.data.totalRecipients == 3 && created.data.status == .pending && created.data.maxConcurrency == 2)
      #expect(created.totalRejected == 2 && created.rejectedRows.map(\.line) == [4, 5])
      let id = created.data.id
      #expect(try await tenant.count("call_attempts", where: "batch_id = \(id)") == 3)

      var request = Switchboard_V1_BatchRequest()
      request.batchID = id
      #expect(try await service.getBatch(request, metadata: tenant.metadata).data.name == "Streamed")
      var list = Switchboard_V1_ListBatchesRequest()
      list.agentID = 7
      let page = try await service.listBatches(list, metadata: tenant.metadata)
      #expect(page.total == 1 && page.data.map(\.id) == [id])
      #expect(try await service.getBatchMetrics(request, metadata: tenant.metadata).data.waitingCount == 3)
      #expect(try await service.pauseBatch(request, metadata: tenant.metadata).data.status == .paused)
      #expect(try await service.resumeBatch(request, metadata: tenant.metadata).data.status != .paused)
      #expect(try await service.cancelBatch(request, metadata: tenant.metadata).data.status == .canceled)

      // Another tenant finds nothing.
      await #expect(throws: RPCError.self) { try await service.getBatch(request, metadata: other.metadata) }
      do {
        _ = try await service.getBatchMetrics(request, metadata: other.metadata)
        Issue.record("another tenant read the metrics")
      } catch let error as RPCError {
        #expect(error.code == .notFound && error.message == "batch not found")
      }
      #expect(try await service.listBatches(list, metadata: other.metadata).total == 0)
      for action in BatchAction.allCases {
        do {
          switch action {
          case .pause: _ = try await service.pauseBatch(request, metadata: other.metadata)
          case .resume: _ = try await service.resumeBatch(request, metadata: other.metadata)
          case .cancel: _ = try await service.cancelBatch(request, metadata: other.metadata)
          }
          Issue.record("another tenant could \(action) the batch")
        } catch let error as RPCError {
          #expect(error.code == .notFound, "\(action)")
        }
      }
      #expect(try await service.getBatch(request, metadata: tenant.metadata).data.status == .canceled)

      // Recipients before the header: nothing written.
      do {
        _ = try await service.createBatch(metadata: other.metadata) { writer in
          var part = Switchboard_V1_BatchRecipients()
          part.recipients = [recipient("+919876543210")]
          var message = Switchboard_V1_CreateBatchRequest()
          message.recipients = part
          try await writer.write(message)
        }
        Issue.record("recipients without a header were accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message == "header must be sent once, first")
      }
      #expect(try await other.count("batches") == 0)
    }
  }
}

extension OneAtATime {
  /// The upload limits: they load the machine (a 50 MB body, 100,001 rows), so they run apart from
  /// the tests that measure answers against a deadline.
  @Suite("Batch upload limits")
  struct BatchLimitTests {
    @Test("a body over 50 MB, or more than 100,000 rows, is a 413 that writes nothing")
    func tooLarge() async throws {
      let tenant = try await TestTenant.make()
      var form = MultipartForm(["agent_id": "7", "name": "Huge"])
      form.file(Array(repeating: UInt8(ascii: "a"), count: BatchContract.maxBodyBytes + 1))
      let huge = try await GatewayClient.send(
        .POST, "/v1/batch-call", authorization: tenant.authorization, rawBody: form.body,
        headers: ["Content-Type": form.contentType], timeout: .seconds(120))
      #expect(huge.status == 413 && huge.errorType == "invalid_request", "\(huge.body)")

      let rows = (0...100_000).map { "+9198\(String(format: "%08d", $0))" }.joined(separator: "\n")
      let many = try await GatewayClient.uploadBatch(
        tenant, fields: ["agent_id": "7", "name": "Many"], csv: "customer_phone\n" + rows, timeout: .seconds(120))
      #expect(many.status == 413 && many.errorMessage == "file must have at most 100000 rows besides the header")
      #expect(try await tenant.count("batches") == 0)
      #expect(try await tenant.count("call_attempts") == 0)
    }
  }
}
