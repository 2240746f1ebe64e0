import Dispatch
import Logging
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardPostgres
import Synchronization

// How a replica starts and stops: one flat service group, in start order (the pool, the
// migration, then every service of the role); each service but the pool starts only once the
// schema is current, and each logs its stop. Graceful shutdown stops them in reverse order
// within `--shutdown-timeout`; past it the group cancels what is left, the replica names it, and
// (if even that does not end it soon) exits.

/// The replica's services by name, while they run.
final class RunningServices: Sendable {
  private let names = Mutex<[String]>([])
  /// Whether graceful shutdown has begun.
  let shuttingDown = Atomic(false)
  /// Whether shutdown overran its deadline: a service had to be cancelled.
  let overran = Atomic(false)

  func started(_ name: String) { names.withLock { $0.append(name) } }
  func stopped(_ name: String) { names.withLock { $0.removeAll { $0 == name } } }
  var running: [String] { names.withLock { $0 } }
}

/// Migrates, runs the caller's `onMigrated`, then opens the gate for every other service; stays
/// until shutdown (its end would end the group). A failed migration fails the group: nothing
/// has listened yet.
struct MigrationService: Service {
  let client: PostgresClient
  let gate: OnceValue<Bool>
  let onMigrated: @Sendable (PostgresClient) async throws -> Void
  /// Settles what waits for listeners (their ports) when they will not start.
  let failed: @Sendable () async -> Void
  let logger: Logger

  func run() async throws {
    do {
      try await Migrator(client: client, logger: logger).migrate()
      try await onMigrated(client)
    } catch {
      await gate.set(false)
      await failed()
      logger.error("migration failed; nothing was served", metadata: ["error": "\(error)"])
      throw error
    }
    await gate.set(true)
    try? await gracefulShutdown()
  }
}

/// One service of the replica, named: it starts when the gate opens, and its stop is logged at
/// notice (so a shutdown's progress can be read in the log).
struct ReplicaService: Service {
  let name: String
  let base: any Service
  let gate: OnceValue<Bool>
  let running: RunningServices
  let logger: Logger

  func run() async throws {
    // A group cancelled before the schema was current stops waiting too.
    let opened = await withTaskCancellationHandler {
      await gate.value() == true
    } onCancel: {
      Task { await gate.set(false) }
    }
    guard opened else { return }
    running.started(name)
    defer { running.stopped(name) }
    do {
      try await base.run()
    } catch {
      stopped(error: error)
      throw error
    }
    stopped(error: nil)
  }

  private func stopped(error: (any Error)?) {
    var metadata: Logger.Metadata = ["service": "\(name)"]
    if let error { metadata["error"] = "\(error)" }
    // Cancelled while shutting down: the group's deadline passed with this one still running.
    if Task.isCancelled && running.shuttingDown.load(ordering: .sequentiallyConsistent) {
      running.overran.store(true, ordering: .sequentiallyConsistent)
      logger.error("service cancelled at the shutdown deadline", metadata: metadata)
    } else {
      logger.notice("service stopped", metadata: metadata)
    }
  }
}

/// Last in the group, so the first to hear of graceful shutdown: it starts the deadline's clock.
/// At `timeout` it names the services still running (the group cancels them then); if they are
/// still running `grace` later, `overdue` runs (the CLI exits non-zero). The clock is a
/// dispatch timer, which fires even when no task can run.
struct ShutdownWatchdog: Service {
  let timeout: Duration
  let grace: Duration
  let running: RunningServices
  let logger: Logger
  let overdue: @Sendable ([String]) -> Void

  func run() async throws {
    try? await gracefulShutdown()
    running.shuttingDown.store(true, ordering: .sequentiallyConsistent)
    logger.notice("shutting down", metadata: ["deadline_seconds": "\(timeout.components.seconds)"])
    let (running, logger, overdue, grace) = (running, logger, overdue, grace)
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) {
      let left = running.running
      guard !left.isEmpty else { return }
      running.overran.store(true, ordering: .sequentiallyConsistent)
      logger.error(
        "graceful shutdown passed its deadline; cancelling",
        metadata: ["still_running": "\(left.joined(separator: ","))"])
      DispatchQueue.global().asyncAfter(deadline: .now() + grace.dispatchInterval) {
        let stuck = running.running
        guard !stuck.isEmpty else { return }
        logger.critical(
          "services did not stop when cancelled", metadata: ["still_running": "\(stuck.joined(separator: ","))"])
        overdue(stuck)
      }
    }
  }
}

extension Duration {
  fileprivate var dispatchInterval: DispatchTimeInterval {
    .milliseconds(Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000))
  }
}
