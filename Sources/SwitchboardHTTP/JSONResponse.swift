import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore

/// A JSON response: status, extra headers, body. Handlers return it as it is.
struct JSONResponse: ResponseGenerator {
  var status: HTTPResponse.Status
  var headers: HTTPFields = [:]
  var body: JSONValue

  init(status: HTTPResponse.Status, body: JSONValue) {
    self.status = status
    self.body = body
  }

  static func ok(_ members: [String: JSONValue]) -> Self {
    Self(status: .ok, body: .object(members))
  }

  /// The error envelope, with the status and headers its kind calls for.
  init(error: SwitchboardError) {
    var envelope: [String: JSONValue] = ["message": .string(error.message), "type": .string(error.type)]
    var headers: HTTPFields = [:]
    switch error.kind {
    case .invalidRequest, .failedPrecondition: status = .badRequest
    case .numberSuppressed: status = .forbidden
    case .contactLimited(let next):
      status = .tooManyRequests
      headers[.retryAfter] = String(max(1, Int(next.timeIntervalSinceNow.rounded(.up))))
      envelope["next_allowed_at"] = .string(Timestamp.format(next))
    case .outsideCallingHours(let next):
      status = .unprocessableContent
      envelope["next_allowed_at"] = next.map { .string(Timestamp.format($0)) } ?? .null
    case .recipientTimezoneUnknown: status = .unprocessableContent
    case .payloadTooLarge: status = .contentTooLarge
    case .authentication: status = .unauthorized
    case .notFound: status = .notFound
    case .conflict: status = .conflict
    case .duplicateRequest(let original):
      status = .conflict
      envelope["data"] = original.json
    case .duplicateBatch(let original):
      status = .conflict
      envelope["data"] = original.json
    case .invalidRecipients(let rejected, let total):
      status = .badRequest
      envelope["total_rejected"] = .integer(Int64(total))
      envelope["rejected_rows"] = .array(rejected.map(\.json))
    case .rateLimited(let rate):
      status = .tooManyRequests
      headers[.retryAfter] = String(rate.retryAfterSeconds)
      headers.append(contentsOf: rate.headers)
    case .concurrencyLimited(let current, let max):
      status = .tooManyRequests
      envelope["current_calls"] = .integer(Int64(current))
      envelope["max_calls"] = .integer(Int64(max))
    case .unavailable(let seconds):
      status = .serviceUnavailable
      headers[.retryAfter] = String(seconds)
      if let unknown = error.unknownOutcome {
        envelope["outcome"] = "unknown"
        if let trace = unknown.traceID { envelope["trace_id"] = .string(trace.lowercased) }
        if let batch = unknown.batchID { envelope["batch_id"] = .integer(batch) }
        if let event = unknown.eventID { envelope["event_id"] = .string(event) }
      }
    case .internal: status = .internalServerError
    }
    self.headers = headers
    self.body = .object(["error": .object(envelope)])
  }

  func response(from request: Request, context: some RequestContext) -> Response { response }

  var response: Response {
    var headers = self.headers
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.encoded())))
  }
}

/// A handler throws ``SwitchboardError``; Hummingbird answers it with its envelope.
extension SwitchboardError: HTTPResponseError {
  public var status: HTTPResponse.Status { JSONResponse(error: self).status }

  public func response(from request: Request, context: some RequestContext) -> Response {
    switch severity {
    case .error?: context.logger.error("\(logMessage)", metadata: ["error": "\(self)"])
    case .warning?: context.logger.warning("\(logMessage)", metadata: ["error": "\(self)"])
    case nil: break
    }
    return JSONResponse(error: self).response
  }
}

/// Renders in the envelope what Hummingbird itself raises (no such route, a wrong method: 405
/// with `Allow`, which needs the route table), and answers any error no handler expected as a
/// logged 500. ``SwitchboardError`` passes through: it renders itself.
struct EnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
  /// The routes served, so that a known path asked with another method is a 405 with `Allow`.
  var routes: RouteTable

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws
    -> Response
  {
    do {
      return try await next(request, context)
    } catch let error as SwitchboardError {
      throw error
    } catch let error as HTTPError
      where error.status == .notFound && !routes.methods(for: request.uri.path).isEmpty
    {
      let allowed = routes.methods(for: request.uri.path)
      var response = JSONResponse(
        error: SwitchboardError(.invalidRequest, "method \(request.method) not allowed on \(request.uri.path)")
      ).response
      response.status = .methodNotAllowed
      response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
      return response
    } catch let error as HTTPError {
      let kind: SwitchboardError.Kind =
        switch error.status {
        case .notFound: .notFound
        case .contentTooLarge: .payloadTooLarge
        case .unauthorized: .authentication
        case .internalServerError: .internal
        default: .invalidRequest
        }
      let message =
        switch error.status {
        case .notFound: "no such route: \(request.method) \(request.uri.path)"
        case .methodNotAllowed: "method \(request.method) not allowed on \(request.uri.path)"
        default: error.body ?? error.status.reasonPhrase
        }
      var response = JSONResponse(error: SwitchboardError(kind, message)).response
      if error.status == .methodNotAllowed { response.status = .methodNotAllowed }
      return response
    } catch {
      throw SwitchboardError.answering(error)
    }
  }
}
