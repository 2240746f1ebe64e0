import Foundation
import SwitchboardServer
import Testing

/// `serve`'s settings, declared once and read from flags, variables, a secrets directory and a
/// YAML file, in that order of precedence; anything bad stops start-up with one line naming it.
@Suite("serve's settings")
struct ServeSettingsTests {
  /// A directory of its own, removed after `body`.
  func withDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appending(path: "settings-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
  }

  func failure(_ arguments: [String], _ environment: [String: String] = [:]) async -> String? {
    do {
      _ = try await ServeSettings.read(arguments: arguments, environment: environment)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test("nothing given, or an empty variable: every value is the configuration's default")
  func defaults() async throws {
    let values = try await ServeSettings.read(arguments: [], environment: ["SWITCHBOARD_DIALER_URL": ""])
    #expect(values.server.dialerURL == nil)
    let defaults = ServerConfiguration.defaults
    #expect(values.server.grpcPort == defaults.grpcPort)
    #expect(values.server.httpPort == defaults.httpPort)
    #expect(values.server.role == defaults.role)
    #expect(values.server.shutdownTimeout == defaults.shutdownTimeout)
    #expect(values.server.outboundPolicy.allowPrivateAddresses == false)
    #expect(values.databaseURL == nil)
    #expect(values.dataDir == ".switchboard")
    #expect(values.logLevel == "info")
  }

  @Test("a flag wins over a variable, a variable over a secrets file, a secrets file over the YAML file")
  func precedence() async throws {
    try await withDirectory { directory in
      let file = directory.appending(path: "switchboard.yaml")
      try """
      grpc-port: 1001
      http-port: 1002
      intake-writers: 7
      dialer-secret: from-yaml
      role: dispatcher
      """.write(to: file, atomically: true, encoding: .utf8)
      let secrets = directory.appending(path: "secrets")
      try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
      try "from-file\n".write(to: secrets.appending(path: "dialer-secret"), atomically: true, encoding: .utf8)
      try "1003".write(to: secrets.appending(path: "http-port"), atomically: true, encoding: .utf8)
      let values = try await ServeSettings.read(
        arguments: [
          "--config", file.path, "--secrets-dir", secrets.path, "--grpc-port", "2001", "--allow-private-targets",
        ],
        environment: ["SWITCHBOARD_GRPC_PORT": "3001", "SWITCHBOARD_HTTP_PORT": "3002", "LOG_LEVEL": "debug"])
      #expect(values.server.grpcPort == 2001, "the flag")
      #expect(values.server.httpPort == 3002, "the variable, over the secrets file")
      #expect(values.server.dialerSecret?.reveal == "from-file", "the secrets file, over the YAML file")
      #expect(values.server.intakeWriters == 7, "the YAML file")
      #expect(values.server.role == .dispatcher, "the YAML file")
      #expect(values.server.outboundPolicy.allowPrivateAddresses, "a flag without a value")
      #expect(values.logLevel == "debug", "LOG_LEVEL keeps its name")
    }
  }

  @Test("each bad input stops start-up with one line naming the setting")
  func refusals() async throws {
    #expect(await failure(["--grpc-port", "abc"]) == "--grpc-port must be an integer, not abc")
    #expect(await failure(["--grpc-port", "70000"]) == "--grpc-port must be a port, 0 to 65535")
    #expect(await failure(["--no-such-thing", "1"]) == "unknown option --no-such-thing")
    #expect(await failure([], ["SWITCHBOARD_ROLE": "boss"]) == "--role must be one of api, dispatcher, all, not boss")
    #expect(await failure(["--shutdown-timeout", "-1"]) == "--shutdown-timeout must be a positive number of seconds")
    #expect(await failure(["--intake-writers", "0"]) == "--intake-writers must be at least 1")
    #expect(await failure([], ["LOG_LEVEL": "loud"])?.hasPrefix("--log-level (LOG_LEVEL) must be one of") == true)
    #expect(
      await failure(["--otel-endpoint", "ftp://x"]) == "--otel-endpoint must be an http or https URL, not ftp://x")
    #expect(await failure(["--grpc-port", "1", "--grpc-port", "2"])?.hasPrefix("--grpc-port has a value that") == true)
    try await withDirectory { directory in
      let file = directory.appending(path: "bad.yaml")
      try "grpc-port: 1\ngrpc_port: 2\n".write(to: file, atomically: true, encoding: .utf8)
      #expect(await failure(["--config", file.path]) == "--config \(file.path): unknown setting grpc_port")
      try "- a\n- b\n".write(to: file, atomically: true, encoding: .utf8)
      #expect(
        await failure(["--config", file.path]) == "--config \(file.path) must be a mapping of setting names to values")
      #expect(
        await failure(["--config", directory.appending(path: "missing.yaml").path])?.contains("cannot be read") == true)
    }
  }

  @Test("secrets are kept out of what the reader reports")
  func secretsAreSecret() {
    let secret = ServeSettings.all.filter(\.isSecret).map(\.key).sorted()
    #expect(secret == ["database-url", "dialer-secret"])
  }
}
