import Foundation
import Logging
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import Testing

@testable import SwitchboardPostgres

@Suite("WatchConversation: one LISTEN per replica, fanned out", .isolatedDatabases)
struct WatchTests {
  @Test("1,000 watchers over 10 chains: idle they cost no reads; each sees every change, in order")
  func manyWatchers() async throws {
    let database = try await IsolatedDatabase.make(prefix: "watch")
    let chains = Notifier(database: database.database, channel: .chains, logger: database.logger)
    let store = CountingStore(
      base: PostgresCallStore(
        database: database.database, configuration: .defaults, logger: database.logger, chainChanges: chains
      ).running())
    let operations = CallOperations(store: store)
    let tenant = try await database.tenant()
    let background = [Task { await chains.run() }, Task { await operations.watchers.run() }]
    defer { background.forEach { $0.cancel() } }

    let receipts = try await (0..<10).asyncMap { index in
      try await database.call(tenant, phone: "+91987650\(String(format: "%04d", index))")
    }
    let seen = Seen()
    var watchers: [Task<Void, Never>] = []
    for receipt in receipts {
      for _ in 0..<100 {
        let updates = try await operations.watchConversation(receipt.conversationID.uuidString, tenant: tenant)
        let watcher = seen.add(receipt.conversationID)
        watchers.append(Task { for await attempt in updates { seen.record(watcher, attempt) } })
      }
    }
    defer { watchers.forEach { $0.cancel() } }
    #expect(try await database.eventually { seen.all { $0.count == 1 } }, "every watcher sees the chain")

    // Idle: the hub reads only what a change report names, and has no timer of its own. A
    // change to a chain nobody watches is reported (the signal waited for) and reads nothing.
    let idleFrom = store.reads
    let reportsFrom = operations.watchers.reportsTaken
    let caller = try await operations.authenticateCaller(
      authorization: "Bearer \(try database.keys.key(for: tenant.id))")
    let other = [CallParameter(name: "customer_phone", value: "+919876599999")]
    let unwatched = try await operations.makeCall(MakeCallInput(agentID: 7, parameters: other), caller: caller)
    _ = try await operations.makeCall(
      MakeCallInput(agentID: 7, parameters: other, conversationID: unwatched.receipt.conversationID.uuidString),
      caller: caller)
    #expect(try await database.eventually { operations.watchers.reportsTaken > reportsFrom }, "the change was reported")
    #expect(store.reads == idleFrom, "a change to an unwatched chain reads nothing")

    // Each change, then every watcher has it before the next one.
    var expected: [(attempt: Int, status: CallStatus)] = [(1, .initiated)]
    let changesFrom = store.reads
    for (step, status) in [CallStatus.dispatched, .ringing, .inProgress, .completed].enumerated() {
      for receipt in receipts {
        _ = try await operations.reportEvent(
          traceID: receipt.traceID.uuidString, CallEventInput(eventID: "e\(step)", status: status.rawValue),
          tenant: tenant)
      }
      expected.append((1, status))
      #expect(try await database.eventually { seen.all { $0.count == expected.count } }, "\(status)")
    }
    for receipt in receipts {
      let append = MakeCallInput(
        agentID: 7, parameters: [CallParameter(name: "customer_phone", value: "+919876543210")],
        conversationID: receipt.conversationID.uuidString)
      _ = try await operations.makeCall(append, caller: caller)
    }
    expected.append((2, .initiated))
    #expect(try await database.eventually { seen.all { $0.count == expected.count } }, "the appended attempt")
    for history in seen.histories {
      #expect(history.map(\.attempt) == expected.map(\.attempt))
      #expect(history.map(\.status) == expected.map(\.status))
    }
    // A change costs a read per chain, not per watcher (1,000 per change).
    let changeReads = store.reads - changesFrom
    #expect(changeReads <= 3 * 5 * receipts.count, "\(changeReads) reads for 5 changes of 10 chains")
  }
}

/// What each watcher received: (attempt number, status), in arrival order.
final class Seen: Sendable {
  private let state = Mutex<[(chain: UUID, history: [(attempt: Int, status: CallStatus)])]>([])

  func add(_ chain: UUID) -> Int {
    state.withLock { state in
      state.append((chain, []))
      return state.count - 1
    }
  }

  func record(_ watcher: Int, _ attempt: CallAttempt) {
    state.withLock { $0[watcher].history.append((attempt.attemptNumber, attempt.status)) }
  }

  func all(_ condition: ([(attempt: Int, status: CallStatus)]) -> Bool) -> Bool {
    state.withLock { $0.allSatisfy { condition($0.history) } }
  }

  var histories: [[(attempt: Int, status: CallStatus)]] { state.withLock { $0.map(\.history) } }
}

/// The real store, counting the chain reads that pass through it.
final class CountingStore: CallStore {
  let base: PostgresCallStore
  private let count = Atomic<Int>(0)

  init(base: PostgresCallStore) { self.base = base }

  var reads: Int { count.load(ordering: .relaxed) }

  func tenant(forAPIKey apiKey: String) async throws -> Tenant? { try await base.tenant(forAPIKey: apiKey) }
  func accept(
    _ request: CallRequest, traceID: UUID, newConversationID: UUID, apiKey: String
  ) async throws
    -> AcceptOutcome
  { try await base.accept(request, traceID: traceID, newConversationID: newConversationID, apiKey: apiKey) }
  func call(traceID: UUID, tenantID: Int64) async throws -> CallAttempt? {
    try await base.call(traceID: traceID, tenantID: tenantID)
  }
  func cancelCall(traceID: UUID, tenantID: Int64) async throws -> CancelOutcome {
    try await base.cancelCall(traceID: traceID, tenantID: tenantID)
  }
  func conversation(_ reference: ConversationReference, tenantID: Int64) async throws -> ConversationChain? {
    count.add(1, ordering: .relaxed)
    return try await base.conversation(reference, tenantID: tenantID)
  }
  func conversations(
    tenantID: Int64, filter: ConversationFilter, paging: ConversationPaging
  ) async throws -> ConversationPage {
    try await base.conversations(tenantID: tenantID, filter: filter, paging: paging)
  }
  func recordEvent(_ event: CallEvent, traceID: UUID, tenantID: Int64) async throws -> EventOutcome {
    try await base.recordEvent(event, traceID: traceID, tenantID: tenantID)
  }
  func isReachable() async -> Bool { await base.isReachable() }
  func listenForChainChanges(_ changed: @escaping @Sendable ([UUID]?) -> Void) async {
    await base.listenForChainChanges(changed)
  }
}

extension Sequence {
  func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
    var results: [T] = []
    for element in self { results.append(try await transform(element)) }
    return results
  }
}
