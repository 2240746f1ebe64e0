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

  @Option(
    help:
      "Seconds graceful shutdown may take before what still runs is cancelled and named, and the process exits 70 (env SWITCHBOARD_SHUTDOWN_TIMEOUT, default \(wholeSeconds(defaults.shutdownTimeout)))."
  )
  var shutdownTimeout: Double?

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
    if let seconds = try Self.seconds(shutdownTimeout, "SWITCHBOARD_SHUTDOWN_TIMEOUT", flag: "--shutdown-timeout") {
      configuration.shutdownTimeout = seconds
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
    // The exporter stops last, after the server's final spans. Services that outlive the
    // shutdown deadline and their cancellation are named and the process exits 70.
    let group = try await server.serviceGroup(
      extra: tracingService.map { [("tracing", $0)] } ?? [], signals: [.sigterm, .sigint],
      overdue: { _ in Foundation.exit(EX_SOFTWARE) })
    do {
      try await group.run()
    } catch {
      await embedded?.stop()
      throw error
    }
    await embedded?.stop()
    if server.shutdownOverran {
      throw ExitCode(EX_SOFTWARE)
    }
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
