import Foundation

/// An attempt handed to a dialer: everything needed to place the call.
public struct DialRequest: Sendable, Hashable {
  public var tenantID: Int64
  public var traceID: UUID
  public var conversationID: UUID
  public var attemptNumber: Int
  public var agentID: Int64
  public var agentPhone: String
  public var customerPhone: String
  public var parameters: [CallParameter]
  public var metadata: String?
  /// The effective context: the chain state overridden by the request's.
  public var retryContext: RetryContext
  public var scheduledFor: Date?
  /// The W3C `traceparent` the call was placed with, passed on to the dialer.
  public var traceparent: String?

  public init(
    tenantID: Int64, traceID: UUID, conversationID: UUID, attemptNumber: Int, agentID: Int64, agentPhone: String,
    customerPhone: String, parameters: [CallParameter], metadata: String?, retryContext: RetryContext,
    scheduledFor: Date?, traceparent: String? = nil
  ) {
    self.traceparent = traceparent
    self.tenantID = tenantID
    self.traceID = traceID
    self.conversationID = conversationID
    self.attemptNumber = attemptNumber
    self.agentID = agentID
    self.agentPhone = agentPhone
    self.customerPhone = customerPhone
    self.parameters = parameters
    self.metadata = metadata
    self.retryContext = retryContext
    self.scheduledFor = scheduledFor
  }

  /// A call parameter's value.
  public func parameter(_ name: String) -> String? {
    parameters.first { $0.name == name }?.value
  }
}

public enum DialResult: Sendable, Hashable {
  /// The dialer took the call; its progress arrives as events.
  case accepted
  /// The dialer could not take it, after its own retries.
  case failed(reason: String)
}

/// Places calls. Implementations must tolerate the same `traceID` twice (a lease that expired
/// mid-dial is claimed again by another replica).
public protocol Dialer: Sendable {
  func dial(_ request: DialRequest) async -> DialResult
}

/// An attempt a dispatcher holds under lease.
public struct ClaimedAttempt: Sendable, Hashable {
  public var request: DialRequest
  public var callingWindow: CallingWindow?
  /// Scheduled attempts meet the per-number and tenant limits at dispatch, not at intake.
  public var limitsPending: Bool
  /// A compliance rule may apply (the number has a suppression entry, or the tenant or agent has
  /// caps): admission checks it, charging no limit when ``limitsPending`` is false.
  public var compliancePending = false
  /// The recipient-hours rule of its agent or tenant, if any, checked beside the calling window.
  public var recipientHours: RecipientHoursPolicy?
  /// The recipient's zone as the caller gave it.
  public var recipientTimezone: String?
  public var leaseOwner: String
  /// When it fell due: its schedule, its creation, or the end of a postponement.
  public var dueAt: Date

  public init(
    request: DialRequest, callingWindow: CallingWindow?, limitsPending: Bool, leaseOwner: String, dueAt: Date
  ) {
    self.request = request
    self.dueAt = dueAt
    self.callingWindow = callingWindow
    self.limitsPending = limitsPending
    self.leaseOwner = leaseOwner
  }
}

/// The dispatcher's view of storage. Claims are exclusive: an attempt is held by one lease at a
/// time, and an expired lease may be claimed again.
public protocol DispatchStore: Sendable {
  /// Claims up to `limit` due attempts (and ones whose lease expired), marking them `dispatching`.
  func claimDue(owner: String, limit: Int, lease: Duration) async throws -> [ClaimedAttempt]

  /// Charges a scheduled attempt's limits (and its batch's pacing) at dispatch.
  func admit(_ attempt: ClaimedAttempt) async throws -> Admission

  /// Gives the attempt back, due again at `until`.
  func postpone(_ attempt: ClaimedAttempt, until: Date, reason: BlockedReason?) async throws
  /// Ends a claimed attempt `suppressed` (admission found its number suppressed), with its event
  /// and outcome webhook.
  func suppress(_ attempt: ClaimedAttempt, reason: BlockedReason) async throws

  /// Records that the dialer took the attempt (unless a later status already arrived).
  func markDispatched(_ attempt: ClaimedAttempt) async throws

  /// Returns when new work may be due: on a notification of an accepted call, or after `timeout`.
  func waitForWork(timeout: Duration) async

  /// The store's own background work (wake-ups, batched writes), until cancelled; then it writes
  /// what is still pending. The dispatcher runs it beside its dials.
  func run() async

  /// Attempts whose runtime fell silent, at most `limit`, none of `excluding`: `dispatched` or
  /// `ringing` with no report for `ringTimeout`, `in_progress` for longer than `maxCallDuration`.
  func silentAttempts(
    ringTimeout: Duration, maxCallDuration: Duration, limit: Int, excluding: [UUID]
  ) async throws -> [SilentAttempt]

