import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
import SwitchboardPostgres
import SwitchboardServer
import SwitchboardTestSupport
import Synchronization
import Testing

/// How a replica starts and stops: one flat group, the schema before any listener, a failed bind
/// or migration fails start-up loudly, and shutdown keeps its deadline.
@Suite("Replica lifecycle", .isolatedDatabases)
struct LifecycleTests {
  static func configuration(_ url: String) -> ServerConfiguration {
    var configuration = ServerConfiguration(databaseURL: url)
    configuration.role = .api
    configuration.grpcHost = "127.0.0.1"
    configuration.grpcPort = 0
    configuration.httpHost = "127.0.0.1"
    configuration.httpPort = 0
    return configuration
  }

  static var quiet: Logger {
    var logger = Logger(label: "lifecycle-tests")
    logger.logLevel = .critical
    return logger
  }

  @Test("an HTTP port already taken fails start-up with the address, and no one waits for the port")
  func failedBind() async throws {
    let (url, _, _) = try await IsolatedDatabase.create(prefix: "lifecycle")
    let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0).get()
    try atTestEnd { try? await taken.close() }
    let port = try #require(taken.localAddress?.port)
    var configuration = Self.configuration(url)
    configuration.httpPort = port
    let server = try SwitchboardServer(configuration: configuration, logger: Self.quiet)
    let group = try await server.serviceGroup()
    let failure = await #expect(throws: (any Error).self) { try await group.run() }
    #expect("\(failure.map { String(describing: $0) } ?? "")".contains("127.0.0.1:\(port)"))
    #expect(await server.httpListeningPort() == nil)
  }

  @Test("a migration that cannot run fails start-up, and nothing listens")
  func failedMigration() async throws {
    let (url, client, _) = try await IsolatedDatabase.create(prefix: "lifecycle")
    try await client.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3")
    let server = try SwitchboardServer(configuration: Self.configuration(url), logger: Self.quiet)
    let group = try await server.serviceGroup()
    await #expect(throws: MigrationError.self) { try await group.run() }
    #expect(await server.httpListeningPort() == nil)
  }

  @Test("a service that ignores graceful shutdown is cancelled at the deadline, and the overrun is told")
  func deadlineCancels() async throws {
    let (url, _, _) = try await IsolatedDatabase.create(prefix: "lifecycle")
    var configuration = Self.configuration(url)
    configuration.shutdownTimeout = .seconds(1)
    let server = try SwitchboardServer(configuration: configuration, logger: Self.quiet)
    let group = try await server.serviceGroup(extra: [("stubborn", IgnoresShutdown())])
    let running = Task { try? await group.run() }
    #expect(await server.httpListeningPort() != nil)
    await group.triggerGracefulShutdown()
    await running.value
    #expect(server.shutdownOverran)
  }

  @Test("a service that ignores cancellation too is named to the overdue handler (the CLI exits non-zero)")
  func overdue() async throws {
    let (url, _, _) = try await IsolatedDatabase.create(prefix: "lifecycle")
    var configuration = Self.configuration(url)
    configuration.shutdownTimeout = .seconds(1)
    let stuck = IgnoresCancellation()
    try atTestEnd { stuck.release() }
    let (named, naming) = AsyncStream<[String]>.makeStream()
    let server = try SwitchboardServer(configuration: configuration, logger: Self.quiet)
    let group = try await server.serviceGroup(extra: [("stuck", stuck)], overdue: { naming.yield($0) })
    let running = Task { try? await group.run() }
    #expect(await server.httpListeningPort() != nil)
    await group.triggerGracefulShutdown()
    var overdue: [String] = []
    for await names in named {
      overdue = names
      break
    }
    #expect(overdue == ["stuck"])
    stuck.release()
    await running.value
  }
}

/// Runs until cancelled, whatever graceful shutdown says.
private struct IgnoresShutdown: Service {
  func run() async throws {
    try await Task.sleep(for: .seconds(3600))
  }
}

/// Runs until the test releases it: neither graceful shutdown nor cancellation ends it.
private final class IgnoresCancellation: Service, Sendable {
  private let state = Mutex<(released: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

  func run() async throws {
    await withCheckedContinuation { continuation in
      let now = state.withLock { state in
        if state.released { return true }
        state.waiter = continuation
        return false
      }
      if now { continuation.resume() }
    }
  }

  func release() {
    let waiter = state.withLock { state in
      state.released = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume()
  }
}
