import Synchronization

/// Wakes one waiting task: a signal wakes the task waiting now, or else the next one to wait.
/// Signals that come while no one waits are merged into one. The waiters of the service (the
/// dispatcher between claims, the NOTIFY senders, the dispatched-record writer, the watchers'
/// hub) all wait on one of these, one task each. A second task waiting at once would take the
/// first one's place, which then waits for ever: each loop owns its Wakeup.
public final class Wakeup: Sendable {
  private struct State {
    /// A signal no wait has taken yet.
    var pending = false
    /// Which wait is current, so that a stale timer cannot end a later one.
    var generation = 0
    /// The current wait's timer or cancellation came before it parked.
    var released = false
    var parked: CheckedContinuation<Void, Never>?
  }

  private let state = Mutex(State())

  public init() {}

  /// Wakes the waiting task, or the next wait if no task waits now.
  public func signal() {
    let parked = state.withLock { state in
      guard let parked = state.parked else {
        state.pending = true
        return nil as CheckedContinuation<Void, Never>?
      }
      state.parked = nil
      return parked
    }
    parked?.resume()
  }

  /// Returns at the next signal (at once if one came since the last wait), when the task is
  /// cancelled, or after `timeout`. One task waits at a time.
  public func wait(timeout: Duration? = nil) async {
    let generation = state.withLock { state -> Int? in
      if state.pending {
        state.pending = false
        return nil
      }
      state.generation += 1
      state.released = false
      return state.generation
    }
    guard let generation else { return }
    let timer = timeout.map { timeout in
      Task { [weak self] in
        try? await Task.sleep(for: timeout)
        self?.release(generation)
      }
    }
    defer { timer?.cancel() }
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let now = state.withLock { state in
          if state.pending || state.released || state.generation != generation {
            state.pending = false
            return true
          }
          state.parked = continuation
          return false
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      release(generation)
    }
  }

  private func release(_ generation: Int) {
    let parked = state.withLock { state -> CheckedContinuation<Void, Never>? in
      guard state.generation == generation else { return nil }
      guard let parked = state.parked else {
        state.released = true
        return nil
      }
      state.parked = nil
      return parked
    }
    parked?.resume()
  }
}
