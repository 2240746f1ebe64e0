import Foundation

/// Batch calls behind both transports: the upload's options and recipients, the reads, and
/// pause, resume and cancel. Each transport decodes its own wire shape into
/// ``BatchOptionsInput`` and ``BatchRecipients``; the rules are here and in ``BatchAction``.
public struct BatchOperations: Sendable {
  public let calls: CallOperations
  public let store: any BatchStore
  private let now: @Sendable () -> Date

  public init(calls: CallOperations, store: any BatchStore, now: @escaping @Sendable () -> Date = { Date() }) {
    self.calls = calls
    self.store = store
    self.now = now
  }

  /// The tenant behind an `Authorization` value.
  public func authenticate(authorization: String?) async throws(SwitchboardError) -> Tenant {
    try await calls.authenticate(authorization: authorization)
  }

  /// The options, checked before any row is read (a row's check needs the agent).
  public func options(_ input: BatchOptionsInput) throws(SwitchboardError) -> BatchOptions {
    try BatchOptions.validate(input, now: now())
  }

  /// The clock rows are checked against (`BatchRecipients.add(_:agentID:now:)`).
  public var clock: Date { now() }

  /// Writes the batch with its valid rows. Every row rejected is a 400 that lists them; a key
  /// used within 24 h is a 409 with the first upload's batch.
  public func create(
    _ options: BatchOptions, recipients: BatchRecipients, tenant: Tenant
  ) async throws(SwitchboardError)
    -> BatchReceipt
  {
    var recipients = recipients
    if !recipients.calls.isEmpty {
      // Suppressed numbers are rejected rows; one suppressed after this is ended at dispatch.
      let phones = recipients.calls.map(\.customerPhone)
      let suppressed = try await CallOperations.mapped {
        try await store.suppressed(among: phones, agentID: options.agentID, tenantID: tenant.id)
      }
      recipients.drop(numbers: suppressed, message: SwitchboardError.numberSuppressed.message)
      Telemetry.complianceBlocked(reason: .suppressed, count: suppressed.count)
    }
    guard !recipients.calls.isEmpty else {
      throw SwitchboardError(
        .invalidRecipients(rejected: recipients.rejected, total: recipients.totalRejected),
        "no valid recipients: every row was rejected")
    }
    let outcome = try await CallOperations.mapped {
      try await store.create(BatchCreation(options, calls: recipients.calls), tenantID: tenant.id)
    }
    switch outcome {
    case .created(let batch):
      Telemetry.batchCreated(recipients: batch.totalRecipients)
      return BatchReceipt(batch: batch, rejected: recipients.rejected, totalRejected: recipients.totalRejected)
    case .duplicate(let original): throw SwitchboardError(.duplicateBatch(original), "idempotency key already used")
    case .agentNotFound: throw .agentNotFound
    case .agentHasNoPhone: throw .agentHasNoPhone
    }
  }

  public func batch(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> Batch {
    let id = try Self.batchID(id)
    guard let batch = try await CallOperations.mapped({ try await store.batch(id, tenantID: tenant.id) }) else {
      throw .batchNotFound
    }
    return batch
  }

  /// A page of batches; `limit` 1…100 (default 20), `offset` ≥ 0, `agentID` > 0 when given.
  public func batches(
    agentID: Int64?, limit: Int?, offset: Int?, tenant: Tenant
  ) async throws(SwitchboardError)
    -> BatchPage
  {
    let page = try PageBounds.checked(limit: limit, offset: offset)
    if let agentID, agentID <= 0 { throw .invalid("agent_id must be a positive integer") }
    return try await CallOperations.mapped {
      try await store.batches(tenantID: tenant.id, agentID: agentID, limit: page.limit, offset: page.offset)
    }
  }

  public func metrics(_ id: String, tenant: Tenant) async throws(SwitchboardError) -> BatchMetrics {
    let id = try Self.batchID(id)
    guard let metrics = try await CallOperations.mapped({ try await store.metrics(id, tenantID: tenant.id) }) else {
      throw .batchNotFound
    }
    return metrics
  }

  /// Pause, resume or cancel. Repeating one that is done answers the batch as it is; one the
  /// batch's status does not allow (it completed, or was canceled) is a 409.
  public func control(_ action: BatchAction, _ id: String, tenant: Tenant) async throws(SwitchboardError) -> Batch {
    let id = try Self.batchID(id)
    let outcome = try await CallOperations.mapped {
      try await store.control(action, batch: id, tenantID: tenant.id)
    }
    switch outcome {
    case .done(let batch): return batch
    case .notFound: throw .batchNotFound
    case .notAllowed(let batch):
      throw SwitchboardError(.conflict, "batch is \(batch.status.rawValue) and cannot be \(action.pastTense)")
    }
  }

  /// A batch id is a positive integer; anything else names no batch.
  static func batchID(_ text: String) throws(SwitchboardError) -> Int64 {
    guard let id = Int64(text), id > 0 else { throw .batchNotFound }
    return id
  }
}

extension BatchAction {
  var pastTense: String {
    switch self {
    case .pause: "paused"
    case .resume: "resumed"
    case .cancel: "canceled"
    }
  }
}
