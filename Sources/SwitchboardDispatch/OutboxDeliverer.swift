import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Sends outcome events from the outbox to subscribers' webhooks, signed. A failed send is tried
/// again immediately, after 30 s and after 300 s (network errors, timeouts, 429, 5xx), then given up.
public struct OutboxDeliverer: Service {
  /// Waits before the 2nd, 3rd and 4th tries.
  public static let retryDelays: [TimeInterval] = [0, 30, 300]

  let outbox: any OutboxStore
  let sender: WebhookSender
  let pollInterval: Duration
  let logger: Logger

  public init(
    outbox: any OutboxStore, sender: WebhookSender, pollInterval: Duration = .milliseconds(250),
    logger: Logger
  ) {
    self.outbox = outbox
    self.sender = sender
    self.pollInterval = pollInterval
    self.logger = logger
  }

  /// Sends at once at most, to one target, and for one tenant's targets.
  public static let concurrency = 32
  public static let perTarget = 8
  public static let perTenant = 16

  /// Claims as many events as there are free sends, and claims again whenever one ends; a target
  /// with ``perTarget`` sends under way, or a tenant with ``perTenant``, gets no more until one
  /// ends. So a target that is slow to answer holds up only its own events (each a row of its
  /// own, retried on its own), and a tenant's slow targets at most half of the sends; every send
  /// ends within the sender's deadline.
  public func run() async throws {
    let sends = Sends()
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled && !Task.isShuttingDownGracefully {
        let (free, shares) = sends.state.withLock { state in
          (
            Self.concurrency - state.total,
            DeliveryShares(
              perTarget: Self.perTarget, perTenant: Self.perTenant, busyTargets: state.byTarget,
              busyTenants: state.byTenant)
          )
        }
        var batch: [OutboxDelivery] = []
        if free > 0 {
          do {
            batch = try await outbox.claimDeliveries(limit: free, shares: shares)
          } catch {
            logger.warning("claiming outcome events failed", metadata: ["error": "\(error)"])
          }
        }
        for delivery in batch {
          sends.state.withLock { $0.start(delivery) }
          group.addTask {
            await deliver(delivery)
            sends.state.withLock { $0.end(delivery) }
          }
        }
        // A full claim may have more behind it; otherwise wait for new events or a free send.
        if batch.isEmpty || batch.count < free { try? await Task.sleep(for: pollInterval) }
      }
    }
  }

  func deliver(_ delivery: OutboxDelivery) async {
    let outcome = await sender.post(
      delivery.payload, to: delivery.url, secret: delivery.secret, traceparent: delivery.traceparent)
    do {
      switch outcome {
      case .delivered:
        Telemetry.webhookDelivery("delivered")
        try await outbox.markDelivered(delivery)
      case .retryable(let reason):
        Telemetry.webhookDelivery("retry")
        let delays = Self.retryDelays
        let retryAt = delivery.attempt <= delays.count ? Date().addingTimeInterval(delays[delivery.attempt - 1]) : nil
        try await outbox.markFailed(delivery, error: reason, retryAt: retryAt)
      case .rejected(let reason):
        Telemetry.webhookDelivery("rejected")
        try await outbox.markFailed(delivery, error: reason, retryAt: nil)
      }
    } catch {
      logger.warning("recording an outcome delivery failed", metadata: ["error": "\(error)"])
    }
  }
}

/// Sends under way, in all and by target.
private final class Sends: Sendable {
  struct State {
    var total = 0
    /// A delivery without a target (written before targets existed) counts as target 0.
    var byTarget: [Int64: Int] = [:]
    var byTenant: [Int64: Int] = [:]

    mutating func start(_ delivery: OutboxDelivery) {
      total += 1
      byTarget[delivery.targetID ?? 0, default: 0] += 1
      byTenant[delivery.tenantID, default: 0] += 1
    }

    mutating func end(_ delivery: OutboxDelivery) {
      total -= 1
      Self.decrement(&byTarget, delivery.targetID ?? 0)
      Self.decrement(&byTenant, delivery.tenantID)
    }

    private static func decrement(_ counts: inout [Int64: Int], _ key: Int64) {
      counts[key, default: 1] -= 1
      if counts[key] == 0 { counts[key] = nil }
    }
  }

  let state = Mutex(State())
}
