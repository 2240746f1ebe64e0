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

  /// `resource_exhausted`, as gRPC's own names but in lower snake case.
  static func name(_ code: RPCError.Code) -> String {
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
