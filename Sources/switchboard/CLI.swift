import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOSSL
import OTel
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import Synchronization
import Tracing

@main
struct SwitchboardCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "switchboard",
    abstract: "Call orchestration: places outbound calls handled by voice agents.",
    subcommands: [Serve.self, Migrate.self, Healthcheck.self, Tenants.self, Keys.self, Agents.self],
    defaultSubcommand: Serve.self)
}

/// Every default `serve` quotes in its help comes from here (README's table is checked against
/// the same values by `ConfigurationDefaultsTests`).
private let defaults = ServerConfiguration.defaults

/// Whole seconds of a default duration, as the flags take them.
private func wholeSeconds(_ duration: Duration) -> Int64 { duration.components.seconds }

/// Where the database is: `--database-url`, `SWITCHBOARD_DATABASE_URL`, or else the embedded
/// cluster under `--data-dir`.
struct DatabaseOptions: ParsableArguments {
  @Option(help: "PostgreSQL URL (env SWITCHBOARD_DATABASE_URL). Without one, a private cluster runs under --data-dir.")
  var databaseURL: String?

  @Option(help: "Directory of the embedded PostgreSQL cluster (env SWITCHBOARD_DATA_DIR).")
  var dataDir: String?

  @Option(help: "Log level: trace, debug, info, notice, warning, error (env LOG_LEVEL).")
  var logLevel: String?

  @Option(help: "text or json: one JSON object per line (env SWITCHBOARD_LOG_FORMAT, default text).")
  var logFormat: LogFormat?

  var url: String? { databaseURL ?? Environment.string("SWITCHBOARD_DATABASE_URL") }
  var directory: String { dataDir ?? Environment.string("SWITCHBOARD_DATA_DIR") ?? ".switchboard" }

  /// The process's logger, in the chosen format; a bad level or format stops start-up.
  func logger() throws -> Logger {
    let format = try logFormat ?? Environment.choice("SWITCHBOARD_LOG_FORMAT") ?? .text
    let level: Logger.Level
    if let text = logLevel ?? Environment.string("LOG_LEVEL") {
      guard let parsed = Logger.Level(rawValue: text) else {
        throw ValidationError(
          "LOG_LEVEL must be \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \(text)")
      }
      level = parsed
    } else {
      level = .info
    }
    LogFormat.bootstrap(format)
    var logger = Logger(label: "switchboard")
    logger.logLevel = level
    return logger
  }

  /// The database URL, starting the embedded cluster when none was given.
  func resolve(logger: Logger) async throws -> (url: String, embedded: EmbeddedPostgres?) {
    if let url { return (url, nil) }
    let embedded = try await EmbeddedPostgres.start(in: directory, logger: logger)
    return (embedded.databaseURL, embedded)
  }

  /// Runs `body` with a migrated database, then stops what was started for it.
  func withDatabase<T: Sendable>(
    _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
  )
    async throws -> T
  {
    let logger = try logger()
    let (url, embedded) = try await resolve(logger: logger)
    let result: Result<T, any Error>
    do {
      let client = PostgresClient(
        configuration: try ServerConfiguration(databaseURL: url).postgresConfiguration(), backgroundLogger: logger)
      result = .success(
        try await withThrowingTaskGroup(of: T?.self) { group in
          group.addTask {
            await client.run()
            return nil
          }
          defer { group.cancelAll() }
          try await Migrator(client: client, logger: logger).migrate()
          return try await body(client, logger)
        })
    } catch {
      result = .failure(error)
    }
    await embedded?.stop()
    return try result.get()
  }
}

/// What tenants' URLs (webhook targets) may point to: read by `serve`, which calls them, and by
/// the commands that register them.
struct OutboundOptions: ParsableArguments {
  @Flag(
    help:
      "Allow webhook targets on loopback, private and link-local addresses, for receivers on your own network (env SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true; default off)."
  )
  var allowPrivateTargets = false

  func policy() throws -> OutboundURLPolicy {
    OutboundURLPolicy(
      allowPrivateAddresses: try allowPrivateTargets || Environment.boolean("SWITCHBOARD_ALLOW_PRIVATE_TARGETS") == true
    )
  }
}

