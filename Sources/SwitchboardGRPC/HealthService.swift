import GRPCCore
import ServiceLifecycle
import SwitchboardCore

/// `grpc.health.v1.Health`: SERVING while the database answers, NOT_SERVING while it does not.
/// Knows the overall server ("") and `switchboard.v1.CallService`.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  let store: any CallStore

  public init(store: any CallStore) {
    self.store = store
  }

  static let services: Set<String> = ["", "switchboard.v1.CallService"]

  public func check(
    request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard Self.services.contains(request.service) else {
      throw RPCError(code: .notFound, message: "unknown service")
    }
    return await currentStatus()
  }

  /// Sends the status now and on every change, until the client or the server goes away.
  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    guard Self.services.contains(request.service) else {
      var unknown = Grpc_Health_V1_HealthCheckResponse()
      unknown.status = .serviceUnknown
      try await response.write(unknown)
      return
    }
    try await cancelWhenGracefulShutdown {
      var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
      while !Task.isCancelled {
        let status = await currentStatus()
        if status.status != last {
          try await response.write(status)
          last = status.status
        }
        try await Task.sleep(for: .seconds(2))
      }
    }
  }

  private func currentStatus() async -> Grpc_Health_V1_HealthCheckResponse {
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = await store.isReachable() ? .serving : .notServing
    return response
  }
}
