import Configuration
import Foundation
import SwitchboardCore
import SystemPackage
import Yams

/// Every setting of `switchboard serve`, declared once: its key, what it does, its default (from
/// ``ServerConfiguration/defaults``) and how its text becomes a value. From the key come the flag
/// (`--grpc-port`), the variable (`SWITCHBOARD_GRPC_PORT`), the key of the YAML file `--config`
/// names (`grpc-port: 50051`) and the file of the secrets directory (`--secrets-dir`, as
/// container secrets are mounted: `/run/secrets/dialer-secret`). A flag wins over a variable,
/// a variable over a secrets file, a secrets file over the YAML file. `serve --help` and the
/// README's table are made from, or tested against, this list.
public enum ServeSettings {
  /// What the settings say, checked.
  public struct Values: Sendable {
    public var server = ServerConfiguration(databaseURL: "")
    public var databaseURL: String?
    public var dataDir = ".switchboard"
    public var logLevel = "info"
    public var logFormat = "text"
    public var otelEndpoint: String?
    public var tlsCertificateChain: String?
    public var tlsPrivateKey: String?
    public var tlsClientCA: String?
  }

  /// One setting.
  public struct Setting: Sendable {
    public let key: String
    public let help: String
    /// The default as the help and the README say it; `nil` when there is none.
    public let defaultText: String?
    /// Its variable: `SWITCHBOARD_` and the key, unless it has always been another.
    public let variable: String
    /// A value to keep out of logs (read by swift-configuration as a secret).
    public let isSecret: Bool
    /// Given on the command line without a value (`--allow-private-targets`).
    public let isFlag: Bool
    let apply: @Sendable (String, inout Values) throws(SettingError) -> Void

    init(
      _ key: String, _ help: String, default defaultText: String? = nil, variable: String? = nil,
      secret: Bool = false, flag: Bool = false,
      apply: @escaping @Sendable (String, inout Values) throws(SettingError) -> Void
    ) {
      self.key = key
      self.help = help
      self.defaultText = defaultText
      self.variable = variable ?? "SWITCHBOARD_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
      self.isSecret = secret
      self.isFlag = flag
      self.apply = apply
    }

    /// The flag, as written on the command line.
    public var flag: String { "--" + key }
  }

