import PostgresNIO
import SwitchboardCore
import Synchronization

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

/// Per-query deadlines without a timer per query: each query runs as a task registered here, and
/// one ticker (every 100 ms) cancels those past their deadline. A task group racing a sleep per
/// query cost a measurable share of intake CPU in timer bookkeeping.
final class QueryDeadlines: Sendable {
  static let shared = QueryDeadlines()

  private struct Entry {
    let deadline: ContinuousClock.Instant
    let cancel: @Sendable () -> Void
  }

  private struct State {
    var nextID = 0
    var entries: [Int: Entry] = [:]
    var expired: Set<Int> = []
    var ticking = false
  }

  private let state = Mutex(State())

  /// Runs `work`, throwing ``DeadlineExceeded`` if it has not finished within `timeout`.
  func run<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await work() }
    let id = register(deadline: .now + timeout) { task.cancel() }
    do {
      let value = try await withTaskCancellationHandler {
        try await task.value
      } onCancel: {
        task.cancel()
      }
      _ = finish(id)
      return value
    } catch {
      if finish(id) { throw DeadlineExceeded() }
      throw error
    }
  }

  private func register(deadline: ContinuousClock.Instant, cancel: @escaping @Sendable () -> Void) -> Int {
    let (id, startTicker) = state.withLock { state in
      state.nextID += 1
      state.entries[state.nextID] = Entry(deadline: deadline, cancel: cancel)
      defer { state.ticking = true }
      return (state.nextID, !state.ticking)
    }
    if startTicker {
      Task.detached { [self] in
        while true {
          try? await Task.sleep(for: .milliseconds(100))
          expire()
        }
      }
    }
    return id
  }

  /// Forgets the query; whether its deadline had passed.
  private func finish(_ id: Int) -> Bool {
    state.withLock { state in
      state.entries[id] = nil
      return state.expired.remove(id) != nil
    }
  }

  private func expire() {
    let now = ContinuousClock.now
    let due = state.withLock { state -> [Entry] in
      let ids = state.entries.filter { $0.value.deadline <= now }.map(\.key)
      return ids.compactMap { id in
        state.expired.insert(id)
        return state.entries.removeValue(forKey: id)
      }
    }
    due.forEach { $0.cancel() }
  }
}
