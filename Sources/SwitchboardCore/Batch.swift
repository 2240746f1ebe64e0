import Foundation

/// Where a batch stands: `pending` until its start, `running`, `paused` by the client,
/// `completed` once every contact's chain is final (retries included), or `canceled`.
public enum BatchStatus: String, Sendable, Hashable, CaseIterable {
  case pending, running, paused, completed, canceled
}

/// What a client may do to a batch it started.
public enum BatchAction: String, Sendable, Hashable, CaseIterable {
  /// No new dispatch once answered; calls in flight finish.
  case pause
  /// Dispatch again, from where it stopped.
  case resume
  /// Every attempt not yet dispatched ends `canceled`; calls in flight finish.
  case cancel

  /// The statuses the action moves a batch from.
  public var from: Set<BatchStatus> {
    switch self {
    case .pause: [.pending, .running]
    case .resume: [.paused]
    case .cancel: [.pending, .running, .paused]
    }
  }

  /// Where the action moves a batch from one of ``from``: a resumed batch whose start has not
  /// come is pending again.
  public func target(startHasCome: Bool) -> BatchStatus {
    switch self {
    case .pause: .paused
    case .resume: startHasCome ? .running : .pending
    case .cancel: .canceled
    }
  }

  /// The statuses in which the action is already done: asking again answers the batch as it is.
  public var done: Set<BatchStatus> {
    switch self {
    case .pause: [.paused]
    case .resume: [.pending, .running]
    case .cancel: [.canceled]
    }
  }
}

/// A batch call (campaign) as stored.
public struct Batch: Sendable, Hashable {
  public var id: Int64
  public var agentID: Int64
  public var name: String
  public var status: BatchStatus
  public var totalRecipients: Int
  public var maxConcurrency: Int?
  public var scheduledFor: Date?
  public var createdAt: Date
  public var completedAt: Date?

  public init(
    id: Int64, agentID: Int64, name: String, status: BatchStatus, totalRecipients: Int, maxConcurrency: Int?,
    scheduledFor: Date?, createdAt: Date, completedAt: Date? = nil
  ) {
    self.id = id
    self.agentID = agentID
    self.name = name
    self.status = status
    self.totalRecipients = totalRecipients
    self.maxConcurrency = maxConcurrency
    self.scheduledFor = scheduledFor
    self.createdAt = createdAt
    self.completedAt = completedAt
  }
}

/// The limits of a batch's options (beside ``BatchContract``'s upload limits).
extension BatchContract {
  public static let maxNameLength = 200
  public static let maxConcurrencyLimit = 10_000
}

/// A batch upload's options as a transport decoded them (form fields, JSON members, the gRPC
/// header message), before any rule is checked.
public struct BatchOptionsInput: Sendable, Hashable {
  public var agentID: Int64?
  public var name: String?
  public var scheduledFor: Date?
  public var maxConcurrency: Int?
  public var idempotencyKey: String?

  public init(
    agentID: Int64? = nil, name: String? = nil, scheduledFor: Date? = nil, maxConcurrency: Int? = nil,
    idempotencyKey: String? = nil
  ) {
    self.agentID = agentID
    self.name = name
    self.scheduledFor = scheduledFor
    self.maxConcurrency = maxConcurrency
    self.idempotencyKey = idempotencyKey
  }

  /// Takes the `Idempotency-Key` header, by the call contract's rule.
  public mutating func adoptIdempotencyKeyHeader(_ values: [String]) throws(SwitchboardError) {
    var call = MakeCallInput(idempotencyKey: idempotencyKey)
    try call.adoptIdempotencyKeyHeader(values)
    idempotencyKey = call.idempotencyKey
  }
}

/// A batch's options once they met the contract.
public struct BatchOptions: Sendable, Hashable {
  public var agentID: Int64
  public var name: String
  public var scheduledFor: Date?
  public var maxConcurrency: Int?
  public var idempotencyKey: String?

  /// Checks the options; the first broken rule is the error. `scheduled_for` and the key follow
  /// a call's rules.
  public static func validate(_ input: BatchOptionsInput, now: Date) throws(SwitchboardError) -> BatchOptions {
    guard let agentID = input.agentID else { throw .invalid("agent_id is required") }
    guard agentID > 0 else { throw .invalid("agent_id must be a positive integer") }
    guard let name = input.name, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw .invalid("name is required")
    }
    guard name.count <= BatchContract.maxNameLength else {
      throw .invalid("name must be at most \(BatchContract.maxNameLength) characters")
    }
    guard !name.containsNUL else { throw .invalid("name must not contain NUL characters") }
    if let cap = input.maxConcurrency, !(1...BatchContract.maxConcurrencyLimit).contains(cap) {
      throw .invalid("max_concurrency must be between 1 and \(BatchContract.maxConcurrencyLimit)")
    }
    let key = try CallRequest.checkIdempotencyKey(input.idempotencyKey)
    try CallRequest.checkSchedule(input.scheduledFor, now: now)
    return BatchOptions(
      agentID: agentID, name: name, scheduledFor: input.scheduledFor, maxConcurrency: input.maxConcurrency,
      idempotencyKey: key)
  }
}