enum Environment {
  static func string(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
  }

  static func boolean(_ name: String) throws -> Bool? {
    guard let text = string(name)?.lowercased() else { return nil }
    switch text {
    case "true", "1", "yes": return true
    case "false", "0", "no": return false
    default: throw ValidationError("\(name) must be true or false, not \(text)")
    }
  }

  /// One of a closed set of values; anything else stops start-up with a line naming the setting.
  static func choice<T: RawRepresentable & CaseIterable>(_ name: String) throws -> T? where T.RawValue == String {
    guard let text = string(name) else { return nil }
    guard let value = T(rawValue: text) else {
      let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
      throw ValidationError("\(name) must be one of \(allowed), not \(text)")
    }
    return value
  }

  static func integer(_ name: String) throws -> Int? {
    guard let text = string(name) else { return nil }
    guard let value = Int(text) else { throw ValidationError("\(name) must be an integer, not \(text)") }
    return value
  }
}

extension ServerConfiguration.Role: ExpressibleByArgument {}
extension ServerConfiguration.DialerKind: ExpressibleByArgument {}

enum LogFormat: String, CaseIterable, ExpressibleByArgument {
  case text, json

  /// Sets the process's log handler once (swift-log allows one bootstrap per process).
  static func bootstrap(_ format: LogFormat) {
    bootstrapped.withLock { done in
      if done { return }
      done = true
      switch format {
      case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError)
      case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
      }
    }
  }
  private static let bootstrapped = Mutex(false)
}

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Run the gRPC server and the JSON gateway.")

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var outbound: OutboundOptions

  @Option(help: "gRPC port (env SWITCHBOARD_GRPC_PORT, default \(defaults.grpcPort)).")
  var grpcPort: Int?

  @Option(
    help:
      "Streams one gRPC connection may open at once; clients queue beyond it (env SWITCHBOARD_GRPC_MAX_STREAMS, default \(defaults.grpcMaxConcurrentStreams))."
  )
  var grpcMaxStreams: Int?

  @Option(help: "HTTP port of the JSON gateway (env SWITCHBOARD_HTTP_PORT, default \(defaults.httpPort)).")
  var httpPort: Int?

  @Option(help: "Address to listen on (env SWITCHBOARD_HOST, default \(defaults.httpHost)).")
  var host: String?

  @Option(
    help:
      "api (intake and reads), dispatcher (background work) or all (env SWITCHBOARD_ROLE, default \(defaults.role.rawValue))."
  )
  var role: ServerConfiguration.Role?

  @Option(
    help:
      "Hours an idempotency key stays taken (env SWITCHBOARD_IDEMPOTENCY_HOURS, default \(defaults.idempotencyRetentionSeconds / 3600))."
  )
  var idempotencyHours: Int?

  @Option(
    help:
      "Intake batches written at once, each on its own connection (env SWITCHBOARD_INTAKE_WRITERS, default \(defaults.intakeWriters))."
  )
  var intakeWriters: Int?

  @Option(
    help:
      "Seconds any database operation may take; PostgreSQL aborts statements past it (env SWITCHBOARD_DATABASE_TIMEOUT, default \(wholeSeconds(defaults.databaseTimeout)))."
  )
  var databaseTimeout: Double?

  @Option(
    help:
      "Seconds a dispatched or ringing call may go without a report before it ends failed (env SWITCHBOARD_RING_TIMEOUT, default \(wholeSeconds(defaults.ringTimeout)))."
  )
  var ringTimeout: Double?

  @Option(
    help:
      "Seconds a call may stay in progress before it ends failed (env SWITCHBOARD_MAX_CALL_DURATION, default \(wholeSeconds(defaults.maxCallDuration)))."
  )
  var maxCallDuration: Double?

  @Option(
    help:
      "Seconds an HTTP connection may sit idle, or take to send its headers, before it is closed (env SWITCHBOARD_HTTP_IDLE_TIMEOUT, default \(wholeSeconds(defaults.httpLimits.idleTimeout)))."
  )
  var httpIdleTimeout: Double?

  @Option(
    help:
      "Seconds an HTTP request may take to send its body after its headers, and a gRPC request stream to end after it starts (env SWITCHBOARD_HTTP_REQUEST_TIMEOUT, default \(wholeSeconds(defaults.httpLimits.requestTimeout)))."
  )
  var httpRequestTimeout: Double?

  @Option(
    help:
      "Open HTTP connections at most (env SWITCHBOARD_HTTP_MAX_CONNECTIONS, default \(defaults.httpLimits.maxConnections))."
  )
  var httpMaxConnections: Int?

  @Option(
    help:
      "simulated (plays calls out in process) or webhook (env SWITCHBOARD_DIALER, default \(defaults.dialer.rawValue))."
  )
  var dialer: ServerConfiguration.DialerKind?

  @Option(help: "PEM certificate chain: both listeners serve TLS (env SWITCHBOARD_TLS_CERTIFICATE_CHAIN).")
  var tlsCertificateChain: String?

  @Option(help: "PEM private key of the chain's leaf (env SWITCHBOARD_TLS_PRIVATE_KEY).")
  var tlsPrivateKey: String?

  @Option(
    help:
      "PEM CA certificates: mutual TLS, clients must present a certificate it signed (env SWITCHBOARD_TLS_CLIENT_CA).")
  var tlsClientCA: String?

  @Option(
    help:
      "OTLP/HTTP endpoint for traces (e.g. http://collector:4318/v1/traces): a span per request (env SWITCHBOARD_OTEL_ENDPOINT; off by default)."
  )
  var otelEndpoint: String?

  @Option(help: "Where the webhook dialer POSTs attempts (env SWITCHBOARD_DIALER_URL).")
  var dialerURL: String?

  @Option(help: "Secret that signs dialer requests (env SWITCHBOARD_DIALER_SECRET).")
  var dialerSecret: String?

  func run() async throws {
    let logger = try database.logger()
    // Every setting is checked before anything starts: a bad one stops start-up with one line.
    var configuration = ServerConfiguration(databaseURL: "")
    configuration.grpcPort = try grpcPort ?? Environment.integer("SWITCHBOARD_GRPC_PORT") ?? defaults.grpcPort
    configuration.httpPort = try httpPort ?? Environment.integer("SWITCHBOARD_HTTP_PORT") ?? defaults.httpPort
    let host = host ?? Environment.string("SWITCHBOARD_HOST") ?? defaults.httpHost
    configuration.grpcHost = host
    configuration.httpHost = host
    if let role = try role ?? Environment.choice("SWITCHBOARD_ROLE") as ServerConfiguration.Role? {
      configuration.role = role
    }
    if let dialer = try dialer ?? Environment.choice("SWITCHBOARD_DIALER") as ServerConfiguration.DialerKind? {
      configuration.dialer = dialer
    }
    configuration.dialerURL = dialerURL ?? Environment.string("SWITCHBOARD_DIALER_URL")
    configuration.outboundPolicy = try outbound.policy()
    configuration.tls = try tlsFiles()
    let otelEndpoint = try Self.otelEndpoint(otelEndpoint ?? Environment.string("SWITCHBOARD_OTEL_ENDPOINT"))
    configuration.tracing = otelEndpoint != nil
    if configuration.dialer == .webhook, configuration.dialerURL == nil {
      throw ValidationError("--dialer webhook needs --dialer-url (env SWITCHBOARD_DIALER_URL)")
    }
    configuration.dialerSecret = Secret(dialerSecret ?? Environment.string("SWITCHBOARD_DIALER_SECRET"))
    if let hours = try idempotencyHours ?? Environment.integer("SWITCHBOARD_IDEMPOTENCY_HOURS") {
      configuration.idempotencyRetentionSeconds = hours * 3600
    }
    if let streams = try grpcMaxStreams ?? Environment.integer("SWITCHBOARD_GRPC_MAX_STREAMS") {
      guard streams > 0 else { throw ValidationError("--grpc-max-streams must be at least 1") }
      configuration.grpcMaxConcurrentStreams = streams
    }
    if let writers = try intakeWriters ?? Environment.integer("SWITCHBOARD_INTAKE_WRITERS") {
      guard writers > 0 else { throw ValidationError("--intake-writers must be at least 1") }
      configuration.intakeWriters = writers
    }

    if let seconds = try Self.seconds(databaseTimeout, "SWITCHBOARD_DATABASE_TIMEOUT", flag: "--database-timeout") {
      configuration.databaseTimeout = seconds
    }
    if let seconds = try Self.seconds(httpIdleTimeout, "SWITCHBOARD_HTTP_IDLE_TIMEOUT", flag: "--http-idle-timeout") {
      configuration.httpLimits.idleTimeout = seconds
    }
    if let seconds = try Self.seconds(
      httpRequestTimeout, "SWITCHBOARD_HTTP_REQUEST_TIMEOUT", flag: "--http-request-timeout")
    {
      configuration.httpLimits.requestTimeout = seconds
    }
    if let count = try httpMaxConnections ?? Environment.integer("SWITCHBOARD_HTTP_MAX_CONNECTIONS") {
      guard count > 0 else { throw ValidationError("--http-max-connections must be at least 1") }
      configuration.httpLimits.maxConnections = count
    }
    if let seconds = try Self.seconds(ringTimeout, "SWITCHBOARD_RING_TIMEOUT", flag: "--ring-timeout") {
      configuration.ringTimeout = seconds
    }
    if let seconds = try Self.seconds(maxCallDuration, "SWITCHBOARD_MAX_CALL_DURATION", flag: "--max-call-duration") {
      configuration.maxCallDuration = seconds
    }

    // Everything checked: start what the settings ask for.
    let tracingService = try otelEndpoint.map(Self.startTracing)
    let (url, embedded) = try await database.resolve(logger: logger)
    configuration.databaseURL = url
    let demoFile = embedded.map { $0.directory + "/demo-credentials" }
    let settings = configuration
    let server = try SwitchboardServer(configuration: settings, logger: logger) { client in
      if let demoFile { try await DemoSeed.ensure(client: client, file: demoFile, logger: logger) }
      // Only what this role serves: a dispatcher has no gRPC, and its HTTP port has health only.
      var served: Logger.Metadata = ["role": "\(settings.role.rawValue)"]
      if settings.role == .dispatcher {
        served["http"] = "\(host):\(settings.httpPort) (/healthz, /readyz)"
      } else {
        served["grpc"] = "\(host):\(settings.grpcPort)"
        served["http"] = "\(host):\(settings.httpPort)"
      }
      logger.info("switchboard ready", metadata: served)
    }
    // The exporter stops last, after the server's final spans.
    let services = (tracingService.map { [$0] } ?? []) + server.services
    let group = ServiceGroup(
      configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
      try await group.run()
    } catch {
      await embedded?.stop()
      throw error
    }
    await embedded?.stop()
  }
}

