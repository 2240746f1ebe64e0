import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// Takes due attempts to the dialer, exactly once each: claims them under a lease, holds back
/// those outside their agent's calling window or over a limit, dials the rest, and records the
/// result. Every replica of role `dispatcher` or `all` runs one; they share the work through
/// `FOR UPDATE SKIP LOCKED`.
public struct Dispatcher: Service {
  public struct Configuration: Sendable {
    /// Names this replica's leases.
    public var replicaID: String
    /// Attempts claimed per query. Default 64.
    public var batchSize = 64
    /// How long a claim holds before another replica may take the attempt.
    public var lease: Duration
    /// Longest wait between looks for due work (notifications cut it short). Default 250 ms.
    public var pollInterval: Duration = .milliseconds(250)
    /// Dials in flight at once; a hanging dialer holds only its own slot. Default 512.
    public var maxInFlight = 512
    /// The wall clock calling windows are checked against (tests set their own).
    public var now: @Sendable () -> Date = { Date() }

    public init(replicaID: String, lease: Duration) {
      self.replicaID = replicaID
      self.lease = lease
    }
  }

  /// Records a dial that failed for good (an outcome event, so policies and webhooks apply).
  public typealias FailureReporter = @Sendable (_ attempt: ClaimedAttempt, _ reason: String) async -> Void

  let store: any DispatchStore
  let dialer: any Dialer
  let configuration: Configuration
  let reportFailure: FailureReporter
  let logger: Logger

  public init(
    store: any DispatchStore, dialer: any Dialer, configuration: Configuration, logger: Logger,
    reportFailure: @escaping FailureReporter
  ) {
    self.store = store
    self.dialer = dialer
    self.configuration = configuration
    self.logger = logger
    self.reportFailure = reportFailure
  }

  /// Claims and dials until graceful shutdown, waits for the dials in flight, then stops the
  /// store's background work (which writes the last dispatched records).
  public func run() async throws {
    await withDiscardingTaskGroup { background in
      background.addTask { await store.run() }
      await claimAndDial()
      background.cancelAll()
    }
  }

  private func claimAndDial() async {
    let slots = Slots(capacity: configuration.maxInFlight)
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled && !Task.isShuttingDownGracefully {
        let free = await slots.waitForFree()
        guard free > 0 else { continue }  // cancelled while waiting
        let batch: [ClaimedAttempt]
        do {
          batch = try await store.claimDue(
            owner: configuration.replicaID, limit: min(configuration.batchSize, free), lease: configuration.lease)
        } catch {
          logger.warning("claiming due attempts failed", metadata: ["error": "\(error)"])
          try? await Task.sleep(for: configuration.pollInterval)
          continue
        }
        if batch.isEmpty {
          await store.waitForWork(timeout: configuration.pollInterval)
          continue
        }
        await slots.take(batch.count)
        for attempt in batch {
          group.addTask {
            await dispatch(attempt)
            await slots.give()
          }
        }
      }
    }
  }

  func dispatch(_ attempt: ClaimedAttempt) async {
    let trace = attempt.request.traceID.lowercased
    do {
      if let window = attempt.callingWindow {
        let now = configuration.now()
        let opening = window.nextOpening(atOrAfter: now)
        if opening > now {
          try await store.postpone(attempt, until: opening, reason: nil)
          return
        }
      }
      if let policy = attempt.recipientHours {
        let now = configuration.now()
        switch policy.decide(
          phone: attempt.request.customerPhone, recipientTimezone: attempt.recipientTimezone, at: now)
        {
        case .inside: break
        case .outside(let opening):
          // Hours that open nowhere in two weeks (zones too far apart) are looked at again in a day.
          try await store.postpone(
            attempt, until: opening ?? now.addingTimeInterval(86_400), reason: .outsideRecipientHours)
          Telemetry.complianceBlocked(reason: .outsideRecipientHours)
          return
        case .unknownZone:
          try await store.suppress(attempt, reason: .unknownTimezone)
          Telemetry.complianceBlocked(reason: .unknownTimezone)
          return
        }
      }
      if attempt.limitsPending || attempt.compliancePending {
        switch try await store.admit(attempt) {
        case .admitted: break
        case .deferred(let until):
          try await store.postpone(attempt, until: until, reason: nil)
          return
        case .held(let until, let reason):
          try await store.postpone(attempt, until: until, reason: reason)
          Telemetry.complianceBlocked(reason: reason)
          return
        case .suppressed(let reason):
          try await store.suppress(attempt, reason: reason)
          return
        case .canceled: return
        }
      }
      Telemetry.dispatched(lag: .seconds(configuration.now().timeIntervalSince(attempt.dueAt)))
      switch await dialer.dial(attempt.request) {
      case .accepted:
        Telemetry.dialResult("accepted")
        try await store.markDispatched(attempt)
      case .failed(let reason):
        Telemetry.dialResult("failed")
        logger.notice("dial failed", metadata: ["trace_id": "\(trace)", "reason": "\(reason)"])
        await reportFailure(attempt, reason)
      }
    } catch {
      // The lease runs out and the attempt is claimed again; nothing is lost.
      logger.warning("dispatch interrupted", metadata: ["trace_id": "\(trace)", "error": "\(error)"])
    }
  }
}

extension Dispatcher {
  /// Records a failed dial as a `failed` event through ``CallOperations``, so retry policies and
  /// outcome webhooks apply as for any other outcome.
  public static func reportingFailures(to operations: CallOperations, logger: Logger) -> FailureReporter {
    { attempt, reason in
      let failure = CallEventInput(
        eventID: "dial-failed-\(UUID.v7().lowercased)", status: CallStatus.failed.rawValue, failureReason: reason)
      do {
        _ = try await operations.recordInternally(
          failure, traceID: attempt.request.traceID, tenantID: attempt.request.tenantID)
      } catch {
        logger.warning("recording a failed dial failed", metadata: ["error": "\(error)"])
      }
    }
  }
}
