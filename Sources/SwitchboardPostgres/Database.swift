import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SwitchboardCore
import Synchronization

/// Every query of the service goes through here: on one pooled connection, under a deadline that
/// holds whatever the database or the network does.
///
/// - In PostgreSQL: each connection starts with `statement_timeout` and `lock_timeout` at the
///   deadline (see `ServerConfiguration.postgresConfiguration`), so the server itself aborts and
///   rolls back a statement that runs too long, and says so.
/// - Here: the caller waits for the work or for the deadline (plus ``serverGrace``, the time the
///   server's own abort takes to arrive), whichever comes first. At the deadline the work's
///   connection is closed, which also ends a statement stuck on a silent network, and the caller
///   learns whether anything could have been written.
///
/// The caller never awaits the work itself. postgres-nio 1.33 never completes a query written to a
/// connection that has just closed (the pool can lease one in the moment between the server
/// closing it and the pool hearing of it), nor does it honour task cancellation in a query; a
/// request that awaited such a query hung, and graceful shutdown with it.
public struct Database: Sendable {
  public let client: PostgresClient
  /// The deadline of one operation. Default 5 s.
  public let timeout: Duration
  let logger: Logger
  private let backends = BackendIDs()
  private let abandoned = AbandonedConnections()

  /// How long past a deadline the service waits for PostgreSQL's own timeout to arrive, so that
  /// the server's definite answer usually wins over abandoning the statement.
  static let serverGrace: Duration = .milliseconds(250)
  /// Time to find out what an abandoned write did.
  static let resolveBudget: Duration = .seconds(1)

  public init(client: PostgresClient, timeout: Duration, logger: Logger) {
    self.client = client
    self.timeout = timeout
    self.logger = logger
  }

  /// Runs `work` by `deadline` (default: now plus ``timeout``). Any failure is a
  /// ``SwitchboardError``: `.unavailable` when the database could not answer in time.
  @discardableResult
  public func run<T: Sendable>(
    until deadline: ContinuousClock.Instant? = nil,
    _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
  ) async throws(SwitchboardError) -> T {
    do {
      return try await bounded(until: deadline ?? .now + timeout, knowingBackend: false, work)
    } catch {
      throw error.failure.error
    }
  }

