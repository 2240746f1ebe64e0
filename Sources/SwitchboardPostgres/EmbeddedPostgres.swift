import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for development and tests, made from the server binaries on the
/// machine (`initdb`, `pg_ctl`). Run as root, it runs them as the `postgres` OS user, since
/// `initdb` refuses root.
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

  /// Creates the cluster on first use and starts it on a free loopback port.
  /// - Parameter durable: `false` turns off fsync, for throwaway test clusters.
  /// - Parameter port: where to listen; a free port when `nil`.
  public static func start(
    in directory: String, port: Int? = nil, durable: Bool = true, logger: Logger
  ) throws
    -> EmbeddedPostgres
  {
    guard let binaries = findBinaries() else {
      throw LaunchError(
        description: """
          PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql.
          Install them (Debian: apt-get install -y postgresql) or pass --database-url postgres://…
          """)
    }
    let directory = try usableDirectory(directory)
    if let port = runningPort(in: directory) {
      // Another switchboard process (serve, or an admin command) runs this cluster: share it.
      return EmbeddedPostgres(directory: directory, port: port, startedHere: false, binaries: binaries, logger: logger)
    }
    let cluster = EmbeddedPostgres(
      directory: directory, port: try port ?? freePort(), startedHere: true, binaries: binaries, logger: logger)
    try cluster.launch(durable: durable)
    return cluster
  }

  /// Stops the cluster if this process started it (fast shutdown: open sessions are ended).
  public func stop() {
    guard startedHere, let pid = Self.postmasterPID(in: directory) else { return }
    kill(pid, SIGINT)
    for _ in 0..<300 where kill(pid, 0) == 0 { usleep(100_000) }
  }

  /// Runs `postgres` itself as a child rather than through `pg_ctl start`: pg_ctl's daemon would
  /// inherit Foundation's process-monitoring descriptor and `waitUntilExit` would never return.
  /// Waits until it accepts connections.
  private func startServer(durable: Bool) throws {
    var arguments = [
      "-D", dataDirectory, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
      "-c", "max_connections=200",
    ]
    if !durable { arguments += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] }
    let process = command("postgres", arguments)
    let logPath = directory + "/postgres.log"
    if !FileManager.default.fileExists(atPath: logPath) {
      _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    log.seekToEndOfFile()
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
    try? log.close()
    for _ in 0..<600 {
      if (try? run("pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres"])) != nil { return }
      guard process.isRunning else { break }
      usleep(100_000)
    }
    let tail = (try? String(contentsOfFile: logPath, encoding: .utf8))?.suffix(2000) ?? ""
    throw LaunchError(description: "PostgreSQL did not start; the end of \(logPath):\n\(tail)")
  }

  /// The postmaster's pid from `postmaster.pid` (line 1), if that process is alive.
  static func postmasterPID(in directory: String) -> pid_t? {
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

  private func launch(durable: Bool) throws {
    let fresh = !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION")
    if fresh {
      logger.info("creating embedded PostgreSQL cluster", metadata: ["directory": "\(dataDirectory)"])
      try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
      try handOver(directory)
      try run("initdb", ["-D", dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    }
    try startServer(durable: durable)
    if fresh {
      try run("createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, database])
    }
    logger.info("embedded PostgreSQL running", metadata: ["port": "\(port)", "directory": "\(dataDirectory)"])
  }

  /// Runs one of the server binaries, as `postgres` when we are root; throws with its output when
  /// it fails.
  @discardableResult
  private func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = command(tool, arguments)
    // Output goes to a file: simpler than a pipe, and nothing can hold a file open on us.
    let outputPath = directory + "/\(tool).out"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    guard process.terminationStatus == 0 else {
      throw LaunchError(description: "\(tool) failed (exit \(process.terminationStatus)):\n\(text)")
    }
    return text
  }

  /// A process running one of the server binaries, as `postgres` when we are root.
  private func command(_ tool: String, _ arguments: [String]) -> Process {
    let process = Process()
    let executable = binaries + "/" + tool
    if Self.isRoot {
      process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
      process.arguments = ["-u", "postgres", "--", executable] + arguments
    } else {
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
    }
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    return process
  }

  private func handOver(_ path: String) throws {
    guard Self.isRoot else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/chown")
    process.arguments = ["-R", "postgres:postgres", path]
    try process.run()
    process.waitUntilExit()
  }

  static var isRoot: Bool { geteuid() == 0 }

  /// The directory itself, or, when we are root and the `postgres` user cannot reach it (a home
  /// directory closed to others), a stand-in under /var/tmp named after it.
  private static func usableDirectory(_ directory: String) throws -> String {
    let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
    try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
    guard isRoot, !postgresCanReach(absolute) else { return absolute }
    var hash: UInt64 = 14_695_981_039_346_656_037
    for byte in absolute.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
    let standIn = "/var/tmp/switchboard-\(String(hash, radix: 16))"
    try FileManager.default.createDirectory(atPath: standIn, withIntermediateDirectories: true)
    return standIn
  }

  private static func postgresCanReach(_ path: String) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
    process.arguments = ["-u", "postgres", "--", "test", "-x", path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }

  /// The newest server binaries: on PATH first, then Debian's /usr/lib/postgresql/<version>/bin.
  static func findBinaries() -> String? {
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
  static func freePort() throws -> Int {
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