  /// A setting with a bad value, or a file that names no setting: one line, naming it.
  public struct SettingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
  }

  private static let defaults = ServerConfiguration.defaults

  private static func seconds(_ duration: Duration) -> String { "\(duration.components.seconds)" }

  /// Every setting, in the order `serve --help` lists them.
  public static let all: [Setting] = [
    Setting(
      "database-url", "PostgreSQL URL; without one, a private cluster runs under --data-dir.", secret: true
    ) { text, values throws(SettingError) in values.databaseURL = text },
    Setting("data-dir", "Directory of the embedded PostgreSQL cluster.", default: ".switchboard") {
      text, values throws(SettingError) in values.dataDir = text
    },
    Setting("grpc-port", "gRPC port.", default: "\(defaults.grpcPort)") { text, values throws(SettingError) in
      values.server.grpcPort = try port(text, "--grpc-port")
    },
    Setting("http-port", "HTTP port of the JSON gateway.", default: "\(defaults.httpPort)") {
      text, values throws(SettingError) in values.server.httpPort = try port(text, "--http-port")
    },
    Setting("host", "Address to listen on.", default: defaults.httpHost) { text, values throws(SettingError) in
      values.server.grpcHost = text
      values.server.httpHost = text
    },
    Setting(
      "role", "api (intake and reads), dispatcher (background work) or all.", default: defaults.role.rawValue
    ) { text, values throws(SettingError) in values.server.role = try choice(text, "--role") },
    Setting(
      "idempotency-hours", "Hours an idempotency key (a call's or a batch upload's) stays taken.",
      default: "\(defaults.idempotencyRetentionSeconds / 3600)"
    ) { text, values throws(SettingError) in
      values.server.idempotencyRetentionSeconds = try positive(text, "--idempotency-hours") * 3600
    },
    Setting(
      "intake-writers", "Intake batches written at once, each on its own connection.",
      default: "\(defaults.intakeWriters)"
    ) { text, values throws(SettingError) in values.server.intakeWriters = try positive(text, "--intake-writers") },
    Setting(
      "grpc-max-streams", "Streams one gRPC connection may open at once; clients queue beyond it.",
      default: "\(defaults.grpcMaxConcurrentStreams)"
    ) { text, values throws(SettingError) in
      values.server.grpcMaxConcurrentStreams = try positive(text, "--grpc-max-streams")
    },
    Setting(
      "database-timeout", "Seconds any database operation may take; PostgreSQL aborts statements past it.",
      default: seconds(defaults.databaseTimeout)
    ) { text, values throws(SettingError) in values.server.databaseTimeout = try duration(text, "--database-timeout") },
    Setting(
      "ring-timeout", "Seconds a dispatched or ringing call may go without a report before it ends failed.",
      default: seconds(defaults.ringTimeout)
    ) { text, values throws(SettingError) in values.server.ringTimeout = try duration(text, "--ring-timeout") },
    Setting(
      "max-call-duration", "Seconds a call may stay in progress before it ends failed.",
      default: seconds(defaults.maxCallDuration)
    ) { text, values throws(SettingError) in
      values.server.maxCallDuration = try duration(text, "--max-call-duration")
    },
    Setting(
      "shutdown-timeout",
      "Seconds graceful shutdown may take before what still runs is cancelled and named, and the process exits 70.",
      default: seconds(defaults.shutdownTimeout)
    ) { text, values throws(SettingError) in
      values.server.shutdownTimeout = try duration(text, "--shutdown-timeout")
    },
    Setting(
      "http-idle-timeout", "Seconds an HTTP connection may sit idle, or take to send its headers.",
      default: seconds(defaults.httpLimits.idleTimeout)
    ) { text, values throws(SettingError) in
      values.server.httpLimits.idleTimeout = try duration(text, "--http-idle-timeout")
    },
    Setting(
      "http-request-timeout",
      "Seconds an HTTP request may take to send its body, and a gRPC request stream to end after it starts.",
      default: seconds(defaults.httpLimits.requestTimeout)
    ) { text, values throws(SettingError) in
      values.server.httpLimits.requestTimeout = try duration(text, "--http-request-timeout")
    },
    Setting(
      "http-max-connections", "Open HTTP connections at most.", default: "\(defaults.httpLimits.maxConnections)"
    ) { text, values throws(SettingError) in
      values.server.httpLimits.maxConnections = try positive(text, "--http-max-connections")
    },
    Setting(
      "dialer", "simulated (plays calls out in process) or webhook.", default: defaults.dialer.rawValue
    ) { text, values throws(SettingError) in values.server.dialer = try choice(text, "--dialer") },
    Setting("dialer-url", "Where the webhook dialer POSTs attempts.") { text, values throws(SettingError) in
      values.server.dialerURL = text
    },
    Setting("dialer-secret", "Secret that signs dialer requests.", secret: true) {
      text, values throws(SettingError) in values.server.dialerSecret = Secret(text)
    },
    Setting(
      "allow-private-targets",
      "Allow webhook targets on loopback, private and link-local addresses, for receivers on your own network.",
      default: "off", flag: true
    ) { text, values throws(SettingError) in
      values.server.outboundPolicy = OutboundURLPolicy(
        allowPrivateAddresses: try boolean(text, "--allow-private-targets"))
    },
    Setting("tls-certificate-chain", "PEM certificate chain: both listeners serve TLS.") {
      text, values throws(SettingError) in values.tlsCertificateChain = text
    },
    Setting("tls-private-key", "PEM private key of the chain's leaf.") { text, values throws(SettingError) in
      values.tlsPrivateKey = text
    },
    Setting("tls-client-ca", "PEM CA certificates: mutual TLS, clients must present a certificate it signed.") {
      text, values throws(SettingError) in values.tlsClientCA = text
    },
    Setting("otel-endpoint", "OTLP/HTTP endpoint for traces (e.g. http://collector:4318/v1/traces).", default: "off") {
      text, values throws(SettingError) in
      guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
        throw SettingError("--otel-endpoint must be an http or https URL, not \(text)")
      }
      values.otelEndpoint = text
    },
    Setting(
      "log-level", "trace, debug, info, notice, warning, error or critical.", default: "info", variable: "LOG_LEVEL"
    ) { text, values throws(SettingError) in
      let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
      guard levels.contains(text) else {
        throw SettingError("--log-level (LOG_LEVEL) must be one of \(levels.joined(separator: ", ")), not \(text)")
      }
      values.logLevel = text
    },
    Setting("log-format", "text, or json: one JSON object per line.", default: "text") {
      text, values throws(SettingError) in
      guard ["text", "json"].contains(text) else {
        throw SettingError("--log-format must be text or json, not \(text)")
      }
      values.logFormat = text
    },
  ]

  /// The options that name where settings come from, read before the settings themselves.
  public static let configFile = "config"
  public static let secretsDirectory = "secrets-dir"

  /// Reads every setting from `arguments` (those after `serve`), `environment`, the secrets
  /// directory and the YAML file; throws one line naming the first bad one: an unknown flag, an
  /// unknown key in the file, a value out of range.
  public static func read(arguments: [String], environment: [String: String]) async throws -> Values {
    let known = Set(all.map(\.key) + [configFile, secretsDirectory])
    for argument in arguments where argument.hasPrefix("--") {
      let name = String(argument.dropFirst(2).prefix { $0 != "=" })
      guard known.contains(name) else { throw SettingError("unknown option --\(name)") }
    }
    let command = CommandLineArgumentsProvider(
      arguments: ["serve"] + arguments, secretsSpecifier: .dynamic { key, _ in isSecret(cliFlag: key) })
    let early = ConfigReader(provider: command)
    let file = try text(of: configFile, in: early) ?? environment["SWITCHBOARD_CONFIG"]
    let secrets = try text(of: secretsDirectory, in: early) ?? environment["SWITCHBOARD_SECRETS_DIR"]

    let variables = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0.variable) })
    var providers: [any ConfigProvider] = [
      command,
      EnvironmentVariablesProvider(
        environmentVariables: environment,
        secretsSpecifier: .dynamic { name, _ in all.contains { $0.variable == name && $0.isSecret } }
      ).mapKeys { key in AbsoluteConfigKey([variables[key.components.joined()] ?? key.components.joined()]) },
    ]
    if let secrets {
      providers.append(try await DirectoryFilesProvider(directoryPath: FilePath(secrets)))
    }
    if let file {
      try checkKeys(ofYAMLFile: file)
      providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
    }
    let reader = ConfigReader(providers: providers)
    var values = Values()
    for setting in all {
      // An empty value is no value (compose files write `SWITCHBOARD_DIALER_URL: ""`).
      guard let text = try text(of: setting.key, in: reader, secret: setting.isSecret, flag: setting.isFlag),
        !text.isEmpty
      else { continue }
      try setting.apply(text, &values)
    }
    return values
  }

  /// A setting's text from the first provider that has it; `nil` when none has. A value no
  /// provider can read as text (a flag given twice, a YAML list) names the setting.
  private static func text(
    of key: String, in reader: ConfigReader, secret: Bool = false, flag: Bool = false
  ) throws -> String? {
    do {
      if flag { return String(try reader.requiredBool(forKey: ConfigKey([key]), isSecret: secret)) }
      return try reader.requiredString(forKey: ConfigKey([key]), isSecret: secret)
    } catch {
      // swift-configuration's error type is not public; its description says which case it is
      // (ServeSettingsTests hold both cases to what this expects).
      if "\(error)".hasPrefix("Missing required config value") { return nil }
      throw SettingError("--\(key) has a value that cannot be read (\(error))")
    }
  }

  private static func isSecret(cliFlag: String) -> Bool {
    all.contains { $0.isSecret && $0.flag == cliFlag }
  }

  /// Every top-level key of the YAML file must name a setting.
  private static func checkKeys(ofYAMLFile path: String) throws {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw SettingError("--config \(path) cannot be read: \(error.localizedDescription)")
    }
    let document: Any?
    do {
      document = try Yams.load(yaml: text)
    } catch {
      throw SettingError("--config \(path) is not YAML: \(error)")
    }
    guard let document else { return }
    guard let mapping = document as? [String: Any] else {
      throw SettingError("--config \(path) must be a mapping of setting names to values")
    }
    let known = Set(all.map(\.key))
    if let unknown = mapping.keys.sorted().first(where: { !known.contains($0) }) {
      throw SettingError("--config \(path): unknown setting \(unknown)")
    }
  }

  /// The settings as `serve --help` lists them.
  public static var help: String {
    all.map { setting in
      var line = "  \(setting.flag)\(setting.isFlag ? "" : " <value>")\n      \(setting.help) (env \(setting.variable)"
      if let value = setting.defaultText { line += "; default \(value)" }
      return line + ")"
    }.joined(separator: "\n") + """

      --\(configFile) <file>
          A YAML file of settings, keyed by name without the dashes in front (grpc-port: 50051); \
      flags and variables win over it (env SWITCHBOARD_CONFIG).
      --\(secretsDirectory) <directory>
          A directory of files named after settings (dialer-secret, database-url), as container \
      secrets are mounted; variables and flags win over it (env SWITCHBOARD_SECRETS_DIR).
      """
  }

  // The value readers: each failure names the setting.

  private static func integer(_ text: String, _ name: String) throws(SettingError) -> Int {
    guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
      throw SettingError("\(name) must be an integer, not \(text)")
    }
    return value
  }

  private static func positive(_ text: String, _ name: String) throws(SettingError) -> Int {
    let value = try integer(text, name)
    guard value > 0 else { throw SettingError("\(name) must be at least 1") }
    return value
  }

  private static func port(_ text: String, _ name: String) throws(SettingError) -> Int {
    let value = try integer(text, name)
    guard (0...65535).contains(value) else { throw SettingError("\(name) must be a port, 0 to 65535") }
    return value
  }

  private static func duration(_ text: String, _ name: String) throws(SettingError) -> Duration {
    guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
      throw SettingError("\(name) must be a number of seconds, not \(text)")
    }
    guard value > 0, value.isFinite, value < 1e9 else {
      throw SettingError("\(name) must be a positive number of seconds")
    }
    return .milliseconds(Int64((value * 1000).rounded()))
  }

  private static func boolean(_ text: String, _ name: String) throws(SettingError) -> Bool {
    switch text.lowercased() {
    case "true", "1", "yes", "on": return true
    case "false", "0", "no", "off": return false
    default: throw SettingError("\(name) must be true or false, not \(text)")
    }
  }

  private static func choice<T: RawRepresentable & CaseIterable>(
    _ text: String, _ name: String
  ) throws(SettingError) -> T where T.RawValue == String {
    guard let value = T(rawValue: text) else {
      throw SettingError("\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not \(text)")
    }
    return value
  }
}