/// A batch that met the contract: its recipients' calls, checked (``BatchRecipients``).
public struct BatchCreation: Sendable {
  public var agentID: Int64
  public var name: String
  public var maxConcurrency: Int?
  public var scheduledFor: Date?
  public var idempotencyKey: String?
  public var calls: [CallRequest]

  public init(
    agentID: Int64, name: String, maxConcurrency: Int? = nil, scheduledFor: Date? = nil,
    idempotencyKey: String? = nil, calls: [CallRequest]
  ) {
    self.agentID = agentID
    self.name = name
    self.maxConcurrency = maxConcurrency
    self.scheduledFor = scheduledFor
    self.idempotencyKey = idempotencyKey
    self.calls = calls
  }

  public init(_ options: BatchOptions, calls: [CallRequest]) {
    self.init(
      agentID: options.agentID, name: options.name, maxConcurrency: options.maxConcurrency,
      scheduledFor: options.scheduledFor, idempotencyKey: options.idempotencyKey, calls: calls)
  }
}

/// What the store decided about a new batch, in one atomic step.
public enum BatchCreateOutcome: Sendable, Hashable {
  case created(Batch)
  /// The idempotency key was used within its retention: the first upload's batch, nothing written.
  case duplicate(Batch)
  case agentNotFound
  case agentHasNoPhone
}

/// A created batch and the rows left out of it.
public struct BatchReceipt: Sendable, Hashable {
  public var batch: Batch
  public var rejected: [RejectedRecipient]
  public var totalRejected: Int
}

/// One page of a tenant's batches, newest first.
public struct BatchPage: Sendable, Hashable {
  public var batches: [Batch]
  public var hasMore: Bool
  public var total: Int

  public init(batches: [Batch], hasMore: Bool, total: Int) {
    self.batches = batches
    self.hasMore = hasMore
    self.total = total
  }
}

/// A batch's contacts, each counted once by where its chain's latest attempt stands.
public struct BatchMetrics: Sendable, Hashable {
  public var totalRecipients = 0
  /// Not yet dialed, or waiting for a retry.
  public var waitingCount = 0
  /// Waiting for an automatic retry (also in ``waitingCount``).
  public var pendingRetryCount = 0
  /// Being dispatched, dialed, ringing or talking.
  public var inProgressCount = 0
  public var completedCount = 0
  public var noAnswerCount = 0
  public var busyCount = 0
  public var failedCount = 0
  public var unreachableCount = 0
  public var canceledCount = 0
  /// A machine answered.
  public var voicemailCount = 0
  /// Failed because the dialer could not be reached (`failure_type` `socket_failure`; also in
  /// ``failedCount``).
  public var socketFailureCount = 0
  /// Ended by a compliance rule (a suppressed number, an opt-out).
  public var suppressedCount = 0
  /// Waiting because the number's caps deferred it (also in ``waitingCount``).
  public var deferredContactLimitCount = 0
  /// Waiting because it was outside the recipient's hours (also in ``waitingCount``).
  public var deferredOutsideHoursCount = 0
  /// Average duration of the latest calls that reported one.
  public var averageDurationSeconds: Double?

  public init() {}

  /// Contacts whose chain is final.
  public var totalProcessed: Int {
    completedCount + noAnswerCount + busyCount + failedCount + unreachableCount + voicemailCount + canceledCount
      + suppressedCount
  }

  /// A contact succeeded when its call completed.
  public var successCount: Int { completedCount }

  /// Successes as a percentage of processed contacts, to two decimals; 0 before any.
  public var successRate: Double {
    guard totalProcessed > 0 else { return 0 }
    return (Double(successCount) * 10_000 / Double(totalProcessed)).rounded() / 100
  }
}

/// What a pause, resume or cancel did.
public enum BatchControlOutcome: Sendable, Hashable {
  /// The batch after the action (or as it was, when the action was already done).
  case done(Batch)
  case notFound
  /// The batch's status does not allow the action (it completed, or was canceled).
  case notAllowed(Batch)
}

/// Durable storage of batches. Every method is scoped to one tenant.
public protocol BatchStore: Sendable {
  /// Writes the batch and all its recipients, or nothing.
  func create(_ batch: BatchCreation, tenantID: Int64) async throws -> BatchCreateOutcome
  func batch(_ id: Int64, tenantID: Int64) async throws -> Batch?
  /// Newest first.
  func batches(tenantID: Int64, agentID: Int64?, limit: Int, offset: Int) async throws -> BatchPage
  func metrics(_ id: Int64, tenantID: Int64) async throws -> BatchMetrics?
  /// Applies the action where ``BatchAction/from`` allows it. A pause answers once no attempt of
  /// the batch is left between admission and the dialer.
  func control(_ action: BatchAction, batch id: Int64, tenantID: Int64) async throws -> BatchControlOutcome
  /// Which of these numbers the agent may not call now (suppressed for the tenant or the agent).
  func suppressed(among phones: [String], agentID: Int64, tenantID: Int64) async throws -> Set<String>
}
