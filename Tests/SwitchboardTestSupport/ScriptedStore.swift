import Foundation
import SwitchboardCore

/// A store that answers from a fixed script, for the transports' in-process tests: one tenant, one
/// key; two trace ids fail in the two ways a store can; every call meets the concurrency limit.
/// No SQL semantics.
package struct ScriptedStore: CallStore {
  package static let key = "sk_" + String(repeating: "a", count: 32)
  package static let explodingTrace = UUID()
  package static let unreachableTrace = UUID()
  package struct Boom: Error {}

  package init() {}

  package func tenant(forAPIKey apiKey: String) async throws -> Tenant? {
    apiKey == Self.key ? Tenant(id: 1, name: "scripted") : nil
  }
  package func accept(
    _ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String
  ) async throws
    -> AcceptOutcome
  { .concurrencyLimited(current: 3, max: 3) }
  package func call(traceID: UUID, tenantID: Int64) async throws -> CallAttempt? {
    if traceID == Self.explodingTrace { throw Boom() }
    if traceID == Self.unreachableTrace { throw SwitchboardError.unavailable(cause: Boom()) }
    return nil
  }
  package func cancelCall(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome { .notFound }
  package func conversation(_ reference: ConversationReference, tenantID: Int64) async throws -> ConversationChain? {
    nil
  }
  package func conversations(
    tenantID: Int64, filter: ConversationFilter, paging: ConversationPaging
  ) async throws -> ConversationPage {
    ConversationPage(conversations: [], hasMore: false, total: 0, nextCursor: nil)
  }
  package func recordEvent(_ event: CallEvent, traceID: UUID, tenantID: Int64) async throws -> EventOutcome {
    .notFound
  }
  package func isReachable() async -> Bool { true }
}