extension Serve {
  /// The TLS files from the flags or their variables, read once so that a bad one stops start-up.
  func tlsFiles() throws -> TLSFiles? {
    let chain = tlsCertificateChain ?? Environment.string("SWITCHBOARD_TLS_CERTIFICATE_CHAIN")
    let key = tlsPrivateKey ?? Environment.string("SWITCHBOARD_TLS_PRIVATE_KEY")
    let clientCA = tlsClientCA ?? Environment.string("SWITCHBOARD_TLS_CLIENT_CA")
    switch (chain, key) {
    case (let chain?, let key?):
      let files = TLSFiles(certificateChain: chain, privateKey: key, clientCA: clientCA)
      do { try files.validate() } catch { throw ValidationError("\(error)") }
      return files
    case (nil, nil):
      guard clientCA == nil else {
        throw ValidationError("--tls-client-ca needs --tls-certificate-chain and --tls-private-key")
      }
      return nil
    default:
      throw ValidationError("--tls-certificate-chain and --tls-private-key go together")
    }
  }

  /// An OTLP endpoint must be an http or https URL.
  static func otelEndpoint(_ endpoint: String?) throws -> String? {
    guard let endpoint else { return nil }
    guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
      throw ValidationError("--otel-endpoint must be an http or https URL, not \(endpoint)")
    }
    return endpoint
  }

  /// Spans over OTLP/HTTP (protobuf) to `endpoint`, used as given; only traces: metrics stay on
  /// `/metrics` and logs on standard error. Returns the exporter, to run beside the server.
  static func startTracing(endpoint: String) throws -> any Service {
    var otel = OTel.Configuration.default
    otel.serviceName = "switchboard"
    otel.logs.enabled = false
    otel.metrics.enabled = false
    otel.traces.exporter = .otlp
    otel.traces.otlpExporter.protocol = .httpProtobuf
    otel.traces.otlpExporter.endpoint = endpoint
    otel.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
    let (tracer, service) = try OTel.makeTracingBackend(configuration: otel)
    InstrumentationSystem.bootstrap(tracer)
    return service
  }

  /// A positive number of seconds from a flag or its variable.
  static func seconds(_ flag: Double?, _ variable: String, flag name: String) throws -> Duration? {
    var value = flag
    if value == nil, let text = Environment.string(variable) {
      guard let number = Double(text) else {
        throw ValidationError("\(variable) must be a number of seconds, not \(text)")
      }
      value = number
    }
    guard let value else { return nil }
    guard value > 0, value.isFinite else { throw ValidationError("\(name) must be a positive number of seconds") }
    return .milliseconds(Int64((value * 1000).rounded()))
  }
}

