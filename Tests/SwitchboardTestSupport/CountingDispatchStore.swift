import Foundation
import SwitchboardCore
import Synchronization

/// A dispatch store that counts the claims made through it: a test waits for a number of claim
/// rounds (a signal) rather than for a time.
package final class CountingDispatchStore: DispatchStore {
  private let base: any DispatchStore
  private let rounds = Mutex(0)

  package init(_ base: any DispatchStore) { self.base = base }

  /// Claim queries answered so far (each dispatcher round makes one).
  package var claims: Int { rounds.withLock { $0 } }

  package func claimDue(owner: String, limit: Int, lease: Duration) async throws -> [ClaimedAttempt] {
    defer { rounds.withLock { $0 += 1 } }
    return try await base.claimDue(owner: owner, limit: limit, lease: lease)
  }

  package func admit(_ attempt: ClaimedAttempt) async throws -> Admission { try await base.admit(attempt) }
  package func postpone(_ attempt: ClaimedAttempt, until: Date, reason: BlockedReason?) async throws {
    try await base.postpone(attempt, until: until, reason: reason)
  }
  package func suppress(_ attempt: ClaimedAttempt, reason: BlockedReason) async throws {
    try await base.suppress(attempt, reason: reason)
  }
  package func markDispatched(_ attempt: ClaimedAttempt) async throws { try await base.markDispatched(attempt) }
  package func waitForWork(timeout: Duration) async { await base.waitForWork(timeout: timeout) }
  package func run() async { await base.run() }
  package func silentAttempts(
    ringTimeout: Duration, maxCallDuration: Duration, limit: Int, excluding: [UUID]
  ) async throws -> [SilentAttempt] {
    try await base.silentAttempts(
      ringTimeout: ringTimeout, maxCallDuration: maxCallDuration, limit: limit, excluding: excluding)
  }
  package func finishedBatches(limit: Int, excluding: [Int64]) async throws -> [BatchKey] {
    try await base.finishedBatches(limit: limit, excluding: excluding)
  }
  package func completeBatch(_ batch: BatchKey) async throws -> Bool { try await base.completeBatch(batch) }
}
