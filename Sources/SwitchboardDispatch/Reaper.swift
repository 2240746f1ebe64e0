import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Ends attempts whose voice runtime fell silent, so that no accepted call stays open for good
/// (and holds one of its tenant's concurrent-call slots), and completes batches whose chains are
/// all final: `dispatched` or `ringing` with no report
/// for `ringTimeout`, `in_progress` for longer than `maxCallDuration`. Each ends `failed`, with a
/// `failure_reason` that says why, through the same path as a reported outcome: chain state, retry
/// policy, outcome webhook. Replicas may reap at once: the failure event's id names the status it
/// ends, so one attempt is ended once.
public struct Reaper: Service {
  /// `--ring-timeout` and `--max-call-duration`, as the replica's configuration says.
  public struct Configuration: Sendable {
    public var ringTimeout: Duration
    public var maxCallDuration: Duration
    /// Attempts looked at per query: the query's size, not a setting.
    public var batchSize = 100

    public init(ringTimeout: Duration, maxCallDuration: Duration) {
      self.ringTimeout = ringTimeout
      self.maxCallDuration = maxCallDuration
    }

    /// Between looks: a quarter of the shorter limit, between 100 ms and 5 s.
    var interval: Duration {
      min(max(min(ringTimeout, maxCallDuration) / 4, .milliseconds(100)), .seconds(5))
    }
  }

  /// Records the failure event; whether it ended the attempt.
  public typealias Record = @Sendable (_ attempt: SilentAttempt, _ event: CallEventInput) async throws -> Bool

  let store: any DispatchStore
  let configuration: Configuration
  let record: Record
  let logger: Logger
  /// The rows this replica's sweeps failed on: one tenant's bad row is logged, left out of the
  /// next looks and retried later, never holding up the others.
  let setAside: SetAside
  let now: @Sendable () -> ContinuousClock.Instant

  public init(
    store: any DispatchStore, configuration: Configuration, logger: Logger,
    now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }, record: @escaping Record
  ) {
    self.store = store
    self.configuration = configuration
    self.logger = logger
    self.record = record
    self.now = now
    self.setAside = SetAside()
  }

  final class SetAside: Sendable {
    let attempts = Mutex(SweepQuarantine<UUID>())
    let batches = Mutex(SweepQuarantine<Int64>())
  }

  public func run() async throws {
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        let reaped = await reapOnce()
        await completeBatchesOnce()
        if reaped < configuration.batchSize { try await Task.sleep(for: configuration.interval) }
      }
    }
  }

  /// One look: ends what it finds silent; how many it looked at.
  @discardableResult
  public func reapOnce() async -> Int {
    let silent: [SilentAttempt]
    let excluded = setAside.attempts.withLock { $0.excluded(now: now()) }
    do {
      silent = try await store.silentAttempts(
        ringTimeout: configuration.ringTimeout, maxCallDuration: configuration.maxCallDuration,
        limit: configuration.batchSize, excluding: excluded)
    } catch {
      logger.warning("looking for silent attempts failed", metadata: ["error": "\(error)"])
      return 0
    }
    for attempt in silent {
      let event = attempt.failureEvent(
        ringTimeout: configuration.ringTimeout, maxCallDuration: configuration.maxCallDuration)
      do {
        let ended = try await record(attempt, event)
        setAside.attempts.withLock { $0.succeeded(attempt.traceID) }
        if ended {
          Telemetry.reaped(status: attempt.status)
          logger.notice(
            "ended a silent attempt",
            metadata: [
              "trace_id": "\(attempt.traceID.lowercased)", "status": "\(attempt.status.rawValue)",
              "reason": "\(event.failureReason ?? "")",
            ])
        }
      } catch {
        setAside.attempts.withLock { $0.failed(attempt.traceID, now: now()) }
        logger.warning(
          "ending a silent attempt failed; set aside, retried later",
          metadata: [
            "tenant_id": "\(attempt.tenantID)", "trace_id": "\(attempt.traceID.lowercased)", "error": "\(error)",
          ])
      }
    }
    return silent.count
  }
}

extension Reaper {
  /// Completes the batches whose every chain is final: the same look for forgotten work, at the
  /// batch's level. Each batch in a transaction of its own: one that fails is logged, set aside
  /// and retried later, and the others complete. How many completed.
  @discardableResult
  public func completeBatchesOnce() async -> Int {
    let finished: [BatchKey]
    do {
      finished = try await store.finishedBatches(
        limit: configuration.batchSize, excluding: setAside.batches.withLock { $0.excluded(now: now()) })
    } catch {
      logger.warning("looking for finished batches failed", metadata: ["error": "\(error)"])
      return 0
    }
    var completed = 0
    for batch in finished {
      do {
        if try await store.completeBatch(batch) { completed += 1 }
        setAside.batches.withLock { $0.succeeded(batch.batchID) }
      } catch {
        setAside.batches.withLock { $0.failed(batch.batchID, now: now()) }
        logger.warning(
          "completing a finished batch failed; set aside, retried later",
          metadata: ["tenant_id": "\(batch.tenantID)", "batch_id": "\(batch.batchID)", "error": "\(error)"])
      }
    }
    if completed > 0 { Telemetry.batchesCompleted(completed) }
    return completed
  }

  /// Records through ``CallOperations``, as any reported outcome.
  public static func recording(to operations: CallOperations) -> Record {
    { attempt, event in
      let outcome = try await operations.recordInternally(event, traceID: attempt.traceID, tenantID: attempt.tenantID)
      if case .recorded = outcome { return true }
      return false
    }
  }
}