/// The development seed: on an empty embedded database, a demo tenant, agent and key.
enum DemoSeed {
  static let agentID: Int64 = 1
  static let agentPhone = "+14155550100"

  static func ensure(client: PostgresClient, file: String, logger: Logger) async throws {
    let accounts = PostgresAccounts(client: client, logger: logger)
    if try await !accounts.hasTenants() {
      let tenant = try await accounts.createTenant(name: "demo")
      try await accounts.saveAgent(
        tenantID: tenant, agentID: agentID, phoneNumber: agentPhone, name: "Demo agent", update: false)
      let key = try await accounts.createAPIKey(tenantID: tenant)
      // The development cluster's own directory keeps the key so later starts can show it again.
      _ = FileManager.default.createFile(
        atPath: file, contents: Data("\(key)\n\(agentID)\n".utf8), attributes: [.posixPermissions: 0o600])
    }
    guard let saved = try? String(contentsOfFile: file, encoding: .utf8) else { return }
    let lines = saved.split(separator: "\n")
    guard lines.count >= 2 else { return }
    // Written straight to the descriptor so it shows at once even when stdout is a pipe.
    FileHandle.standardOutput.write(Data("Demo API key: \(lines[0])\nDemo agent id: \(lines[1])\n".utf8))
  }
}

