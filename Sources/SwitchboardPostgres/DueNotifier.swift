import Logging
import PostgresNIO
import Synchronization

/// Wakes the dispatchers (`NOTIFY switchboard_due`) after immediate calls are accepted, at most
/// once per `window`. Notifying inside the accept transaction would serialize every commit on
/// PostgreSQL's notification lock (it halved intake throughput when tried), and notifying once
/// per call would add a round trip; one notification per few milliseconds costs neither.
public final class DueNotifier: Sendable {
  let database: Database
  let logger: Logger
  let window: Duration

  private struct State {
    var pending = false
    var stopped = false
    var waiter: CheckedContinuation<Void, Never>?
  }

  private let state = Mutex(State())

  public init(database: Database, logger: Logger, window: Duration = .milliseconds(5)) {
    self.database = database
    self.logger = logger
    self.window = window
  }

  /// Notes that an immediate call was accepted; returns at once.
  public func callAccepted() {
    let waiter = state.withLock { state in
      state.pending = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume()
  }

  /// Sends the notifications until cancelled. One `run` at a time.
  public func run() async {
    while !Task.isCancelled {
      let pending = state.withLock { state in
        defer { state.pending = false }
        return state.pending
      }
      guard pending else {
        await waitForCall()
        continue
      }
      do {
        try await database.run { connection, logger in
          try await connection.query("SELECT pg_notify('switchboard_due', '')", logger: logger)
        }
      } catch {
        logger.debug("NOTIFY switchboard_due failed", metadata: ["error": "\(error)"])
      }
      try? await Task.sleep(for: window)
    }
  }

  private func waitForCall() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let ready = state.withLock { state in
          guard !state.pending, !state.stopped else { return true }
          state.waiter = continuation
          return false
        }
        if ready { continuation.resume() }
      }
    } onCancel: {
      let waiter = state.withLock { state in
        state.stopped = true
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume()
    }
  }
}
