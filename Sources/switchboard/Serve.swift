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
  static let configuration = CommandConfiguration(
    abstract: "Run the gRPC server and the JSON gateway.",
    discussion: """
      Every setting is a flag, a variable, a key of the --config YAML file, or a file of the
      --secrets-dir directory (flags win, then variables, then secrets, then the file):

      \(ServeSettings.help)
      """)

  /// The settings, as given: read by ServeSettings, the one declaration of them.
  @Argument(parsing: .allUnrecognized, help: .hidden) var settings: [String] = []

  func run() async throws {
    // Every setting is checked before anything starts: a bad one stops start-up with one line.
    let values: ServeSettings.Values
    // A bad one is said in one line (ServeSettings.SettingError), without the usage text.
    values = try await ServeSettings.read(arguments: settings, environment: ProcessInfo.processInfo.environment)
    var configuration = values.server
    let logger = try DatabaseOptions.logger(level: values.logLevel, format: values.logFormat)
    configuration.tls = try Self.tlsFiles(values)
    configuration.tracing = values.otelEndpoint != nil
    if configuration.dialer == .webhook, configuration.dialerURL == nil {
      throw ValidationError("--dialer webhook needs --dialer-url (env SWITCHBOARD_DIALER_URL)")
    }
    let host = configuration.httpHost
    let otelEndpoint = values.otelEndpoint

    // Everything checked: start what the settings ask for.
    let tracingService = try otelEndpoint.map(Self.startTracing)
    let (url, embedded) = try await DatabaseOptions.resolve(
      url: values.databaseURL, directory: values.dataDir, logger: logger)
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
  /// The TLS files the settings name, read once so that a bad one stops start-up.
  static func tlsFiles(_ values: ServeSettings.Values) throws -> TLSFiles? {
    switch (values.tlsCertificateChain, values.tlsPrivateKey) {
    case (let chain?, let key?):
      let files = TLSFiles(certificateChain: chain, privateKey: key, clientCA: values.tlsClientCA)
      do { try files.validate() } catch { throw ValidationError("\(error)") }
      return files
    case (nil, nil):
      guard values.tlsClientCA == nil else {
        throw ValidationError("--tls-client-ca needs --tls-certificate-chain and --tls-private-key")
      }
      return nil
    default:
      throw ValidationError("--tls-certificate-chain and --tls-private-key go together")
    }
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
}
