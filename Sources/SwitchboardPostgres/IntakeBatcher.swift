import SwitchboardCore
import Synchronization

/// Writes concurrent calls together. A call that arrives while `writers` batches are already
/// being written waits for the next free writer, which takes every call waiting by then (up to
/// `maxBatch`) in one statement. An idle service so writes each call at once, alone; a busy one
/// writes many per round trip and per commit, which is where PostgreSQL spent half its time.
///
/// A batch is one transaction, so one call that fails in the database would fail its neighbours:
/// a batch that fails for any reason but an unreachable database is written again call by call.
/// When the database is unreachable, every call still waiting is answered at once rather than
/// in turn, and no call waits longer than `maxWait` for a writer.
final class IntakeBatcher<Call: Sendable, Written: Sendable>: Sendable {
  typealias Write = @Sendable ([Call]) async throws(SwitchboardError) -> [Written]

  private struct Waiter {
    let call: Call
    let since: ContinuousClock.Instant
    let continuation: CheckedContinuation<Written, any Error>
  }

  private struct State {
    var waiting: [Waiter] = []
    var writing = 0
  }

  private let state = Mutex(State())
  private let writers: Int
  private let maxBatch: Int
  private let maxWait: Duration
  private let write: Write

  /// - Parameters:
  ///   - writers: batches written at once, each on its own connection.
  ///   - maxWait: how long a call may wait for a writer before it is answered `unavailable`.
  ///   - write: writes the calls in one statement; one result per call, in order.
  init(writers: Int, maxBatch: Int, maxWait: Duration, write: @escaping Write) {
    self.writers = max(1, writers)
    self.maxBatch = max(1, maxBatch)
    self.maxWait = maxWait
    self.write = write
  }

  /// Writes `call` in the next batch; its result, or the error that kept it from being written.
  func submit(_ call: Call) async throws -> Written {
    try await withCheckedThrowingContinuation { continuation in
      let startsWriter = state.withLock { state in
        state.waiting.append(Waiter(call: call, since: .now, continuation: continuation))
        guard state.writing < writers else { return false }
        state.writing += 1
        return true
      }
      if startsWriter {
        Task { await self.writeWhileWaiting() }
      }
    }
  }

  /// Calls waiting for a writer (for tests).
  var waitingCount: Int { state.withLock { $0.waiting.count } }

  private func writeWhileWaiting() async {
    while let batch = nextBatch() {
      await write(batch)
    }
  }

  private func nextBatch() -> [Waiter]? {
    let oldest = ContinuousClock.now - maxWait
    let (batch, expired) = state.withLock { state -> ([Waiter]?, [Waiter]) in
      let expired = state.waiting.prefix { $0.since < oldest }
      state.waiting.removeFirst(expired.count)
      guard !state.waiting.isEmpty else {
        state.writing -= 1
        return (nil, Array(expired))
      }
      let count = min(state.waiting.count, maxBatch)
      defer { state.waiting.removeFirst(count) }
      return (Array(state.waiting.prefix(count)), Array(expired))
    }
    for waiter in expired { waiter.continuation.resume(throwing: SwitchboardError.unavailable()) }
    return batch
  }

  private func write(_ batch: [Waiter]) async {
    do throws(SwitchboardError) {
      let written = try await write(batch.map(\.call))
      guard written.count == batch.count else { throw SwitchboardError.internalError() }
      for (waiter, result) in zip(batch, written) { waiter.continuation.resume(returning: result) }
    } catch {
      switch error.kind {
      case .internal where batch.count > 1:
        await withTaskGroup(of: Void.self) { group in
          for waiter in batch { group.addTask { await self.write([waiter]) } }
        }
        return
      case .unavailable:
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
