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

  /// Sends at once at most.
  static let concurrency = 32

  /// Claims as many events as there are free sends, and claims again whenever one ends: a target
  /// that is slow to answer holds up only its own sends (each rows of its own, retried on its own),
  /// never another target's.
  public func run() async throws {
    let inFlight = SendCount()
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled && !Task.isShuttingDownGracefully {
        let free = Self.concurrency - inFlight.value.withLock { $0 }
        var batch: [OutboxDelivery] = []
        if free > 0 {
          do {
            batch = try await outbox.claimDeliveries(limit: free)
          } catch {
            logger.warning("claiming outcome events failed", metadata: ["error": "\(error)"])
          }
        }
        for delivery in batch {
          inFlight.value.withLock { $0 += 1 }
          group.addTask {
            await deliver(delivery)
            inFlight.value.withLock { $0 -= 1 }
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

/// Sends under way.
private final class SendCount: Sendable {
  let value = Mutex(0)
}
