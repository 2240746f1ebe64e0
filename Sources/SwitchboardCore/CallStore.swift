import Foundation

/// What the store decided about a new attempt, in one atomic step.
public enum AcceptOutcome: Sendable, Hashable {
  case accepted(AcceptedCall)
  /// The idempotency key was already used; the first attempt's receipt.
  case duplicate(CallReceipt)
  case agentNotFound
  case agentHasNoPhone
  case conversationNotFound
  case rateLimited(RateLimitStatus)
  case concurrencyLimited(current: Int, max: Int)
  /// The number is suppressed for this call's agent (a scheduled call: at its time).
  case suppressed
  /// A call placed now to a number over its caps; when the caps allow the next.
  case contactLimited(nextAllowedAt: Date)
  /// The caller's key was revoked since it was last looked up.
  case invalidAPIKey
}

public enum CancelOutcome: Sendable, Hashable {
  case canceled(CallAttempt)
  case notFound
  /// Already dispatched or finished; the attempt as it stands.
  case notCancelable(CallAttempt)
}

/// Durable storage of tenants, chains and attempts. Every method is scoped to one tenant.
/// Implementations throw ``SwitchboardError`` `.unavailable` when the database cannot be reached.
public protocol CallStore: Sendable {
  /// The tenant owning a live API key, or `nil` for an unknown or revoked key.
  func tenant(forAPIKey apiKey: String) async throws -> Tenant?

  /// The recipient-hours settings of the tenant owning `apiKey`; `nil` when it (and each of its
  /// agents) has none, or the key is not live.
  func recipientHoursRules(apiKey: String) async throws -> RecipientHoursRules?

  /// Records the attempt for the tenant owning `apiKey` if every stateful rule allows it (a live
  /// key, agent, conversation, idempotency, the tenant's limits as they stand), atomically: a
  /// rejected attempt changes nothing.
  func accept(
    _ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String
  ) async throws
    -> AcceptOutcome

  func call(traceID: UUID, tenantID: Int64) async throws -> CallAttempt?

  func cancelCall(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome

  func conversation(_ reference: ConversationReference, tenantID: Int64) async throws -> ConversationChain?

  /// Chains newest first (by creation time, then id), each with its latest attempt.
  func conversations(
    tenantID: Int64, filter: ConversationFilter, paging: ConversationPaging
  ) async throws -> ConversationPage

  /// Records a progress or outcome report: the event log, the attempt's status, the chain's
  /// threaded state, an automatic retry when the agent's policy earns one, and the outcome
  /// webhook, all in one transaction.
  func recordEvent(_ event: CallEvent, traceID: UUID, tenantID: Int64) async throws -> EventOutcome

  /// Whether the database answers a trivial query now.
  func isReachable() async -> Bool

  /// Reports the chains any replica changed, as this one hears of it, until cancelled: their
  /// conversation ids, or `nil` when some may have been missed (so that all are read again).
  func listenForChainChanges(_ changed: @escaping @Sendable ([UUID]?) -> Void) async
}

extension CallStore {
  /// A store without recipient hours.
  public func recipientHoursRules(apiKey: String) async throws -> RecipientHoursRules? { nil }

  /// A store that hears of no changes: its watchers see each chain as it was when they began.
  public func listenForChainChanges(_ changed: @escaping @Sendable ([UUID]?) -> Void) async {
    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
  }
}