  /// Open batches whose start has come and whose every chain is final, at most `limit`, none of
  /// `excluding` (batch ids).
  func finishedBatches(limit: Int, excluding: [Int64]) async throws -> [BatchKey]

  /// Marks one finished batch `completed`, with its `batch.completed` event, in a transaction of
  /// its own; false when it no longer is open and finished (another replica completed it).
  func completeBatch(_ batch: BatchKey) async throws -> Bool
}

/// What dispatch admission decided for a claimed attempt.
public enum Admission: Sendable, Hashable {
  /// It may be dialed now; its limits are charged.
  case admitted
  /// Not now (its batch is paused or at its concurrency, or a tenant limit is reached): due
  /// again at `until`.
  case deferred(until: Date)
  /// Its batch was canceled; the attempt ended `canceled` with the decision.
  case canceled
  /// A compliance rule holds it back until `until` (a cap): a deferral recorded with its reason.
  case held(until: Date, reason: BlockedReason)
  /// A compliance rule forbids it for good (the number is suppressed): it ends `suppressed`.
  case suppressed(BlockedReason)
}

/// A batch, as shared sweeps name it.
public struct BatchKey: Sendable, Hashable {
  public var tenantID: Int64
  public var batchID: Int64

  public init(tenantID: Int64, batchID: Int64) {
    self.tenantID = tenantID
    self.batchID = batchID
  }
}

/// An attempt whose voice runtime stopped reporting, to be ended `failed`.
public struct SilentAttempt: Sendable, Hashable {
  public var tenantID: Int64
  public var traceID: UUID
  /// The status it was left in.
  public var status: CallStatus
  /// When it last changed.
  public var since: Date

  public init(tenantID: Int64, traceID: UUID, status: CallStatus, since: Date) {
    self.tenantID = tenantID
    self.traceID = traceID
    self.status = status
    self.since = since
  }

  /// The failure event that ends it. Its id names the status it ends, so replicas that reap the
  /// same attempt at once record one event between them.
  public func failureEvent(ringTimeout: Duration, maxCallDuration: Duration) -> CallEventInput {
    let reason =
      status == .inProgress
      ? "call exceeded the maximum call duration of \(maxCallDuration.components.seconds) s without an outcome"
      : "no report from the voice runtime within \(ringTimeout.components.seconds) s of \(status.rawValue)"
    return CallEventInput(
      eventID: "reaped-\(status.rawValue)", status: CallStatus.failed.rawValue, failureReason: reason,
      onlyIfStatus: status)
  }
}

/// An outcome event waiting in the outbox for its webhook.
public struct OutboxDelivery: Sendable, Hashable {
  public var tenantID: Int64
  public var deliveryID: UUID
  public var url: String
  /// The JSON envelope, exactly as signed and sent.
  public var payload: String
  public var secret: Secret?
  /// The W3C `traceparent` of the call the event is about.
  public var traceparent: String?
  /// Tries so far, this one included.
  public var attempt: Int
  /// The webhook target it goes to (its own sends are limited, so it cannot hold up another's).
  public var targetID: Int64?

  public init(tenantID: Int64, deliveryID: UUID, url: String, payload: String, secret: Secret?, attempt: Int) {
    self.tenantID = tenantID
    self.deliveryID = deliveryID
    self.url = url
    self.payload = payload
    self.secret = secret
    self.attempt = attempt
  }
}

/// How a deliverer's sends are shared: no target has more than `perTarget` under way and no
/// tenant more than `perTenant`, counting the sends under way now (`busyTargets`,
/// `busyTenants`). So one tenant's slow receivers hold at most its share of the deliverer.
public struct DeliveryShares: Sendable, Hashable {
  public var perTarget: Int
  public var perTenant: Int
  public var busyTargets: [Int64: Int]
  public var busyTenants: [Int64: Int]

  public init(perTarget: Int, perTenant: Int, busyTargets: [Int64: Int] = [:], busyTenants: [Int64: Int] = [:]) {
    self.perTarget = perTarget
    self.perTenant = perTenant
    self.busyTargets = busyTargets
    self.busyTenants = busyTenants
  }
}

/// The outbox of outcome events: written with the status change, drained by a deliverer.
public protocol OutboxStore: Sendable {
  /// Claims due deliveries, oldest first, holding each for a while so one replica sends it at a
  /// time: at most `limit`, and within what `shares` leaves to each target and tenant.
  func claimDeliveries(limit: Int, shares: DeliveryShares) async throws -> [OutboxDelivery]
  func markDelivered(_ delivery: OutboxDelivery) async throws
  /// Records a failed try; `retryAt` nil means no more tries.
  func markFailed(_ delivery: OutboxDelivery, error: String, retryAt: Date?) async throws
}