/// A container health check that needs no curl in the image: exits 0 when the replica on this host
/// answers `/readyz` (every role serves it) with 200 within 5 s, else 1.
struct Healthcheck: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Exit 0 when the replica on this host is ready (GET /readyz answers 200), else 1.")

  @Option(help: "HTTP port of the replica (env SWITCHBOARD_HTTP_PORT, default \(defaults.httpPort)).")
  var httpPort: Int?

  func run() async throws {
    let port = try httpPort ?? Environment.integer("SWITCHBOARD_HTTP_PORT") ?? 8080
    // Behind TLS (the replica's SWITCHBOARD_TLS_* variables), over https to loopback: the
    // replica's own certificate is not checked, and under mutual TLS it is presented as the
    // client's (so the client CA must have signed it).
    let chain = Environment.string("SWITCHBOARD_TLS_CERTIFICATE_CHAIN")
    let key = Environment.string("SWITCHBOARD_TLS_PRIVATE_KEY")
    var tls: TLSConfiguration?
    if let chain, let key {
      var configuration = TLSConfiguration.makeClientConfiguration()
      configuration.certificateVerification = .none
      if Environment.string("SWITCHBOARD_TLS_CLIENT_CA") != nil {
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
      }
      tls = configuration
    }
    let client = HTTPClient(
      eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    var request = HTTPClientRequest(url: "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/readyz")
    request.method = .GET
    let response = try? await client.execute(request, timeout: .seconds(5))
    try? await client.shutdown()
    guard response?.status == .ok else { throw ExitCode.failure }
  }
}

