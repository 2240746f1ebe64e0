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

  /// Sends at once at most, and to one target.
  public static let concurrency = 32
  public static let perTarget = 8

  /// Claims as many events as there are free sends, and claims again whenever one ends; a target
  /// with ``perTarget`` sends under way gets no more until one ends. So a target that is slow to
  /// answer holds up only its own events (each a row of its own, retried on its own).
  public func run() async throws {
    let sends = Sends()
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled && !Task.isShuttingDownGracefully {
        let (free, busy) = sends.state.withLock { state in
          (Self.concurrency - state.total, state.byTarget.filter { $0.value >= Self.perTarget }.map(\.key))
        }
        var batch: [OutboxDelivery] = []
        if free > 0 {
          do {
            batch = try await outbox.claimDeliveries(limit: free, perTarget: Self.perTarget, skipping: busy)
          } catch {
            logger.warning("claiming outcome events failed", metadata: ["error": "\(error)"])
          }
        }
        for delivery in batch {
          sends.state.withLock { $0.start(delivery.targetID) }
          group.addTask {
            await deliver(delivery)
            sends.state.withLock { $0.end(delivery.targetID) }
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
    var byTarget: [Int64: Int] = [:]

    mutating func start(_ target: Int64?) {
      total += 1
      if let target { byTarget[target, default: 0] += 1 }
    }

    mutating func end(_ target: Int64?) {
      total -= 1
      guard let target else { return }
      byTarget[target, default: 1] -= 1
      if byTarget[target] == 0 { byTarget[target] = nil }
    }
  }

  let state = Mutex(State())
}
