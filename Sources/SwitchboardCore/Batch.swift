import Foundation

/// Where a batch stands: `pending` until its start, `running`, `paused` by the client,
/// `completed` once every contact's chain is final (retries included), or `canceled`.
public enum BatchStatus: String, Sendable, Hashable, CaseIterable {
  case pending, running, paused, completed, canceled
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

  public init(
    id: Int64, agentID: Int64, name: String, status: BatchStatus, totalRecipients: Int, maxConcurrency: Int?,
    scheduledFor: Date?, createdAt: Date
  ) {
    self.id = id
    self.agentID = agentID
    self.name = name
    self.status = status
    self.totalRecipients = totalRecipients
    self.maxConcurrency = maxConcurrency
    self.scheduledFor = scheduledFor
    self.createdAt = createdAt
  }
}

/// A batch that met the contract: its recipients' calls, checked (``BatchRecipients``).
public struct BatchCreation: Sendable {
  public var agentID: Int64
  public var name: String
  public var maxConcurrency: Int?
  public var scheduledFor: Date?
  public var calls: [CallRequest]

  public init(agentID: Int64, name: String, maxConcurrency: Int? = nil, scheduledFor: Date? = nil, calls: [CallRequest])
  {
    self.agentID = agentID
    self.name = name
    self.maxConcurrency = maxConcurrency
    self.scheduledFor = scheduledFor
    self.calls = calls
  }
}

/// What the store decided about a new batch, in one atomic step.
public enum BatchCreateOutcome: Sendable, Hashable {
  case created(Batch)
  case agentNotFound
  case agentHasNoPhone
}