/// Where an attempt stands in its chain's retry policy, for outcome events.
public struct RetryStatus: Sendable, Hashable {
  public var attemptNumber: Int
  public var maxAttempts: Int
  public var isFinalAttempt: Bool
  public var nextRetryAt: Date?

  public init(attemptNumber: Int, maxAttempts: Int, isFinalAttempt: Bool, nextRetryAt: Date?) {
    self.attemptNumber = attemptNumber
    self.maxAttempts = maxAttempts
    self.isFinalAttempt = isFinalAttempt
    self.nextRetryAt = nextRetryAt
  }
}

/// The envelope subscribers receive: `{event_id, event_type, timestamp, data: {call, results,
/// retry, retry_context}}`, `data.call` shaped as the seed system's (``callFields``).
public enum OutcomeEnvelope {
  /// `call.<status>`; a failure whose `failure_type` says the dialer could not be reached or the
  /// carrier failed is `call.socket_failure` or `call.telephony_failed`.
  public static func eventType(_ attempt: CallAttempt) -> String {
    switch (attempt.status, attempt.failureType) {
    case (.failed, .socketFailure?): "call.socket_failure"
    case (.failed, .telephonyFailed?): "call.telephony_failed"
    default: "call.\(attempt.status.rawValue)"
    }
  }

  /// The members of `data.call`, as the seed system sends them.
  public static let callFields: Set<String> = [
    "agent_id", "call_parameters", "conversation_id", "duration_seconds", "started_at", "ended_at", "failure_reason",
    "from_phone", "to_phone", "recording_url", "status", "trace_id", "batch_id",
  ]

  /// - Parameters:
  ///   - fromPhone: the agent's number.
  ///   - includeTranscript: whether `data.transcript` is sent.
  ///   - includeRecording: whether `data.call.recording_url` is sent (null otherwise).
  public static func make(
    eventID: UUID, attempt: CallAttempt, retry: RetryStatus, fromPhone: String?, includeTranscript: Bool = false,
    includeRecording: Bool = true, optOut: Bool = false, at time: Date
  ) -> JSONValue {
    func moment(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
    func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    let call: JSONValue = [
      "agent_id": .integer(attempt.agentID),
      "call_parameters": .object(
        Dictionary(attempt.parameters.map { ($0.name, JSONValue.string($0.value)) }, uniquingKeysWith: { $1 })),
      "conversation_id": .string("\(attempt.conversationID.lowercased)_\(attempt.attemptNumber)"),
      "duration_seconds": attempt.durationSeconds.map(JSONValue.double) ?? .null,
      "started_at": moment(attempt.dispatchedAt),
      "ended_at": moment(attempt.endedAt),
      "failure_reason": text(attempt.failureReason),
      "from_phone": text(fromPhone),
      "to_phone": .string(attempt.customerPhone),
      "recording_url": includeRecording ? text(attempt.recordingURL) : .null,
      "status": .string(attempt.status.rawValue),
      "trace_id": .string(attempt.traceID.lowercased),
      "batch_id": attempt.batchID.map(JSONValue.integer) ?? .null,
    ]
    var data: [String: JSONValue] = [
      "call": call,
      "results": attempt.results.map(JSONValue.object) ?? .null,
      "retry": [
        "attempt_number": .integer(Int64(retry.attemptNumber)),
        "max_attempts": .integer(Int64(retry.maxAttempts)),
        "is_final_attempt": .bool(retry.isFinalAttempt),
        "next_retry_at": retry.nextRetryAt.map { .string(Timestamp.format($0)) } ?? .null,
      ],
      "retry_context": attempt.effectiveRetryContext.json,
    ]
    if includeTranscript { data["transcript"] = attempt.transcript.map { .array($0.map(\.json)) } ?? .array([]) }
    // The runtime heard "stop calling" on this call; the number is now suppressed.
    if optOut { data["opt_out"] = .bool(true) }
    return [
      "event_id": .string(eventID.lowercased),
      "event_type": .string(eventType(attempt)),
      "timestamp": .string(Timestamp.format(time)),
      "data": .object(data),
    ]
  }
}

/// The envelope of a batch's own events: `{event_id, event_type, timestamp, data: {batch,
/// metrics}}`, `batch.completed` when every chain is final, `batch.canceled` when the client
/// cancels it (one event for the batch, not one per contact).
public enum BatchEnvelope {
  public static let completed = "batch.completed"
  public static let canceled = "batch.canceled"

  public static func make(
    eventID: UUID, type: String, batch: Batch, metrics: BatchMetrics, at time: Date
  ) -> JSONValue {
    [
      "event_id": .string(eventID.lowercased),
      "event_type": .string(type),
      "timestamp": .string(Timestamp.format(time)),
      "data": ["batch": batch.json, "metrics": metrics.json],
    ]
  }
}

extension Duration {
  /// The duration in seconds, for SQL intervals and flags.
  public var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
