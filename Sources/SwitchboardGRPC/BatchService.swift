import Foundation
import GRPCCore
import SwitchboardCore

/// `switchboard.v1.BatchService`: batch calls over gRPC, through ``BatchOperations`` as on the
/// gateway. `CreateBatch` reads its recipients as they stream in, checking each as it comes, so
/// the batch is held once, as checked calls, never as one message.
public struct BatchService: Switchboard_V1_BatchService.ServiceProtocol {
  let operations: BatchOperations

  public init(operations: BatchOperations) {
    self.operations = operations
  }

  public func createBatch(
    request: StreamingServerRequest<Switchboard_V1_CreateBatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_CreateBatchResponse> {
    let tenant = try await tenant(request.metadata)
    var options: BatchOptions?
    var recipients = BatchRecipients()
    let now = operations.clock
    for try await message in request.messages {
      switch message.part {
      case .header(let header)?:
        guard options == nil else { throw SwitchboardError.invalid("header must be sent once, first") }
        var input = BatchOptionsInput(header)
        try input.adoptIdempotencyKeyHeader(Array(request.metadata[stringValues: "idempotency-key"]))
        options = try operations.options(input)
      case .recipients(let part)?:
        guard let options else { throw SwitchboardError.invalid("header must be sent once, first") }
        for recipient in part.recipients {
          guard recipients.count < BatchContract.maxRecipients else {
            throw SwitchboardError(
              .payloadTooLarge, "a batch must have at most \(BatchContract.maxRecipients) recipients")
          }
          recipients.add(
            BatchRecipientInput(recipient, line: recipients.count + 1), agentID: options.agentID, now: now)
        }
      case nil:
        throw SwitchboardError.invalid("each message must carry a header or recipients")
      }
    }
    guard let options else { throw SwitchboardError.invalid("header must be sent once, first") }
    guard recipients.count > 0 else { throw SwitchboardError.invalid("recipients must not be empty") }
    let receipt = try await operations.create(options, recipients: recipients, tenant: tenant)
    var response = Switchboard_V1_CreateBatchResponse()
    response.data = Switchboard_V1_Batch(receipt.batch)
    response.totalRejected = Int32(clamping: receipt.totalRejected)
    response.rejectedRows = receipt.rejected.map { row in
      var message = Switchboard_V1_RejectedRow()
      message.line = Int32(clamping: row.line)
      message.message = row.message
      return message
    }
    return ServerResponse(message: response)
  }

  public func getBatch(
    request: ServerRequest<Switchboard_V1_BatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_BatchResponse> {
    let tenant = try await tenant(request.metadata)
    return Self.response(try await operations.batch(String(request.message.batchID), tenant: tenant))
  }

  public func listBatches(
    request: ServerRequest<Switchboard_V1_ListBatchesRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_ListBatchesResponse> {
    let tenant = try await tenant(request.metadata)
    let message = request.message
    let page = try await operations.batches(
      agentID: message.agentID == 0 ? nil : message.agentID, limit: message.limit == 0 ? nil : Int(message.limit),
      offset: Int(message.offset), tenant: tenant)
    var response = Switchboard_V1_ListBatchesResponse()
    response.data = page.batches.map(Switchboard_V1_Batch.init)
    response.hasMore_p = page.hasMore
    response.total = Int64(page.total)
    return ServerResponse(message: response)
  }

  public func getBatchMetrics(
    request: ServerRequest<Switchboard_V1_BatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_BatchMetricsResponse> {
    let tenant = try await tenant(request.metadata)
    var response = Switchboard_V1_BatchMetricsResponse()
    response.data = Switchboard_V1_BatchMetrics(
      try await operations.metrics(String(request.message.batchID), tenant: tenant))
    return ServerResponse(message: response)
  }

  public func pauseBatch(
    request: ServerRequest<Switchboard_V1_BatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_BatchResponse> {
    try await control(.pause, request)
  }

  public func resumeBatch(
    request: ServerRequest<Switchboard_V1_BatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_BatchResponse> {
    try await control(.resume, request)
  }

  public func cancelBatch(
    request: ServerRequest<Switchboard_V1_BatchRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_BatchResponse> {
    try await control(.cancel, request)
  }

  private func control(
    _ action: BatchAction, _ request: ServerRequest<Switchboard_V1_BatchRequest>
  ) async throws -> ServerResponse<Switchboard_V1_BatchResponse> {
    let tenant = try await tenant(request.metadata)
    return Self.response(try await operations.control(action, String(request.message.batchID), tenant: tenant))
  }

  private static func response(_ batch: Batch) -> ServerResponse<Switchboard_V1_BatchResponse> {
    var response = Switchboard_V1_BatchResponse()
    response.data = Switchboard_V1_Batch(batch)
    return ServerResponse(message: response)
  }

  private func tenant(_ metadata: Metadata) async throws(SwitchboardError) -> Tenant {
    try await operations.authenticate(authorization: metadata.authorization)
  }
}
