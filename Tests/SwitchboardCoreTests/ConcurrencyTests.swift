import Foundation
import Synchronization
import Testing

@testable import SwitchboardCore

/// The service's hand-made concurrency primitives (`Sources/SwitchboardCore/Concurrency`), each
/// raced: many tasks at once, many rounds. A lost wake-up or a wait that ignores cancellation
/// would hang, so every race runs in ``finishes(within:_:)`` and fails instead.
@Suite("Concurrency primitives, raced")
struct ConcurrencyTests {
  static let bound: Duration = .seconds(60)

  /// Whether `work` ends within `limit`. The work runs in a task of its own, so that one that
  /// never ends (the bug under test) fails the test instead of hanging it.
  static func finishes(within limit: Duration, _ work: @escaping @Sendable () async -> Void) async -> Bool {
    let (ended, ending) = AsyncStream<Bool>.makeStream()
    let worker = Task {
      await work()
      ending.yield(true)
    }
    let timer = Task {
      try? await Task.sleep(for: limit)
      ending.yield(false)
    }
    defer { timer.cancel() }
    for await finished in ended {
      if !finished { worker.cancel() }
      return finished
    }
    return false
  }

  @Test("Wakeup: a signal sent before, during or after the wait is never lost")
  func wakeupNoLostSignal() async {
    let finished = await Self.finishes(within: Self.bound) {
      for _ in 0..<2_000 {
        let wakeup = Wakeup()
        await withTaskGroup(of: Void.self) { group in
          group.addTask { await wakeup.wait() }
          group.addTask { wakeup.signal() }
        }
      }
    }
    #expect(finished, "ended within the bound")
  }

  @Test("Wakeup: many signals racing one waiter resume it once each wait (no double resume)")
  func wakeupManySignals() async {
    let finished = await Self.finishes(within: Self.bound) {
      let wakeup = Wakeup()
      let waits = Counter()
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          for _ in 0..<500 {
            await wakeup.wait()
            waits.add(1)
          }
        }
        // Signals merge while no one waits, so keep signalling until the waiter is done.
        group.addTask {
          while waits.value < 500 {
            for _ in 0..<8 { wakeup.signal() }
            await Task.yield()
          }
        }
      }
      #expect(waits.value == 500)
    }
    #expect(finished, "ended within the bound")
  }

  @Test("Wakeup: a waiting task that is cancelled returns, with no signal")
  func wakeupCancellation() async {
    let finished = await Self.finishes(within: Self.bound) {
      for _ in 0..<500 {
        let wakeup = Wakeup()
        let waiter = Task { await wakeup.wait() }
        waiter.cancel()
        await waiter.value
      }
    }
    #expect(finished, "ended within the bound")
  }

  @Test("Wakeup: a timed wait returns at its timeout when no signal comes")
  func wakeupTimeout() async {
    let finished = await Self.finishes(within: Self.bound) {
      let wakeup = Wakeup()
      for _ in 0..<20 { await wakeup.wait(timeout: .milliseconds(1)) }
    }
    #expect(finished, "ended within the bound")
  }

  @Test("Slots: one loop taking, racing pieces of work giving back, never holds more than the capacity")
  func slotsCapacity() async {
    let finished = await Self.finishes(within: Self.bound) {
      // The dispatcher's shape: one loop waits for free slots and takes what it starts; each
      // piece of work gives its slot back from a task of its own.
      let slots = Slots(capacity: 4)
      let held = Counter()
      let most = Counter()
      await withTaskGroup(of: Void.self) { group in
        var started = 0
        while started < 2_000 {
          let free = await slots.waitForFree()
          let batch = min(free, 3, 2_000 - started)
          await slots.take(batch)
          for _ in 0..<batch {
            most.raise(to: held.add(1))
            group.addTask {
              await Task.yield()
              held.add(-1)
              await slots.give()
            }
          }
          started += batch
        }
      }
      #expect(most.value <= 4)
      #expect(await slots.waitForFree() == 4)
    }
    #expect(finished, "ended within the bound")
  }

  @Test("Slots: a task waiting for a free slot returns when cancelled")
  func slotsCancellation() async {
    let finished = await Self.finishes(within: Self.bound) {
      for _ in 0..<200 {
        let slots = Slots(capacity: 1)
        await slots.take(1)
        let waiter = Task { await slots.waitForFree() }
        waiter.cancel()
        #expect(await waiter.value == 0)
      }
    }
    #expect(finished, "ended within the bound")
  }

  @Test("OnceValue: every waiter, before or after, gets the value; a failure wakes them with nil")
  func onceValue() async {
    let finished = await Self.finishes(within: Self.bound) {
      for round in 0..<200 {
        let port = OnceValue<Int>()
        let value: Int? = round.isMultiple(of: 2) ? round : nil
        let seen = await withTaskGroup(of: Int?.self) { group in
          for _ in 0..<8 { group.addTask { await port.value() } }
          group.addTask {
            await port.set(value)
            return value
          }
          for _ in 0..<8 { group.addTask { await port.value() } }
          return await group.reduce(into: [Int?]()) { $0.append($1) }
        }
        #expect(seen.count == 17)
        #expect(seen.allSatisfy { $0 == value })
      }
    }
    #expect(finished, "ended within the bound")
  }
}

/// A shared count for racing tasks.
private final class Counter: Sendable {
  private let count = Mutex(0)
  var value: Int { count.withLock { $0 } }
  @discardableResult func add(_ delta: Int) -> Int {
    count.withLock {
      $0 += delta
      return $0
    }
  }
  func raise(to value: Int) { count.withLock { $0 = Swift.max($0, value) } }
}
