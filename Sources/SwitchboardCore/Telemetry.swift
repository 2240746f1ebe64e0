import CoreMetrics
import Foundation

/// Every metric Switchboard records, in one place: name, labels and meaning. Recorded through
/// swift-metrics, so the process's backend decides where they go (`switchboard serve` exposes
/// them in Prometheus's text format at `/metrics`). Label values come from small closed sets:
/// never a trace id, a tenant or a phone number.
///
/// Each recording looks its instrument up in the backend (a dictionary read under a lock), so no
/// instrument is bound to the no-op backend by being made before the process bootstraps metrics.
public enum Telemetry {
  /// Names, and the buckets of the histograms that are not durations in seconds.
  public enum Name {
    public static let grpcRequests = "grpc_requests_total"
    public static let grpcRequestDuration = "grpc_request_duration_seconds"
    public static let callsAccepted = "switchboard_calls_accepted_total"
    public static let intakeBatchSize = "switchboard_intake_batch_size"
    public static let dispatchLag = "switchboard_dispatch_lag_seconds"
    public static let dueWaiting = "switchboard_due_attempts_waiting"
    public static let dialResults = "switchboard_dial_results_total"
    public static let webhookDeliveries = "switchboard_webhook_deliveries_total"
    public static let outboxPending = "switchboard_outbox_pending"
    public static let reaped = "switchboard_reaper_ended_total"
    public static let batchesCreated = "switchboard_batches_created_total"
    public static let batchRecipients = "switchboard_batch_recipients_total"
    public static let batchesCompleted = "switchboard_batches_completed_total"
    public static let complianceBlocked = "switchboard_compliance_blocked_total"
  }

  /// Calls per intake statement: 1 on an idle replica, more as calls queue behind the writers.
  public static let intakeBatchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
  /// From due to handed to the dialer: milliseconds when keeping up, minutes when behind.
  public static let dispatchLagBuckets: [Duration] = [
    .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
    .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    .seconds(300),
  ]

  /// One gRPC call, when its status is known (for a stream, when the stream ends).
  public static func grpcRequest(method: String, code: String, duration: Duration) {
    let labels = [("method", method), ("code", code)]
    Counter(label: Name.grpcRequests, dimensions: labels).increment()
    CoreMetrics.Timer(label: Name.grpcRequestDuration, dimensions: labels).record(duration)
  }

  /// A call written by intake, by the status it starts in (`initiated` or `scheduled`).
  public static func callAccepted(status: CallStatus) {
    Counter(label: Name.callsAccepted, dimensions: [("status", status.rawValue)]).increment()
  }

  /// A batch written, and its recipients (each a chain).
  public static func batchCreated(recipients: Int) {
    Counter(label: Name.batchesCreated).increment()
    Counter(label: Name.batchRecipients).increment(by: recipients)
  }

  /// Batches found with every chain final, by this replica.
  public static func batchesCompleted(_ count: Int) {
    Counter(label: Name.batchesCompleted).increment(by: count)
  }

  /// The calls written by one intake statement.
  public static func intakeBatch(size: Int) {
    Recorder(label: Name.intakeBatchSize, aggregate: true).record(size)
  }

  /// An attempt handed to the dialer, `lag` after it fell due.
  public static func dispatched(lag: Duration) {
    CoreMetrics.Timer(label: Name.dispatchLag).record(lag > .zero ? lag : .zero)
  }

  /// What the dialer said: `accepted`, or `failed`.
  public static func dialResult(_ result: String) {
    Counter(label: Name.dialResults, dimensions: [("result", result)]).increment()
  }

  /// One outcome webhook send: `delivered`, `retry` or `rejected`.
  public static func webhookDelivery(_ result: String) {
    Counter(label: Name.webhookDeliveries, dimensions: [("result", result)]).increment()
  }

  /// An attempt the reaper ended, by the state it fell silent in.
  public static func reaped(status: CallStatus) {
    Counter(label: Name.reaped, dimensions: [("status", status.rawValue)]).increment()
  }

  /// A compliance decision: a refusal at intake or in a batch upload, a deferral or an ending at
  /// dispatch, or an attempt a suppression ended.
  public static func complianceBlocked(reason: BlockedReason, count: Int = 1) {
    guard count > 0 else { return }
    Counter(label: Name.complianceBlocked, dimensions: [("reason", reason.rawValue)]).increment(by: count)
  }

  /// Sampled from the database: attempts due and not yet claimed, and outcome events not yet
  /// delivered.
  public static func backlog(dueWaiting: Int, outboxPending: Int) {
    Gauge(label: Name.dueWaiting).record(dueWaiting)
    Gauge(label: Name.outboxPending).record(outboxPending)
  }
}

extension CoreMetrics.Timer {
  fileprivate func record(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }
}
