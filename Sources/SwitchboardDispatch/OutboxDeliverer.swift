import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

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

  public func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      let batch: [OutboxDelivery]
      do {
        batch = try await outbox.claimDeliveries(limit: 32)
      } catch {
        logger.warning("claiming outcome events failed", metadata: ["error": "\(error)"])
        batch = []
      }
      if batch.isEmpty {
        try? await Task.sleep(for: pollInterval)
        continue
      }
      await withDiscardingTaskGroup { group in
        for delivery in batch { group.addTask { await deliver(delivery) } }
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
