import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore

/// The JSON gateway: the public `POST /v1/call` contract and the reads beside it, over
/// ``CallOperations``. Every failure answers in the `{"error": {"message", "type"}}` envelope.
public struct Gateway: Sendable {
  let operations: CallOperations
  /// Batch calls; without them the batch routes are not served.
  let batches: BatchOperations?
  /// Suppression lists and the compliance check; without them their routes are not served.
  let compliance: ComplianceOperations?
  let metrics: @Sendable () -> [UInt8]
  let tracing: Bool

  /// - Parameters:
  ///   - metrics: the process's metrics in Prometheus's text format, for `/metrics`.
  ///   - tracing: a server span per request (child of its `traceparent`), to the process's tracer.
  public init(
    operations: CallOperations, batches: BatchOperations? = nil, compliance: ComplianceOperations? = nil,
    metrics: @escaping @Sendable () -> [UInt8] = { [] }, tracing: Bool = false
  ) {
    self.operations = operations
    self.batches = batches
    self.compliance = compliance
    self.metrics = metrics
    self.tracing = tracing
  }

  public typealias Context = BasicRequestContext

  /// The routes, behind a middleware that renders any stray error (unknown route, wrong method)
  /// in the envelope.
  public func router() -> Router<Context> {
    let router = Router(context: Context.self)
    router.add(middleware: MetricsMiddleware())
    if tracing { router.add(middleware: TracingMiddleware()) }
    let served = RouteTable()
    router.add(middleware: EnvelopeMiddleware(routes: served))
    router.post("/v1/call") { request, _ in try await makeCall(request) }
    router.get("/v1/calls/:trace_id") { request, context in
      let tenant = try await tenant(request)
      let traceID = context.parameters.get("trace_id") ?? ""
      return JSONResponse.ok(["data": try await operations.call(traceID: traceID, tenant: tenant).json])
    }
    router.delete("/v1/calls/:trace_id") { request, context in
      let tenant = try await tenant(request)
      let traceID = context.parameters.get("trace_id") ?? ""
      return JSONResponse.ok(["data": try await operations.cancelCall(traceID: traceID, tenant: tenant).json])
    }
    router.post("/v1/calls/:trace_id/events") { request, context in
      let tenant = try await operations.authenticateReporter(
        authorization: request.headers[.authorization], tenantHeader: request.headers[.switchboardTenant])
      var request = request
      let input = try Self.eventInput(try await Self.jsonBody(&request))
      let (attempt, duplicate) = try await operations.reportEvent(
        traceID: context.parameters.get("trace_id") ?? "", input, tenant: tenant)
      return JSONResponse.ok(["data": attempt.json, "duplicate": .bool(duplicate)])
    }
    router.get("/v1/conversations/:conversation_id") { request, context in
      let tenant = try await tenant(request)
      let id = context.parameters.get("conversation_id") ?? ""
      // `<id>_<n>` names attempt n, and answers it; a chain id answers the chain.
      if ConversationReference(id)?.attemptNumber != nil {
        return JSONResponse.ok(["data": try await operations.conversationAttempt(id, tenant: tenant).json])
      }
      return JSONResponse.ok(["data": try await operations.conversation(id, tenant: tenant).json(withAttempts: true)])
    }
    router.get("/v1/conversations/:conversation_id/recording") { request, context in
      let tenant = try await tenant(request)
      let url = try await operations.recordingURL(context.parameters.get("conversation_id") ?? "", tenant: tenant)
      return Response(status: .found, headers: [.location: url])
    }
    router.get("/v1/conversations") { request, _ in
      let tenant = try await tenant(request)
      let query = request.uri.queryParameters
      let filter = try ConversationFilter(
        agentID: query["agent_id"].map(String.init), batchID: query["batch_id"].map(String.init),
        status: query["status"].map(String.init), customerPhone: query["customer_phone"].map(String.init),
        createdAfter: query["created_after"].map(String.init), createdBefore: query["created_before"].map(String.init))
      let paging = try ConversationPaging.checked(
        limit: try Self.integer(query["limit"], "limit"), offset: try Self.integer(query["offset"], "offset"),
        cursor: query["cursor"].map(String.init), includeTotal: try Self.flag(query["include_total"], "include_total"))
      let page = try await operations.conversations(filter, paging: paging, tenant: tenant)
      return JSONResponse.ok([
        "data": .array(page.conversations.map { $0.json(withAttempts: false) }),
        "has_more": .bool(page.hasMore), "total": page.total.map { .integer(Int64($0)) } ?? .null,
        "next_cursor": page.nextCursor.map { .string($0.encoded) } ?? .null,
      ])
    }
    router.get("/openapi.yaml") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: Self.openAPIDocument)))
    }
    if let batches { addBatchRoutes(to: router, batches) }
    if let compliance { addComplianceRoutes(to: router, compliance) }
    addHealthRoutes(to: router)
    served.set(router.routes)
    return router
  }

  /// The OpenAPI 3.1 description of these routes (`Resources/openapi.yaml`), served as it is.
  public static let openAPIDocument: [UInt8] = {
    guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
      let data = try? Data(contentsOf: url)
    else { return Array("openapi.yaml is missing from the resource bundle\n".utf8) }
    return Array(data)
  }()

  /// `/healthz`, `/readyz` and `/metrics` alone: what a dispatcher-only replica serves.
  public func healthRouter() -> Router<Context> {
    let router = Router(context: Context.self)
    router.add(middleware: MetricsMiddleware())
    let served = RouteTable()
    router.add(middleware: EnvelopeMiddleware(routes: served))
    addHealthRoutes(to: router)
    served.set(router.routes)
    return router
  }

  /// What every role serves, with no key: nothing in them is a tenant's. `/healthz`: the process
  /// answers. `/readyz`: and the database does, within the deadline.
  private func addHealthRoutes(to router: Router<Context>) {
    router.get("/healthz") { _, _ in JSONResponse.ok(["status": "ok"]).response }
    router.get("/metrics") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: metrics())))
    }
    router.get("/readyz") { _, _ in
      await operations.store.isReachable()
        ? JSONResponse.ok(["status": "ready"]).response
        : JSONResponse(error: .unavailable()).response
    }
  }

  private func makeCall(_ request: Request) async throws(SwitchboardError) -> JSONResponse {
    let caller = try await operations.authenticateCaller(authorization: request.headers[.authorization])
    var request = request
    let buffer = try await Self.body(&request)
    var input: MakeCallInput
    do {
      guard !StrictJSON.hasTrailingComma(buffer.readableBytesView) else {
        throw SwitchboardError.invalid("request body must be valid JSON")
      }
      input = try JSONDecoder().decode(MakeCallBody.self, from: Data(buffer.readableBytesView)).input
    } catch let error as SwitchboardError {
      throw error
    } catch {
      throw .invalid("request body must be valid JSON")
    }
    try input.adoptIdempotencyKeyHeader(request.headers[values: .idempotencyKey])
    input.traceparent = request.headers[.traceparent]
    let accepted = try await operations.makeCall(input, caller: caller)
    var response = JSONResponse.ok(["data": accepted.receipt.json])
    if let rate = accepted.rateLimit { response.headers.append(contentsOf: rate.headers) }
    return response
  }

  /// The tenant whose API key the request carries.
  func tenant(_ request: Request) async throws(SwitchboardError) -> Tenant {
    try await operations.authenticate(authorization: request.headers[.authorization])
  }
}
