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
  let metrics: @Sendable () -> [UInt8]
  let tracing: Bool

  /// - Parameters:
  ///   - metrics: the process's metrics in Prometheus's text format, for `/metrics`.
  ///   - tracing: a server span per request (child of its `traceparent`), to the process's tracer.
  public init(
    operations: CallOperations, batches: BatchOperations? = nil,
    metrics: @escaping @Sendable () -> [UInt8] = { [] }, tracing: Bool = false
  ) {
    self.operations = operations
    self.batches = batches
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
    router.add(
      middleware: EnvelopeMiddleware(routes: Self.routes + Self.healthRoutes + (batches == nil ? [] : Self.batchRoutes))
    )
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
    addHealthRoutes(to: router)
    return router
  }

  /// The OpenAPI 3.1 description of these routes (`Resources/openapi.yaml`), served as it is.
  public static let openAPIDocument: [UInt8] = {
    guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
      let data = try? Data(contentsOf: url)
    else { return Array("openapi.yaml is missing from the resource bundle\n".utf8) }
    return Array(data)
  }()

  /// Every route and its methods.
  static let routes: [EnvelopeMiddleware<Context>.Route] = [
    .init("/openapi.yaml", [.get]), .init("/v1/call", [.post]), .init("/v1/calls/:trace_id", [.get, .delete]),
    .init("/v1/calls/:trace_id/events", [.post]), .init("/v1/conversations/:conversation_id", [.get]),
    .init("/v1/conversations/:conversation_id/recording", [.get]),
    .init("/v1/conversations", [.get]),
  ]
  /// What every role serves, with no key: nothing in them is a tenant's.
  static let healthRoutes: [EnvelopeMiddleware<Context>.Route] = [
    .init("/healthz", [.get]), .init("/readyz", [.get]), .init("/metrics", [.get]),
  ]

  /// `/healthz`, `/readyz` and `/metrics` alone: what a dispatcher-only replica serves.
  public func healthRouter() -> Router<Context> {
    let router = Router(context: Context.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: EnvelopeMiddleware(routes: Self.healthRoutes))
    addHealthRoutes(to: router)
    return router
  }

  /// `/healthz`: the process answers. `/readyz`: and the database does, within the deadline.
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

  /// The body, up to the contract's size limit.
  static func body(
    _ request: inout Request, upTo limit: Int = CallContract.maxBodyBytes
  ) async throws(SwitchboardError) -> ByteBuffer {
    do {
      return try await request.collectBody(upTo: limit)
    } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
      throw .bodyTooLarge(limit: limit)
    } catch {
      throw .invalid("request body could not be read")
    }
  }

  private static func jsonBody(_ request: inout Request) async throws(SwitchboardError) -> [String: JSONValue] {
    let buffer = try await body(&request)
    guard !StrictJSON.hasTrailingComma(buffer.readableBytesView),
      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
    else {
      throw .invalid("request body must be valid JSON")
    }
    guard let members = value.objectValue else { throw .invalid("request body must be a JSON object") }
    return members
  }

  /// An event report's fields, type-checked.
  static func eventInput(_ body: [String: JSONValue]) throws(SwitchboardError) -> CallEventInput {
    func text(_ key: String) throws(SwitchboardError) -> String? {
      switch body[key] {
      case nil, .null?: return nil
      case .string(let value)?: return value
      default: throw .invalid("\(key) must be a string")
      }
    }
    func object(_ key: String) throws(SwitchboardError) -> [String: JSONValue]? {
      switch body[key] {
      case nil, .null?: return nil
      case .object(let value)?: return value
      default: throw .invalid("\(key) must be an object")
      }
    }
    var duration: Double?
    switch body["duration_seconds"] {
    case nil, .null?: duration = nil
    case .integer(let value)?: duration = Double(value)
    case .double(let value)?: duration = value
    default: throw .invalid("duration_seconds must be a number")
    }
    var input = CallEventInput(
      eventID: try text("event_id"), status: try text("status"), collectedData: try object("collected_data"),
      stageID: try text("stage_id"), results: try object("results"), durationSeconds: duration,
      failureReason: try text("failure_reason"))
    if let transcript = body["transcript"], transcript != .null { input.transcript = transcript }
    input.recordingURL = try text("recording_url")
    input.answeredBy = try text("answered_by")
    input.failureType = try text("failure_type")
    return input
  }

  /// A query parameter's integer; absent is `nil`, present but empty is a 400.
  /// `true` or `false`; absent is false.
  static func flag(_ text: Substring?, _ name: String) throws(SwitchboardError) -> Bool {
    switch text {
    case nil, "false"?: return false
    case "true"?: return true
    default: throw .invalid("\(name) must be true or false")
    }
  }

  static func integer(_ text: Substring?, _ name: String) throws(SwitchboardError) -> Int? {
    guard let text else { return nil }
    guard let value = Int(text) else { throw .invalid("\(name) must be an integer") }
    return value
  }
}

extension HTTPField.Name {
  static let idempotencyKey = Self("Idempotency-Key")!
  static let traceparent = Self("traceparent")!
  static let switchboardTenant = Self("Switchboard-Tenant")!
  static let retryAfter = Self("Retry-After")!
  static let rateLimitLimit = Self("X-RateLimit-Limit")!
  static let rateLimitRemaining = Self("X-RateLimit-Remaining")!
  static let rateLimitReset = Self("X-RateLimit-Reset")!
}

extension RateLimitStatus {
  var headers: HTTPFields {
    [
      .rateLimitLimit: String(limit), .rateLimitRemaining: String(remaining), .rateLimitReset: String(resetSeconds),
    ]
  }
}

/// What Foundation's JSON decoder lets through that JSON does not allow.
enum StrictJSON {
  /// Whether a `,` stands right before a `}` or `]` (spaces between), outside strings.
  static func hasTrailingComma(_ bytes: some Collection<UInt8>) -> Bool {
    var inString = false
    var escaped = false
    var afterComma = false
    for byte in bytes {
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        continue
      }
      switch byte {
      case UInt8(ascii: "\""):
        inString = true
        afterComma = false
      case UInt8(ascii: ","): afterComma = true
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        if afterComma { return true }
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): break
      default: afterComma = false
      }
    }
    return false
  }
}