struct Migrate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Apply database migrations and exit.")
  @OptionGroup var database: DatabaseOptions

  func run() async throws {
    try await database.withDatabase { _, _ in }
  }
}

struct Tenants: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Manage tenants.", subcommands: [Create.self])

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a tenant; prints its id.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Display name.") var name: String
    @Option(help: "Calls per hour to one number (0 = off, default 5).") var numberRateLimit = 5
    @Option(help: "Calls to one number at once (default: the rate limit).") var numberRateBurst: Int?
    @Option(help: "Active calls at once (0 = off, default 10).") var maxConcurrentCalls = 10

    func validate() throws {
      guard numberRateLimit >= 0, maxConcurrentCalls >= 0 else { throw ValidationError("limits must not be negative") }
      if let numberRateBurst, numberRateBurst < 1 { throw ValidationError("--number-rate-burst must be at least 1") }
    }

    func run() async throws {
      let settings = PostgresAccounts.TenantSettings(
        numberRateLimit: numberRateLimit, numberRateBurst: numberRateBurst, maxConcurrentCalls: maxConcurrentCalls)
      let name = name
      let id = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).createTenant(name: name, settings: settings)
      }
      print(id)
    }
  }
}

struct Keys: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Manage API keys.", subcommands: [Create.self, Revoke.self])

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Issue an API key; prints it (it is stored only hashed).")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Tenant id.") var tenant: Int64

    func run() async throws {
      let tenant = tenant
      let key = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).createAPIKey(tenantID: tenant)
      }
      print(key)
    }
  }

  struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke an API key.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The key (sk_…).") var key: String

    func run() async throws {
      let key = key
      let revoked = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).revokeAPIKey(key)
      }
      guard revoked else { throw ValidationError("no live key matched") }
    }
  }
}

