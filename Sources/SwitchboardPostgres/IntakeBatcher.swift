import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Writes concurrent calls together. A call that arrives while every writer is busy waits for the
/// next free writer, which takes every call waiting by then (up to `maxBatch`) in one statement.
/// An idle service so writes each call at once, alone; a busy one writes many per round trip and
/// per commit, which is where PostgreSQL spent half its time.
///
/// The writers are a lifecycle service (``run()``): they start with it and, on graceful shutdown,
/// write what is still waiting and stop. A call submitted before they start waits for them; one
/// submitted after they stopped is answered `unavailable` at once (nothing was written).
///
/// A batch is one transaction, so one call that fails in the database would fail its neighbours:
/// a batch that fails for any reason but an unavailable database is written again call by call.
/// When the database is unavailable, every call still waiting is answered at once rather than in
/// turn. No call waits longer than `maxWait` for a writer.
final class IntakeBatcher<Call: Sendable, Written: Sendable>: Sendable {
  /// Writes the calls in one statement: one result per call, in order, or one error for all.
  typealias Write = @Sendable ([Call]) async throws(SwitchboardError) -> [Result<Written, SwitchboardError>]

  private struct Waiter {
    let call: Call
    let since: ContinuousClock.Instant
    let continuation: CheckedContinuation<Written, any Error>
  }

  private struct State {
    var waiting: [Waiter] = []
    /// Writers with nothing to do, each waiting to be woken.
    var idle: [CheckedContinuation<Void, Never>] = []
    var stopping = false
    var stopped = false
  }

  private let state = Mutex(State())
  private let writers: Int
  private let maxBatch: Int
  private let maxWait: Duration
  private let write: Write

  /// - Parameters:
  ///   - writers: batches written at once, each on its own connection.
  ///   - maxWait: how long a call may wait for a writer before it is answered `unavailable`.
  ///   - write: writes the calls in one statement.
  init(writers: Int, maxBatch: Int, maxWait: Duration, write: @escaping Write) {
    self.writers = max(1, writers)
    self.maxBatch = max(1, maxBatch)
    self.maxWait = maxWait
    self.write = write
  }

  /// Writes `call` in the next batch; its result, or the error that kept it from being written.
  func submit(_ call: Call) async throws -> Written {
    try await withCheckedThrowingContinuation { continuation in
      let (accepted, writer) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
        guard !state.stopped else { return (false, nil) }
        state.waiting.append(Waiter(call: call, since: .now, continuation: continuation))
        return (true, state.idle.popLast())
      }
      guard accepted else {
        continuation.resume(throwing: SwitchboardError.unavailable())
        return
      }
      writer?.resume()
    }
  }

  /// Calls waiting for a writer (for tests).
  var waitingCount: Int { state.withLock { $0.waiting.count } }

  /// Runs the writers until graceful shutdown or cancellation; then writes what is waiting (or,
  /// when cancelled, answers it `unavailable`) and returns.
  func run() async {
    await withGracefulShutdownHandler {
      await withTaskCancellationHandler {
        await withDiscardingTaskGroup { group in
          for _ in 0..<writers { group.addTask { await self.writeWhileRunning() } }
        }
      } onCancel: {
        self.stop()
      }
    } onGracefulShutdown: {
      self.stop()
    }
    let left = state.withLock { state in
      state.stopped = true
      defer { state.waiting.removeAll() }
      return state.waiting
    }
    for waiter in left { waiter.continuation.resume(throwing: SwitchboardError.unavailable()) }
  }

  private func stop() {
    let idle = state.withLock { state in
      state.stopping = true
      defer { state.idle.removeAll() }
      return state.idle
    }
    for writer in idle { writer.resume() }
  }

  private func writeWhileRunning() async {
    while let batch = await nextBatch() {
      await write(batch)
    }
  }

  /// The next batch; waits while there is none. `nil` once stopping with nothing left to write.
  private func nextBatch() async -> [Waiter]? {
    while true {
      let oldest = ContinuousClock.now - maxWait
      let (batch, expired, stopped) = state.withLock { state -> ([Waiter]?, [Waiter], Bool) in
        let expired = state.waiting.prefix { $0.since < oldest }
        state.waiting.removeFirst(expired.count)
        guard !state.waiting.isEmpty else { return (nil, Array(expired), state.stopping) }
        let count = min(state.waiting.count, maxBatch)
        defer { state.waiting.removeFirst(count) }
        return (Array(state.waiting.prefix(count)), Array(expired), false)
      }
      for waiter in expired { waiter.continuation.resume(throwing: SwitchboardError.unavailable()) }
      if let batch { return batch }
      if stopped { return nil }
      await withCheckedContinuation { (writer: CheckedContinuation<Void, Never>) in
        let ready = state.withLock { state in
          guard state.waiting.isEmpty, !state.stopping else { return true }
          state.idle.append(writer)
          return false
        }
        if ready { writer.resume() }
      }
    }
  }

  private func write(_ batch: [Waiter]) async {
    do throws(SwitchboardError) {
      let written = try await write(batch.map(\.call))
      guard written.count == batch.count else { throw SwitchboardError.internalError() }
      Telemetry.intakeBatch(size: batch.count)
      for (waiter, result) in zip(batch, written) { waiter.continuation.resume(with: result) }
    } catch {
      switch error.kind {
      case .internal where batch.count > 1:
        await withDiscardingTaskGroup { group in
          for waiter in batch { group.addTask { await self.write([waiter]) } }
        }
      case .unavailable:
        // Nothing of the batch was written, and the calls waiting behind it would fare no better.
        let waiting = state.withLock { state in
          defer { state.waiting.removeAll() }
          return state.waiting
        }
        for waiter in batch + waiting { waiter.continuation.resume(throwing: error) }
      default:
        for waiter in batch { waiter.continuation.resume(throwing: error) }
      }
    }
  }
}
