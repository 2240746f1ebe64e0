/// Counts work in flight (the dispatcher's dials) so that a loop never takes more than it can
/// start: it waits for a free slot, takes what it starts, and each piece of work gives its slot
/// back. One task waits at a time (the loop); a wait returns when a slot is given back or when
/// the waiting task is cancelled (answering 0 then).
public actor Slots {
  private var free: Int
  private var waiter: CheckedContinuation<Void, Never>?

  public init(capacity: Int) { free = max(1, capacity) }

  /// The free slots, once there is at least one; 0 if the task was cancelled while waiting.
  public func waitForFree() async -> Int {
    if free == 0 {
      await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
          if Task.isCancelled {
            continuation.resume()
          } else {
            waiter = continuation
          }
        }
      } onCancel: {
        Task { await self.release() }
      }
    }
    return free
  }

  /// Takes `count` slots (at most the free ones the last wait answered).
  public func take(_ count: Int) { free -= count }

  /// Gives a slot back, waking the waiting task.
  public func give() {
    free += 1
    release()
  }

  private func release() {
    if let waiter {
      self.waiter = nil
      waiter.resume()
    }
  }
}
