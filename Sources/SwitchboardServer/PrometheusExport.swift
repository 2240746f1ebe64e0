import CoreMetrics
import Prometheus
import SwitchboardCore

/// The process's Prometheus registry, bootstrapped as the swift-metrics backend the first time it
/// is asked for (swift-metrics allows one bootstrap per process; every server of the process,
/// tests included, shares it).
public enum PrometheusExport {
  public static let registry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.valueHistogramBuckets[Telemetry.Name.intakeBatchSize] = Telemetry.intakeBatchBuckets
    factory.durationHistogramBuckets[Telemetry.Name.dispatchLag] = Telemetry.dispatchLagBuckets
    factory.nameAndLabelSanitizer = { name, labels in
      (hummingbirdNames[name] ?? name, labels.map { (hummingbirdLabels[$0.0] ?? $0.0, $0.1) })
    }
    MetricsSystem.bootstrap(factory)
    return registry
  }()

  /// Everything recorded so far, in the text exposition format.
  public static func exposition() -> [UInt8] {
    var buffer: [UInt8] = []
    buffer.reserveCapacity(16 * 1024)
    registry.emit(into: &buffer)
    return buffer
  }

  /// Hummingbird's `MetricsMiddleware` names its metrics after OpenTelemetry's; these are the
  /// Prometheus spellings, beside `grpc_requests_total` and `grpc_request_duration_seconds`.
  static let hummingbirdNames = [
    "hb.requests": "http_requests_total",
    "hb.request.errors": "http_request_errors_total",
    "http.server.request.duration": "http_request_duration_seconds",
    "http.server.active_requests": "http_active_requests",
  ]
  static let hummingbirdLabels = [
    "http.route": "route", "http.request.method": "method", "http.response.status_code": "code",
    "error.type": "code",
  ]
}
