import GRPCCore
import GRPCProtobuf
import Logging
import NIOHTTP2
import SwitchboardCore

/// A handler throws ``SwitchboardError``; grpc-swift answers it with the status below.
extension SwitchboardError: RPCErrorConvertible {
  public var rpcErrorCode: RPCError.Code { rpcError.code }
  public var rpcErrorMessage: String { message }
  public var rpcErrorMetadata: Metadata { rpcError.metadata }
}

extension SwitchboardError {
  /// Metadata key carrying the error envelope's `type` (e.g. `rate_limit_exceeded`).
  static let typeMetadataKey = "switchboard-error-type"

  /// The gRPC status for this error: the canonical code, the same message as the gateway, and
  /// the `type` both as an `ErrorInfo` detail (reason in UPPER_SNAKE) and as trailing metadata.
  var rpcError: RPCError {
    var details: [ErrorDetails] = []
    var info: [String: String] = ["type": type]
    let code: RPCError.Code
    switch kind {
    case .invalidRequest, .payloadTooLarge: code = .invalidArgument
    case .authentication: code = .unauthenticated
    case .notFound: code = .notFound
    case .failedPrecondition, .conflict, .numberSuppressed, .recipientTimezoneUnknown: code = .failedPrecondition
    case .outsideCallingHours(let next):
      code = .failedPrecondition
      if let next { info["next_allowed_at"] = Timestamp.format(next) }
    case .contactLimited(let next):
      code = .resourceExhausted
      let seconds = max(1, Int(next.timeIntervalSinceNow.rounded(.up)))
      info["next_allowed_at"] = Timestamp.format(next)
      info["retry_after_seconds"] = String(seconds)
      details.append(.retryInfo(delay: .seconds(seconds)))
    case .duplicateRequest(let original):
      code = .alreadyExists
      info["trace_id"] = original.traceID.lowercased
      info["conversation_id"] = original.conversationID.lowercased
      info["attempt_number"] = String(original.attemptNumber)
      info["status"] = original.status.rawValue
    case .duplicateBatch(let original):
      code = .alreadyExists
      info["batch_id"] = String(original.id)
      info["status"] = original.status.rawValue
    case .invalidRecipients(let rejected, let total):
      code = .invalidArgument
      info["total_rejected"] = String(total)
      if let first = rejected.first { info["first_rejected_row"] = "\(first.line): \(first.message)" }
    case .rateLimited(let status):
      code = .resourceExhausted
      info["retry_after_seconds"] = String(status.retryAfterSeconds)
      info["limit"] = String(status.limit)
      details.append(.retryInfo(delay: .seconds(status.retryAfterSeconds)))
    case .concurrencyLimited(let current, let max):
      code = .resourceExhausted
      info["current_calls"] = String(current)
      info["max_calls"] = String(max)
    case .unavailable(let seconds):
      code = .unavailable
      details.append(.retryInfo(delay: .seconds(seconds)))
      if let unknown = unknownOutcome {
        info["outcome"] = "unknown"
        if let trace = unknown.traceID { info["trace_id"] = trace.lowercased }
        if let batch = unknown.batchID { info["batch_id"] = String(batch) }
        if let event = unknown.eventID { info["event_id"] = event }
      }
    case .internal: code = .internalError
    }
    details.insert(.errorInfo(reason: type.uppercased(), domain: "switchboard", metadata: info), at: 0)
    let status = GoogleRPCStatus(code: code, message: message, details: details)
    var metadata = status.rpcErrorMetadata
    metadata.addString(type, forKey: Self.typeMetadataKey)
    return RPCError(code: code, message: message, metadata: metadata)
  }
}

/// Innermost on every RPC: logs the failures worth a log line (``SwitchboardError/severity``) and
/// answers an error no handler expected as INTERNAL `internal error`, never with its text.
struct ErrorInterceptor: ServerInterceptor {
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    do {
      return try await next(request, context)
    } catch let error as RPCError {
      throw error
    } catch let error as NIOHTTP2Errors.StreamClosed {
      // The request stream was closed under the handler (the client went away, or the stream
      // guard answered it): nobody waits for this answer, and it is not the service's failure.
      throw RPCError(code: .cancelled, message: "the request stream was closed before it ended", cause: error)
    } catch {
      let answer = SwitchboardError.answering(error)
      switch answer.severity {
      case .error?: logger.error("\(answer.logMessage)", metadata: ["error": "\(answer)"])
      case .warning?: logger.warning("\(answer.logMessage)", metadata: ["error": "\(answer)"])
      case nil: break
      }
      throw answer
    }
  }
}