struct Agents: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Manage agents.", subcommands: [Create.self, Update.self, Webhooks.self])

  struct AgentOptions: ParsableArguments {
    @Option(help: "Tenant id.") var tenant: Int64
    @Option(help: "Agent id (> 0), as clients send it.") var id: Int64
    @Option(help: "The E.164 number the agent calls from.") var phone: String?
    @Option(help: "Display name.") var name: String?
    @Option(
      help: #"Retry policy, e.g. '{"max_attempts":3,"retry_on":["no_answer","busy"],"delays_seconds":[1800,3600]}'."#)
    var retryPolicy: String?
    @Option(
      help:
        #"Calling window, e.g. '{"timezone":"Asia/Kolkata","days":["mon","tue"],"start":"09:00","end":"18:00"}'."#)
    var callingWindow: String?
    @Option(
      help: "A webhook target's URL: added, or (with a target of that URL) given --webhook-secret/--webhook-events.")
    var webhookURL: String?
    @Option(help: "Secret that signs the target's events (HMAC-SHA256).") var webhookSecret: String?
    @Option(
      help: "Comma-separated event types the target gets (default: all), e.g. call.completed,batch.completed.")
    var webhookEvents: String?
    @OptionGroup var outbound: OutboundOptions

    func validate() throws {
      guard id > 0 else { throw ValidationError("--id must be positive") }
      if let phone, !PhoneNumber.isE164(phone) { throw ValidationError("--phone must be an E.164 number") }
      if webhookURL == nil, webhookSecret != nil || webhookEvents != nil {
        throw ValidationError("--webhook-secret and --webhook-events need --webhook-url (the target they are for)")
      }
      let settings = try settings()
      if let url = settings.webhookURL {
        try Webhooks.checked(
          WebhookTargetInput(url: url, secret: nil, events: settings.webhookEvents), policy: try outbound.policy())
      }
    }

    func settings() throws -> PostgresAccounts.AgentSettings {
      func parse<T>(_ text: String?, _ read: (JSONValue) throws(SwitchboardError) -> T) throws -> T? {
        guard let text else { return nil }
        guard let json = try? JSONValue.decode(text) else { throw ValidationError("not valid JSON: \(text)") }
        do {
          return try read(json)
        } catch {
          throw ValidationError(error.message)
        }
      }
      return PostgresAccounts.AgentSettings(
        phoneNumber: phone, name: name, retryPolicy: try parse(retryPolicy, RetryPolicy.init(json:)),
        callingWindow: try parse(callingWindow, CallingWindow.init(json:)), webhookURL: webhookURL,
        webhookSecret: webhookSecret,
        webhookEvents: webhookEvents.map(Webhooks.eventList))
    }
  }

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an agent; prints its id.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
      try await Agents.save(agent, database, update: false)
      print(agent.id)
    }
  }

  struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change an agent's phone number or name.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
      try await Agents.save(agent, database, update: true)
    }
  }

  struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Manage an agent's webhook targets (up to \(WebhookTarget.maxPerAgent)).",
      subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Add a webhook target; prints its id.")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64
      @Option(help: "Where the target's events are POSTed (http or https).") var url: String
      @Option(help: "Secret that signs its events (HMAC-SHA256); or set SWITCHBOARD_WEBHOOK_SECRET.")
      var secret: String?
      @Option(
        help: "Comma-separated event types it gets (default: all): \(WebhookTarget.eventTypes.joined(separator: ", "))."
      )
      var events: String?
      @Flag(help: "Send data.transcript with outcome events.") var includeTranscript = false
      @Flag(help: "Send data.call.recording_url with outcome events.") var includeRecording = false
      @OptionGroup var outbound: OutboundOptions

      var input: WebhookTargetInput {
        WebhookTargetInput(
          url: url, secret: Secret(secret ?? ProcessInfo.processInfo.environment["SWITCHBOARD_WEBHOOK_SECRET"]),
          events: events.map(Webhooks.eventList), includeTranscript: includeTranscript,
          includeRecording: includeRecording)
      }

      func validate() throws { try Webhooks.checked(input, policy: try outbound.policy()) }

      func run() async throws {
        let (input, tenant, agent, policy) = (input, tenant, agent, try outbound.policy())
        let id = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger, outboundPolicy: policy).addWebhookTarget(
            input, tenantID: tenant, agentID: agent)
        }
        print(id)
      }
    }

    struct List: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "List an agent's webhook targets (secrets are never shown).")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64

      func run() async throws {
        let (tenant, agent) = (tenant, agent)
        let targets = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger).webhookTargets(tenantID: tenant, agentID: agent)
        }
        print(["id", "url", "events", "transcript", "recording", "secret"].joined(separator: "\t"))
        for target in targets {
          print(
            [
              String(target.id), target.url, target.events?.joined(separator: ",") ?? "all",
              target.includeTranscript ? "yes" : "no", target.includeRecording ? "yes" : "no",
              target.hasSecret ? "set" : "none",
            ].joined(separator: "\t"))
        }
      }
    }

    struct Remove: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Remove a webhook target, and the events still waiting to go to it.")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64
      @Argument(help: "The target's id (agents webhooks list).") var target: Int64

      func run() async throws {
        let (tenant, agent, target) = (tenant, agent, target)
        let removed = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger).removeWebhookTarget(
            tenantID: tenant, agentID: agent, targetID: target)
        }
        guard removed else { throw ValidationError("agent \(agent) has no webhook target \(target)") }
      }
    }

    static func eventList(_ text: String) -> [String] {
      text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The target rules, as a command-line error.
    static func checked(_ input: WebhookTargetInput, policy: OutboundURLPolicy) throws {
      do {
        _ = try input.validated(policy: policy)
      } catch {
        throw ValidationError(error.message)
      }
    }
  }

  static func save(_ agent: AgentOptions, _ database: DatabaseOptions, update: Bool) async throws {
    let (tenant, id, settings, policy) = (agent.tenant, agent.id, try agent.settings(), try agent.outbound.policy())
    try await database.withDatabase { client, logger in
      try await PostgresAccounts(client: client, logger: logger, outboundPolicy: policy).saveAgent(
        tenantID: tenant, agentID: id, settings: settings, update: update)
    }
  }
}
