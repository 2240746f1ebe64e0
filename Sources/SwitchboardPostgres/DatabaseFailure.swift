import PostgresNIO
import SwitchboardCore

/// Sorts database errors into what the caller should hear: the database is unreachable or
/// overloaded (503, retry) or something is wrong (500).
enum DatabaseFailure {
  static func classify(_ error: any Error) -> SwitchboardError {
    if error is DeadlineExceeded { return .unavailable(cause: DeadlineExceeded()) }
    if let error = error as? PSQLError {
      switch error.code {
      case .connectionError, .serverClosedConnection, .poolClosed, .queryCancelled, .uncleanShutdown:
        return .unavailable(cause: error)
      case .server:
        // Class 08 is "connection exception", 53 "insufficient resources", 57P0x "operator
        // intervention" (shutdown, recovery); all mean "not now", not "never".
        let state = error.serverInfo?[.sqlState] ?? ""
        if state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P") {
          return .unavailable(cause: error)
        }
        return .internalError(cause: error)
      default:
        return .internalError(cause: error)
      }
    }
    if String(describing: type(of: error)).contains("ConnectionPoolError") { return .unavailable(cause: nil) }
    return .internalError(cause: error)
  }
}

/// The database did not answer within the deadline.
struct DeadlineExceeded: Error, Sendable {}

/// Runs `work`, giving up with ``DeadlineExceeded`` after `timeout` (the work is cancelled).
func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T
{
  try await withThrowingTaskGroup(of: T.self) { group in
    group.addTask { try await work() }
    group.addTask {
      try await Task.sleep(for: timeout)
      throw DeadlineExceeded()
    }
    defer { group.cancelAll() }
    guard let result = try await group.next() else { throw DeadlineExceeded() }
    return result
  }
}