  /// Runs `count` every 5 ms until it answers 0 or `deadline` passes: how a write that must not
  /// be answered while dials it forbade are still starting (a pause, a suppression) waits them
  /// out. A failure ends the wait; it and the deadline are logged with `what` and `metadata`.
  func waitForNone(
    until deadline: ContinuousClock.Instant, _ what: String, metadata: Logger.Metadata,
    _ count: @escaping @Sendable (PostgresConnection, Logger) async throws -> Int
  ) async {
    while ContinuousClock.now < deadline {
      do {
        if try await run(until: deadline, count) == 0 { return }
      } catch {
        logger.warning(
          "\(what): could not check for dials starting", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        return
      }
      do { try await Task.sleep(for: .milliseconds(5)) } catch { return }
    }
    logger.notice("\(what): dials still starting at the deadline", metadata: metadata)
  }

  /// Runs a write by `deadline`. Its failure says whether the write may have been committed.
  func write<T: Sendable>(
    until deadline: ContinuousClock.Instant? = nil,
    _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
  ) async throws(WriteFailure) -> T {
    do {
      return try await bounded(until: deadline ?? .now + timeout, knowingBackend: true, work)
    } catch {
      throw error.failure
    }
  }

  /// Runs a write; when its answer is lost, answers what `readBack` finds it left instead (see
  /// ``resolve(backend:_:)``): surely nothing, a 503; still unknown, `unknown`.
  func write<T: Sendable>(
    until deadline: ContinuousClock.Instant? = nil,
    _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> T,
    readingBack readBack: @escaping @Sendable (PostgresConnection, Logger) async throws -> T?,
    unknown: (_ cause: any Error) -> SwitchboardError
  ) async throws(SwitchboardError) -> T {
    do throws(WriteFailure) {
      return try await write(until: deadline, work)
    } catch {
      guard case .unknown(let backend, let cause) = error else { throw error.error }
      switch await resolve(backend: backend, readBack) {
      case .written(let found): return found
      case .notWritten: throw .unavailable(cause: cause)
      case .unknown: throw unknown(cause)
      }
    }
  }

  /// After a write of unknown outcome: stops the server process that ran it (so it can no longer
  /// commit), then runs `readBack`. `.written` with what it found; `.notWritten` when it found
  /// nothing and the process is gone; `.unknown` when the database cannot tell in time.
  func resolve<T: Sendable>(
    backend: Backend?, _ readBack: @escaping @Sendable (PostgresConnection, Logger) async throws -> T?
  ) async -> Resolution<T> {
    do {
      return try await run(until: .now + Self.resolveBudget) { connection, logger in
        var gone = false
        if let backend {
          // Waits up to 500 ms for the process to exit (true once it has left the process array,
          // its transaction ended). The process is named by its pid and its start to the
          // microsecond: once it is gone (the usual case when its connection broke) its pid may
          // belong to a new backend, another replica's, which must not be stopped. No such
          // process: it is gone, and its transaction with it.
          let rows = try await connection.query(
            """
            WITH this AS MATERIALIZED (
              SELECT pid FROM pg_stat_activity WHERE pid = \(backend.pid)
                AND (extract(epoch FROM backend_start) * 1000000)::bigint = \(backend.startMicroseconds)
            ), stopped AS MATERIALIZED (SELECT pg_terminate_backend(pid, 500) AS done FROM this)
            SELECT coalesce((SELECT bool_and(done) FROM stopped), true)
              OR NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid IN (SELECT pid FROM this))
            """, logger: logger)
          for try await exited in rows.decode(Bool.self) { gone = exited }
        }
        if let found = try await readBack(connection, logger) { return .written(found) }
        return gone ? .notWritten : .unknown
      }
    } catch {
      logger.warning("could not find out what an interrupted write did", metadata: ["error": "\(error)"])
      return .unknown
    }
  }

  private func bounded<T: Sendable>(
    until deadline: ContinuousClock.Instant, knowingBackend: Bool,
    _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
  ) async throws(Interrupted) -> T {
    let race = Race<T>(abandoned: abandoned)
    let (client, logger, backends, abandoned) = (client, logger, backends, abandoned)
    race.start {
      // A connection the server has already closed would swallow the query (see above): take
      // another. The pool drops the closed one once it hears of the close.
      for _ in 0..<3 {
        let outcome: T? = try await client.withConnection { connection in
          // An abandoned connection may come back from the pool before its close completes: the
          // abandoning operation's lease ends when its work is cancelled, and the close is sent
          // then, not finished.
          guard !connection.isClosed, !abandoned.contains(connection) else {
            // The pool hears of the close in a callback registered before this one: once this
            // returns, it will not hand the connection out again.
            try? await connection.closeFuture.get()
            return nil
          }
          guard race.leased(connection) else { throw CancellationError() }
          let backend = knowingBackend ? try await backends.id(of: connection, logger: logger) : nil
          guard race.sending(backend: backend) else { throw CancellationError() }
          return try await work(connection, logger)
        }
        if let outcome { return outcome }
      }
      throw ConnectionClosed()
    }
    let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(
      in: TimeAmount(max(.zero, deadline + Self.serverGrace - .now))
    ) {
      race.abandon()
    }
    defer { timer.cancel() }
    do {
      return try await withTaskCancellationHandler {
        try await race.value()
      } onCancel: {
        race.abandon()
      }
    } catch let error as Interrupted {
      throw error
    } catch {
      throw Interrupted(failure: .notWritten(DatabaseFailure.classify(error)))
    }
  }
}

/// The pool kept handing out connections the server had closed.
struct ConnectionClosed: Error {}

/// How a write ended without its answer.
enum WriteFailure: Error {
  /// Nothing was written: the statement never left, or PostgreSQL refused it and rolled back.
  case notWritten(SwitchboardError)
  /// The statement was sent and its answer never came (deadline, broken connection): PostgreSQL may
  /// have committed it. `backend` is the server process that ran it.
  case unknown(backend: Backend?, cause: any Error)

  /// The error a caller sees when the outcome stays unknown: 503, like any unavailability.
  var error: SwitchboardError {
    switch self {
    case .notWritten(let error): error
    case .unknown(_, let cause): .unavailable(cause: cause)
    }
  }
}

/// What a write of unknown outcome turned out to have done.
enum Resolution<T: Sendable>: Sendable {
  case written(T)
  case notWritten
  case unknown
}

/// The failure of a bounded operation, sorted by what it means for a write.
struct Interrupted: Error {
  let failure: WriteFailure
}

/// The caller's wait against the work: whichever ends first decides, exactly once.
private final class Race<T: Sendable>: Sendable {
  private enum Phase {
    case leasing
    case leased(PostgresConnection)
    case sent(PostgresConnection, backend: Backend?)
  }

  private struct State {
    var phase = Phase.leasing
    var outcome: Result<T, Interrupted>?
    var waiter: CheckedContinuation<T, any Error>?
    var task: Task<Void, Never>?
  }

  private let state = Mutex(State())
  private let abandoned: AbandonedConnections

  init(abandoned: AbandonedConnections) {
    self.abandoned = abandoned
  }

  func start(_ work: @escaping @Sendable () async throws -> T) {
    let task = Task {
      do {
        finish(.success(try await work()))
      } catch {
        finish(.failure(interruption(by: error)))
      }
    }
    let over = state.withLock { state in
      state.task = task
      return state.outcome != nil
    }
    if over { task.cancel() }
  }

