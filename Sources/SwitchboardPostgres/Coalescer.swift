import SwitchboardCore
import Synchronization

/// Gathers what the dispatcher's tasks hand it and writes it together: what arrives in the first
/// 2 ms after one item goes in one statement and one commit (a commit per item capped dispatch at
/// ~800/s on 2 cores). Each caller gets its own item's answer. Its flusher runs inside ``run()``,
/// which the dispatcher runs beside its dials, so a graceful shutdown writes the last items
/// before it ends.
final class Coalescer<Item: Sendable, Answer: Sendable>: Sendable {
  /// Writes the items; answers one result per item, in their order.
  typealias Write = @Sendable (_ items: [Item]) async -> [Result<Answer, any Error>]

  private typealias Waiting = (item: Item, done: CheckedContinuation<Answer, any Error>)
  private struct State {
    var pending: [Waiting] = []
    var stopped = false
  }

  private let write: Write
  /// Items of different keys are written in statements of their own, side by side, each answered
  /// as soon as its own is written: one key's slow write (a tenant's lock wait) holds up no other.
  private let partition: (@Sendable (Item) -> Int64)?
  private let state = Mutex(State())
  private let flusher = Wakeup()

  init(partitionedBy partition: (@Sendable (Item) -> Int64)? = nil, write: @escaping Write) {
    self.partition = partition
    self.write = write
  }

  /// The item's answer once its group is written; `unavailable` when the flusher has stopped.
  func submit(_ item: Item) async throws -> Answer {
    try await withCheckedThrowingContinuation { continuation in
      let accepted = state.withLock { state in
        guard !state.stopped else { return false }
        state.pending.append((item, continuation))
        return true
      }
      guard accepted else {
        continuation.resume(throwing: SwitchboardError.unavailable())
        return
      }
      flusher.signal()
    }
  }

  /// Writes the items as they come until cancelled, then the last of them. A slow write does not
  /// hold up the next one.
  func run() async {
    await withTaskCancellationHandler {
      await withDiscardingTaskGroup { group in
        while true {
          if state.withLock({ $0.pending.isEmpty && !$0.stopped }) { await flusher.wait() }
          if !state.withLock({ $0.stopped }) { try? await Task.sleep(for: .milliseconds(2)) }
          let (items, stopped) = state.withLock { state in
            defer { state.pending.removeAll() }
            return (state.pending, state.stopped)
          }
          // What a caller handed over (a dial the dialer took) is written even while this is
          // being stopped: outside the cancellation, and within the database deadline.
          if !items.isEmpty { group.addTask { await Task { await self.flush(items) }.value } }
          if stopped && items.isEmpty { return }
        }
      }
    } onCancel: {
      state.withLock { $0.stopped = true }
      flusher.signal()
    }
  }

  private func flush(_ waiting: [Waiting]) async {
    guard let partition else { return await flushTogether(waiting) }
    await withDiscardingTaskGroup { group in
      for part in Dictionary(grouping: waiting, by: { partition($0.item) }).values {
        group.addTask { await self.flushTogether(part) }
      }
    }
  }

  private func flushTogether(_ waiting: [Waiting]) async {
    let results = await write(waiting.map(\.item))
    for (index, entry) in waiting.enumerated() {
      entry.done.resume(
        with: index < results.count ? results[index] : .failure(SwitchboardError.internalError()))
    }
  }
}
