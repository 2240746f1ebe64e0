import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// Ends attempts whose voice runtime fell silent, so that no accepted call stays open for good
/// (and holds one of its tenant's concurrent-call slots), and completes batches whose chains are
/// all final: `dispatched` or `ringing` with no report
/// for `ringTimeout`, `in_progress` for longer than `maxCallDuration`. Each ends `failed`, with a
/// `failure_reason` that says why, through the same path as a reported outcome: chain state, retry
/// policy, outcome webhook. Replicas may reap at once: the failure event's id names the status it
/// ends, so one attempt is ended once.
public struct Reaper: Service {
  public struct Configuration: Sendable {
    /// Default 120 s.
    public var ringTimeout: Duration = .seconds(120)
    /// Default 3600 s.
    public var maxCallDuration: Duration = .seconds(3600)
    /// Attempts looked at per query. Default 100.
    public var batchSize = 100

    public init() {}

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

  public init(store: any DispatchStore, configuration: Configuration, logger: Logger, record: @escaping Record) {
    self.store = store
    self.configuration = configuration
    self.logger = logger
    self.record = record
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
    do {
      silent = try await store.silentAttempts(
        ringTimeout: configuration.ringTimeout, maxCallDuration: configuration.maxCallDuration,
        limit: configuration.batchSize)
    } catch {
      logger.warning("looking for silent attempts failed", metadata: ["error": "\(error)"])
      return 0
    }
    for attempt in silent {
      let event = attempt.failureEvent(
        ringTimeout: configuration.ringTimeout, maxCallDuration: configuration.maxCallDuration)
      do {
        if try await record(attempt, event) {
          Telemetry.reaped(status: attempt.status)
          logger.notice(
            "ended a silent attempt",
            metadata: [
              "trace_id": "\(attempt.traceID.lowercased)", "status": "\(attempt.status.rawValue)",
              "reason": "\(event.failureReason ?? "")",
            ])
        }
      } catch {
        logger.warning(
          "ending a silent attempt failed",
          metadata: ["trace_id": "\(attempt.traceID.lowercased)", "error": "\(error)"])
      }
    }
    return silent.count
  }
}

extension Reaper {
  /// Completes the batches whose every chain is final: the same look for forgotten work, at the
  /// batch's level.
  public func completeBatchesOnce() async {
    do {
      let completed = try await store.completeFinishedBatches(limit: configuration.batchSize)
      if completed > 0 { Telemetry.batchesCompleted(completed) }
    } catch {
      logger.warning("completing finished batches failed", metadata: ["error": "\(error)"])
    }
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
