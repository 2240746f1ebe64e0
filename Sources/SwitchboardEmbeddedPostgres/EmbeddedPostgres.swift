import Foundation
import Logging
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for development and tests, made from the server binaries on the
/// machine (`initdb`, `pg_ctl`). Run as root, it runs them as the `postgres` OS user, since
/// `initdb` refuses root. Nothing here blocks a thread: the tools run as subprocesses that are
/// awaited, and `pg_ctl -w` does the waiting for the server to start and stop.
public struct EmbeddedPostgres: Sendable {
  public struct LaunchError: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  /// Where the cluster lives (`<directory>/data`, its log in `<directory>/postgres.log`).
  public let directory: String
  public let port: Int
  public let user = "switchboard"
  public let database = "switchboard"
  /// Whether this process started the server (and so stops it).
  public let startedHere: Bool
  let binaries: String
  let logger: Logger

  /// `postgres://switchboard@127.0.0.1:<port>/switchboard`
  public var databaseURL: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

  /// Creates the cluster on first use and starts it on a free loopback port; returns once it
  /// accepts connections. A cluster another process already runs in `directory` is shared.
  /// - Parameter durable: `false` turns off fsync, for throwaway test clusters.
  /// - Parameter port: where to listen; a free port when `nil`.
  public static func start(
    in directory: String, port: Int? = nil, durable: Bool = true, logger: Logger
  ) async throws -> EmbeddedPostgres {
    guard let binaries = findBinaries() else {
      throw LaunchError(
        description: """
          PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql.
          Install them (Debian: apt-get install -y postgresql) or pass --database-url postgres://…
          """)
    }
    let directory = try await usableDirectory(directory)
    if let port = runningPort(in: directory) {
      // Another switchboard process (serve, or an admin command) runs this cluster: share it.
      return EmbeddedPostgres(directory: directory, port: port, startedHere: false, binaries: binaries, logger: logger)
    }
    let cluster = EmbeddedPostgres(
      directory: directory, port: try port ?? freePort(), startedHere: true, binaries: binaries, logger: logger)
    try await cluster.launch(durable: durable)
    return cluster
  }

