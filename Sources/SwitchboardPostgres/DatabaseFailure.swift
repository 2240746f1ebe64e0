import PostgresNIO
import SwitchboardCore
import Synchronization

/// Sorts database errors into what the caller should hear: the database is unreachable, overloaded
/// or past its deadline (503, retry) or something is wrong (500).
enum DatabaseFailure {
  static func classify(_ error: any Error) -> SwitchboardError {
    if let error = error as? SwitchboardError { return error }
    if error is DeadlineExceeded || error is CancellationError || error is ConnectionClosed {
      return .unavailable(cause: error)
    }
    if let transaction = error as? PostgresTransactionError {
      return classify(transaction.commitError ?? transaction.closureError ?? transaction.beginError ?? error)
    }
    if let error = error as? PSQLError {
      switch error.code {
      case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .queryCancelled,
        .uncleanShutdown:
        return .unavailable(cause: error)
      case .server:
        let state = error.serverInfo?[.sqlState] ?? ""
        // Class 08 is "connection exception", 53 "insufficient resources", 57 "operator
        // intervention" (57014: statement_timeout; 57P0x: shutdown, recovery), 55P03 "lock not
        // available" (lock_timeout), 40001/40P01 a serialization failure or deadlock, each rolled
        // back: all mean "not now", not "never".
        if state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57") || state == "55P03"
          || state == "40001" || state == "40P01"
        {
          return .unavailable(cause: error)
        }
        return .internalError(cause: error)
      default:
        return .internalError(cause: error)
      }
    }
    // The pool could not lease a connection in time, or is shutting down: not now.
    if PoolErrors.isPoolError(error) { return .unavailable(cause: error) }
    return .internalError(cause: error)
  }

  /// Whether PostgreSQL itself answered with an error, so that what was sent is rolled back: an
  /// error from the server, or a transaction that failed before its COMMIT was sent.
  static func isDecidedByServer(_ error: any Error) -> Bool {
    if let transaction = error as? PostgresTransactionError {
      guard let commit = transaction.commitError else { return true }
      return isDecidedByServer(commit)
    }
    guard let error = error as? PSQLError else { return false }
    return error.code == .server
  }
}

/// The database did not answer within the deadline.
struct DeadlineExceeded: Error, Sendable {}
