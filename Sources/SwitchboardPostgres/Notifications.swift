import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import Synchronization

/// The channels replicas tell each other on.
public enum NotificationChannel: String, Sendable {
  /// Immediate calls were accepted: dispatchers, claim now. No payload.
  case due = "switchboard_due"
  /// These chains changed (conversation ids, comma-separated): watchers, read them again.
  case chains = "switchboard_chains"
}

/// Sends `NOTIFY` on one channel after changes committed, at most once per `window`, with what
/// was posted meanwhile as the payload. Notifying inside the writing transactions would serialize
/// every commit on PostgreSQL's notification lock (it halved intake throughput when tried), and
/// notifying once per change would add a round trip; one statement per window costs neither.
///
/// A notifying transaction takes an xid, so its commit waits for a WAL flush while holding that
/// lock: sent every 5 ms by each dispatcher, these commits cut dispatch throughput by a quarter
/// (bench-dispatch, 6,004 → 4,565/s). They commit asynchronously (`synchronous_commit` off for that
/// transaction alone): a notification is a hint, and one lost in a crash costs a watcher a
/// re-read when its listener reconnects.
public final class Notifier: Sendable {
  let database: Database
  let channel: NotificationChannel
  let logger: Logger
  let window: Duration
  private let posted = Mutex<(any: Bool, items: Set<String>)>((false, []))
  private let wakeup = Wakeup()
  /// PostgreSQL's payload limit is 8000 bytes: this many conversation ids fit, with commas.
  static let itemsPerNotification = 200

  /// - Parameter window: the shortest time between two notifications; by default 5 ms for `due`
  ///   (dispatch waits on it) and 25 ms for `chains` (a watcher sees a change that much later at
  ///   most, and a busy dispatcher sends a fifth as many).
  public init(database: Database, channel: NotificationChannel, logger: Logger, window: Duration? = nil) {
    self.database = database
    self.channel = channel
    self.logger = logger
    self.window = window ?? (channel == .due ? .milliseconds(5) : .milliseconds(25))
  }

  /// Notes a change (with `item` for the payload); returns at once.
  public func post(_ item: String? = nil) {
    posted.withLock { posted in
      posted.any = true
      if let item { posted.items.insert(item) }
    }
    wakeup.signal()
  }

  /// Notes changes to chains; returns at once.
  public func post(chains: some Sequence<UUID>) {
    var any = false
    posted.withLock { posted in
      for id in chains {
        posted.items.insert(id.lowercased)
        any = true
      }
      posted.any = posted.any || any
    }
    if any { wakeup.signal() }
  }

  /// Sends the notifications until cancelled. One `run` at a time.
  public func run() async {
    while !Task.isCancelled {
      let (any, items) = posted.withLock { posted in
        defer { posted = (false, []) }
        return posted
      }
      guard any else {
        await wakeup.wait()
        continue
      }
      let list = Array(items)
      let payloads =
        list.isEmpty
        ? [""]
        : stride(from: 0, to: list.count, by: Self.itemsPerNotification).map { start in
          list[start..<min(start + Self.itemsPerNotification, list.count)].joined(separator: ",")
        }
      do {
        try await database.run { connection, logger in
          try await connection.query(
            """
            SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(self.channel.rawValue), payload)
            FROM unnest(\(payloads)::text[]) AS payload
            """,
            logger: logger)
        }
      } catch {
        logger.debug("NOTIFY failed", metadata: ["channel": "\(channel.rawValue)", "error": "\(error)"])
      }
      try? await Task.sleep(for: window)
    }
  }
}

/// `LISTEN` on one channel on one pooled connection, until cancelled. Calls `listening` each time
/// the `LISTEN` takes effect (first, and after a lost connection): what was sent before was missed.
struct NotificationListener: Sendable {
  let client: PostgresClient
  let channel: NotificationChannel
  let logger: Logger

  func listen(
    listening: @escaping @Sendable () -> Void = {}, _ received: @escaping @Sendable (String) -> Void
  ) async {
    while !Task.isCancelled {
      do {
        try await client.withConnection { connection in
          // A connection the server has just closed would swallow the LISTEN.
          guard !connection.isClosed else { return }
          try await connection.listen(on: channel.rawValue) { notifications in
            listening()
            for try await notification in notifications { received(notification.payload) }
          }
        }
      } catch {
        if Task.isCancelled { return }
        logger.debug("LISTEN interrupted", metadata: ["channel": "\(channel.rawValue)", "error": "\(error)"])
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }
}