  /// The work holds `connection`; false if the caller has already been answered.
  func leased(_ connection: PostgresConnection) -> Bool {
    state.withLock { state in
      guard state.outcome == nil else { return false }
      state.phase = .leased(connection)
      return true
    }
  }

  /// The work is about to send its statements; false if the caller has already been answered.
  func sending(backend: Backend?) -> Bool {
    state.withLock { state in
      guard state.outcome == nil, case .leased(let connection) = state.phase else { return false }
      state.phase = .sent(connection, backend: backend)
      return true
    }
  }

  /// The deadline passed or the caller went away: answer now, and close the connection so that
  /// the work ends too.
  func abandon() {
    let abandoned = state.withLock {
      state -> (Interrupted, CheckedContinuation<T, any Error>?, PostgresConnection?, Task<Void, Never>?)? in
      guard state.outcome == nil else { return nil }
      let interrupted: Interrupted
      var connection: PostgresConnection?
      switch state.phase {
      case .leasing:
        interrupted = Interrupted(failure: .notWritten(.unavailable(cause: DeadlineExceeded())))
      case .leased(let leased):
        interrupted = Interrupted(failure: .notWritten(.unavailable(cause: DeadlineExceeded())))
        connection = leased
      case .sent(let sent, let backend):
        interrupted = Interrupted(failure: .unknown(backend: backend, cause: DeadlineExceeded()))
        connection = sent
      }
      state.outcome = .failure(interrupted)
      defer { state.waiter = nil }
      return (interrupted, state.waiter, connection, state.task)
    }
    guard let (interrupted, waiter, connection, task) = abandoned else { return }
    if let connection { self.abandoned.add(connection) }
    task?.cancel()
    if let connection { let _: EventLoopFuture<Void> = connection.close() }
    waiter?.resume(throwing: interrupted)
  }

  func value() async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let outcome = state.withLock { state in
        if state.outcome == nil { state.waiter = continuation }
        return state.outcome
      }
      if let outcome { continuation.resume(with: outcome) }
    }
  }

  private func finish(_ outcome: Result<T, Interrupted>) {
    let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
      guard state.outcome == nil else { return nil }
      state.outcome = outcome
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume(with: outcome)
  }

  /// What `error`, thrown by the work, means for a write.
  private func interruption(by error: any Error) -> Interrupted {
    let sent: (Bool, Backend?) = state.withLock { state in
      if case .sent(_, let backend) = state.phase { return (true, backend) }
      return (false, nil)
    }
    guard sent.0 else { return Interrupted(failure: .notWritten(DatabaseFailure.classify(error))) }
    if DatabaseFailure.isDecidedByServer(error) {
      return Interrupted(failure: .notWritten(DatabaseFailure.classify(error)))
    }
    if let error = error as? SwitchboardError { return Interrupted(failure: .notWritten(error)) }
    return Interrupted(failure: .unknown(backend: sent.1, cause: error))
  }
}

/// Connections an operation abandoned (closed at its deadline), until their close completes: the
/// pool must not lend them out meanwhile.
private final class AbandonedConnections: Sendable {
  private let ids = Mutex<Set<PostgresConnection.ID>>([])

  func add(_ connection: PostgresConnection) {
    let id = connection.id
    ids.withLock { _ = $0.insert(id) }
    connection.closeFuture.whenComplete { [weak self] _ in self?.ids.withLock { _ = $0.remove(id) } }
  }

  func contains(_ connection: PostgresConnection) -> Bool {
    ids.withLock { $0.contains(connection.id) }
  }
}

/// The server process behind a connection: its pid, and when it started, in microseconds since
/// 1970 (as PostgreSQL keeps it; a pid alone may name another process once this one is gone).
struct Backend: Sendable, Hashable {
  let pid: Int32
  let startMicroseconds: Int64
}

/// Server processes of pooled connections, learned once per connection: the process to stop
/// when a write on that connection is abandoned.
private final class BackendIDs: Sendable {
  private let ids = Mutex<[PostgresConnection.ID: Backend]>([:])

  func id(of connection: PostgresConnection, logger: Logger) async throws -> Backend {
    if let id = ids.withLock({ $0[connection.id] }) { return id }
    let rows = try await connection.query(
      """
      SELECT pid, (extract(epoch FROM backend_start) * 1000000)::bigint FROM pg_stat_activity
      WHERE pid = pg_backend_pid()
      """, logger: logger)
    var found: Backend?
    for try await (pid, started) in rows.decode((Int32, Int64).self) {
      found = Backend(pid: pid, startMicroseconds: started)
    }
    guard let id = found else { throw SwitchboardError.internalError() }
    ids.withLock { ids in
      // Closed connections are never told of; a pool holds tens at once.
      if ids.count >= 1024 { ids.removeAll() }
      ids[connection.id] = id
    }
    return id
  }
}

extension Error {
  fileprivate var failure: WriteFailure {
    (self as? Interrupted)?.failure ?? .notWritten(DatabaseFailure.classify(self))
  }
}
