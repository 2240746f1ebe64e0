import Logging
import PostgresNIO

/// Wakes the dispatchers (`NOTIFY switchboard_due`) after immediate calls are accepted, at most
/// once per `window`. Notifying inside the accept transaction would serialize every commit on
/// PostgreSQL's notification lock (it halved intake throughput when tried), and notifying once
/// per call would add a round trip; one notification per few milliseconds costs neither.
public actor DueNotifier {
  let client: PostgresClient
  let logger: Logger
  let window: Duration
  private var pending = false
  private var waiter: CheckedContinuation<Void, Never>?

  public init(client: PostgresClient, logger: Logger, window: Duration = .milliseconds(5)) {
    self.client = client
    self.logger = logger
    self.window = window
  }

  /// Notes that an immediate call was accepted; returns at once.
  public func callAccepted() {
    pending = true
    if let waiter {
      self.waiter = nil
      waiter.resume()
    }
  }

  /// Sends the notifications until cancelled.
  public func run() async {
    while !Task.isCancelled {
      if !pending {
        await withTaskCancellationHandler {
          await withCheckedContinuation { waiter = $0 }
        } onCancel: {
          Task { await self.callAccepted() }
        }
        continue
      }
      pending = false
      do {
        try await client.query("SELECT pg_notify('switchboard_due', '')", logger: logger)
      } catch {
        logger.debug("NOTIFY switchboard_due failed", metadata: ["error": "\(error)"])
      }
      try? await Task.sleep(for: window)
    }
  }
}