  /// Stops the cluster if this process started it (fast shutdown: open sessions are ended), and
  /// returns once it has stopped.
  public func stop() async {
    guard startedHere else { return }
    do {
      try await run("pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60"])
    } catch {
      logger.warning("embedded PostgreSQL did not stop", metadata: ["error": "\(error)"])
    }
  }

  /// Asks the server to stop (fast shutdown) and returns at once: for a process that is exiting.
  public func requestStop() {
    guard startedHere, let pid = Self.postmasterPID(in: directory) else { return }
    kill(pid, SIGINT)
  }

  /// The postmaster's pid from `postmaster.pid` (line 1), if that process is alive.
  public static func postmasterPID(in directory: String) -> pid_t? {
    guard let lines = postmasterLines(in: directory), let pid = pid_t(lines[0]), kill(pid, 0) == 0 else { return nil }
    return pid
  }

  private static func postmasterLines(in directory: String) -> [String]? {
    guard let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8) else {
      return nil
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    return lines.count > 3 ? lines : nil
  }

  /// The port of a live server on this cluster, from `postmaster.pid` (line 4), if its process
  /// is alive.
  private static func runningPort(in directory: String) -> Int? {
    guard postmasterPID(in: directory) != nil, let lines = postmasterLines(in: directory) else { return nil }
    return Int(lines[3])
  }

  var dataDirectory: String { directory + "/data" }
  var logPath: String { directory + "/postgres.log" }

  private func launch(durable: Bool) async throws {
    let fresh = !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION")
    if fresh {
      logger.info("creating embedded PostgreSQL cluster", metadata: ["directory": "\(dataDirectory)"])
      try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
      try await handOver(directory, recursive: true)
      try await run("initdb", ["-D", dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    } else if FileManager.default.fileExists(atPath: logPath) {
      try await handOver(logPath, recursive: false)
    }
    // A test cluster serves every suite at once, each replica with a pool of its own (up to 20
    // connections each): 200 ran out once under the whole suite.
    let maxConnections = durable ? 200 : 500
    var options = [
      "-p \(port)", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
      "-c max_connections=\(maxConnections)",
    ]
    if !durable { options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"] }
    do {
      // pg_ctl waits (-w) until the server accepts connections; its server writes its own log.
      try await run(
        "pg_ctl",
        ["start", "-D", dataDirectory, "-l", logPath, "-w", "-t", "60", "-o", options.joined(separator: " ")],
        daemon: true)
    } catch {
      let tail = (try? String(contentsOfFile: logPath, encoding: .utf8))?.suffix(2000) ?? ""
      throw LaunchError(description: "PostgreSQL did not start (\(error)); the end of \(logPath):\n\(tail)")
    }
    do {
      try await run("createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, database])
    } catch  where !fresh && "\(error)".contains("already exists") {
      // The usual case. (A process stopped between initdb and createdb left a cluster without
      // the database: every later start would have failed to connect.)
    }
    logger.info("embedded PostgreSQL running", metadata: ["port": "\(port)", "directory": "\(dataDirectory)"])
  }

  /// Runs one of the server binaries, as `postgres` when we are root; throws with its output when
  /// it fails. `daemon`: the tool leaves a server running, which would hold an output pipe of
  /// ours open for its whole life, so its output is not read (the server's own log has it).
  @discardableResult
  private func run(_ tool: String, _ arguments: [String], daemon: Bool = false) async throws -> String {
    let (executable, allArguments) = Self.asServerUser(binaries + "/" + tool, arguments)
    let status: TerminationStatus
    var text = ""
    if daemon {
      status = try await Subprocess.run(
        .path(FilePath(executable)), arguments: Arguments(allArguments), workingDirectory: FilePath(directory),
        output: .discarded, error: .discarded
      ).terminationStatus
    } else {
      let result = try await Subprocess.run(
        .path(FilePath(executable)), arguments: Arguments(allArguments), workingDirectory: FilePath(directory),
        output: .string(limit: 1 << 16), error: .combinedWithOutput)
      status = result.terminationStatus
      text = result.standardOutput
    }
    guard status.isSuccess else { throw LaunchError(description: "\(tool) failed (\(status)):\n\(text)") }
    return text
  }

  /// `executable arguments`, or the same through `runuser -u postgres` when we are root.
  private static func asServerUser(_ executable: String, _ arguments: [String]) -> (String, [String]) {
    isRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments) : (executable, arguments)
  }

  private func handOver(_ path: String, recursive: Bool) async throws {
    guard Self.isRoot else { return }
    _ = try await Subprocess.run(
      .path("/bin/chown"), arguments: .init((recursive ? ["-R"] : []) + ["postgres:postgres", path]),
      output: .discarded, error: .discarded)
  }

  static var isRoot: Bool { geteuid() == 0 }

  /// The directory itself, or, when we are root and the `postgres` user cannot reach it (a home
  /// directory closed to others), a stand-in under /var/tmp named after it.
  private static func usableDirectory(_ directory: String) async throws -> String {
    let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
    try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
    guard isRoot else { return absolute }
    let reach = try await Subprocess.run(
      .path("/usr/sbin/runuser"), arguments: ["-u", "postgres", "--", "test", "-x", absolute], output: .discarded,
      error: .discarded)
    if reach.terminationStatus.isSuccess { return absolute }
    var hash: UInt64 = 14_695_981_039_346_656_037
    for byte in absolute.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
    let standIn = "/var/tmp/switchboard-\(String(hash, radix: 16))"
    try FileManager.default.createDirectory(atPath: standIn, withIntermediateDirectories: true)
    return standIn
  }

  /// The newest server binaries: on PATH first, then Debian's /usr/lib/postgresql/<version>/bin.
  public static func findBinaries() -> String? {
    let fileManager = FileManager.default
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for directory in path.split(separator: ":").map(String.init)
    where fileManager.isExecutableFile(atPath: directory + "/initdb")
      && fileManager.isExecutableFile(atPath: directory + "/pg_ctl")
    {
      // Resolve symlinks so the other tools (createdb) are found beside initdb.
      let initdb = URL(fileURLWithPath: directory + "/initdb").resolvingSymlinksInPath()
      return initdb.deletingLastPathComponent().path
    }
    let versions = (try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
    for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
      let bin = "/usr/lib/postgresql/\(version)/bin"
      if fileManager.isExecutableFile(atPath: bin + "/initdb") { return bin }
    }
    return nil
  }

  /// A loopback TCP port nobody listens on now.
  public static func freePort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw LaunchError(description: "socket() failed") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else { throw LaunchError(description: "bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
