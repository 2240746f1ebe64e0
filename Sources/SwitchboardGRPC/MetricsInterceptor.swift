import GRPCCore
import SwitchboardCore

/// Counts and times every RPC by method and status code (``Telemetry/grpcRequest(method:code:duration:)``),
/// when its status is known: as the response is accepted or refused, or for a stream when it ends.
public struct MetricsInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let start = ContinuousClock.now
    let method = context.descriptor.fullyQualifiedMethod
    @Sendable func record(_ code: RPCError.Code?) {
      Telemetry.grpcRequest(method: method, code: code.map(Self.name) ?? "ok", duration: .now - start)
    }
    do {
      return try await next(request, context).onEnd { record($0?.code) }
    } catch {
      record(RPCError.from(error).code)
      throw error
    }
  }

  /// `resource_exhausted`: gRPC's own names in lower snake case, computed once rather than per call.
  static func name(_ code: RPCError.Code) -> String { names[code] ?? snakeCase(code) }

  private static let names: [RPCError.Code: String] = Dictionary(
    uniqueKeysWithValues: [
      RPCError.Code.cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists,
      .permissionDenied, .resourceExhausted, .failedPrecondition, .aborted, .outOfRange, .unimplemented,
      .internalError, .unavailable, .dataLoss, .unauthenticated,
    ].map { ($0, snakeCase($0)) })

  private static func snakeCase(_ code: RPCError.Code) -> String {
    var name = ""
    for character in String(describing: code) {
      if character.isUppercase {
        name += "_" + character.lowercased()
      } else {
        name.append(character)
      }
    }
    return name
  }
}
