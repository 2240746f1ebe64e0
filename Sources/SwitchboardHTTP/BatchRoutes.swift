import Foundation
import Hummingbird
import SwitchboardCore

/// The batch routes: the seed system's `POST /v1/batch-call` and `/v1/batch-calls`, and pause,
/// resume and cancel beside them.
extension Gateway {
  func addBatchRoutes(to router: Router<Context>, _ batches: BatchOperations) {
    router.post("/v1/batch-call") { request, _ in
      let tenant = try await tenant(request)
      var request = request
      let body = try await Self.body(&request, upTo: BatchContract.maxBodyBytes)
      let upload = try BatchUpload.decode(body, contentType: request.headers[.contentType])
      var input = upload.options
      try input.adoptIdempotencyKeyHeader(request.headers[values: .idempotencyKey])
      let options = try batches.options(input)
      let recipients = try upload.recipients(options.agentID, batches.clock)
      let receipt = try await batches.create(options, recipients: recipients, tenant: tenant)
      return JSONResponse.ok(["data": receipt.json])
    }
    router.get("/v1/batch-calls") { request, _ in
      let tenant = try await tenant(request)
      let query = request.uri.queryParameters
      let page = try await batches.batches(
        agentID: try Self.integer(query["agent_id"], "agent_id").map(Int64.init),
        limit: try Self.integer(query["limit"], "limit"), offset: try Self.integer(query["offset"], "offset"),
        tenant: tenant)
      return JSONResponse.ok([
        "data": .array(page.batches.map(\.json)), "has_more": .bool(page.hasMore), "total": .integer(Int64(page.total)),
      ])
    }
    router.get("/v1/batch-calls/:batch_id") { request, context in
      let tenant = try await tenant(request)
      let batch = try await batches.batch(context.parameters.get("batch_id") ?? "", tenant: tenant)
      return JSONResponse.ok(["data": batch.json])
    }
    router.get("/v1/batch-calls/:batch_id/metrics") { request, context in
      let tenant = try await tenant(request)
      let metrics = try await batches.metrics(context.parameters.get("batch_id") ?? "", tenant: tenant)
      return JSONResponse.ok(["data": metrics.json])
    }
    for action in BatchAction.allCases {
      router.post("/v1/batch-calls/:batch_id/\(action.rawValue)") { request, context in
        let tenant = try await tenant(request)
        let batch = try await batches.control(action, context.parameters.get("batch_id") ?? "", tenant: tenant)
        return JSONResponse.ok(["data": batch.json])
      }
    }
  }
}
