import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardTestSupport
import Testing
import _ConnectionPoolModule

@testable import SwitchboardPostgres

/// Intake writes concurrent calls in batches (one statement, one transaction each). These tests
/// force batches with a store of one writer and show that a batch keeps every per-call rule.
@Suite("Batched intake")
struct IntakeBatchTests {
  /// A store whose calls queue behind a single writer, so concurrent calls share statements.
  func batchingStore(_ tenant: TestTenant) -> PostgresCallStore {
    var configuration = PostgresCallStore.Configuration.defaults
    configuration.intakeWriters = 1
    return PostgresCallStore(
      client: tenant.environment.client, timeout: .seconds(30), configuration: configuration,
      logger: Logger(label: "tests")
    ).running()
  }

  func request(
    _ tenant: TestTenant, phone: String = "+919876543210", conversation: UUID? = nil, key: String? = nil
  ) throws -> CallRequest {
    try CallRequest.validate(
      MakeCallInput(
        agentID: tenant.agentID, parameters: [CallParameter(name: "customer_phone", value: phone)],
        conversationID: conversation?.uuidString, idempotencyKey: key),
      now: Date())
  }

  func accept(_ store: PostgresCallStore, _ tenant: TestTenant, _ request: CallRequest) async throws -> AcceptOutcome {
    try await store.accept(request, traceID: .v7(), newConversationID: .v7(), apiKey: tenant.key)
  }

  @Test("concurrent duplicates in shared batches create one attempt per key")
  func duplicatesInBatches() async throws {
    let tenant = try await TestTenant.make()
    let store = batchingStore(tenant)
    let keys = (0..<12).map { "key-\($0)" }
    let outcomes = try await withThrowingTaskGroup(of: AcceptOutcome.self) { group in
      for _ in 0..<8 {
        for key in keys { group.addTask { try await accept(store, tenant, try request(tenant, key: key)) } }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    let accepted = outcomes.compactMap { outcome -> UUID? in
      if case .accepted(let call) = outcome { return call.receipt.traceID }
      return nil
    }
    let duplicates = outcomes.compactMap { outcome -> UUID? in
      if case .duplicate(let receipt) = outcome { return receipt.traceID }
      return nil
    }
    #expect(accepted.count == keys.count)
    #expect(duplicates.count == keys.count * 7)
    #expect(Set(duplicates).isSubset(of: Set(accepted)), "every duplicate names its key's one attempt")
    #expect(try await tenant.count("call_attempts") == keys.count)
    #expect(try await tenant.count("idempotency_keys") == keys.count)
  }

  @Test("concurrent appends in shared batches get attempt numbers 2…31 exactly")
  func appendsInBatches() async throws {
    let tenant = try await TestTenant.make()
    let store = batchingStore(tenant)
    guard case .accepted(let first) = try await accept(store, tenant, try request(tenant)) else {
      throw TestFailure("first call not accepted")
    }
    let chain = first.receipt.conversationID
    let numbers = try await withThrowingTaskGroup(of: Int?.self) { group in
      for _ in 0..<30 {
        group.addTask {
          guard case .accepted(let call) = try await accept(store, tenant, try request(tenant, conversation: chain))
          else { return nil }
          return call.receipt.attemptNumber
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(numbers.compactMap { $0 }.sorted() == Array(2...31))
    #expect(try await tenant.count("call_attempts", where: "conversation_id = '\(chain.uuidString)'") == 31)
  }

  @Test(
    "a call the database refuses fails alone; the calls batched with it are written", .isolatedDatabases)
  func failureIsolation() async throws {
    // The trigger below changes call_attempts for everyone using it: a database of its own.
    let database = try await IsolatedDatabase.make(prefix: "refuse")
    let tenant = try await database.tenant()
    let key = try database.keys.key(for: tenant.id)
    var configuration = PostgresCallStore.Configuration.defaults
    configuration.intakeWriters = 1
    let store = PostgresCallStore(
      client: database.client, timeout: .seconds(30), configuration: configuration, logger: database.logger
    )
    .running()
    let poison = "+19995550000"
    // A trigger that fails one number's inserts: a stand-in for any unexpected database error in
    // one call of a batch.
    try await database.client.query(
      """
      CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.customer_phone = '\(unescaped: poison)' THEN RAISE EXCEPTION 'refused by test'; END IF;
        RETURN NEW;
      END $$
      """)
    try await database.client.query(
      "CREATE TRIGGER test_refuse BEFORE INSERT ON call_attempts FOR EACH ROW EXECUTE FUNCTION test_refuse()")
    let results = await withTaskGroup(of: (String, Bool).self) { group in
      for index in 0..<40 {
        let phone = index == 20 ? poison : "+9198765\(String(format: "%05d", index))"
        group.addTask {
          do {
            let request = try CallRequest.validate(
              MakeCallInput(agentID: 7, parameters: [CallParameter(name: "customer_phone", value: phone)]), now: Date())
            guard
              case .accepted = try await store.accept(request, traceID: .v7(), newConversationID: .v7(), apiKey: key)
            else { return (phone, false) }
            return (phone, true)
          } catch {
            return (phone, false)
          }
        }
      }
      return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
    }
    #expect(results.count == 40)
    #expect(results[poison] == false)
    #expect(results.filter { $0.value }.count == 39)
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE tenant_id = \(tenant.id)") == 39)
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE customer_phone = '\(poison)'") == 0)
  }

  @Test("each call in a batch is checked against its own key and its own tenant")
  func keysInBatches() async throws {
    let live = try await TestTenant.make()
    let revoked = try await TestTenant.make()
    try await revoked.revokeKey()
    let store = batchingStore(live)
    let outcomes = try await withThrowingTaskGroup(of: (Int64, AcceptOutcome).self) { group in
      for index in 0..<40 {
        let tenant = index.isMultiple(of: 2) ? live : revoked
        group.addTask { (tenant.id, try await accept(store, tenant, try request(tenant))) }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    let refused = outcomes.filter { $0.1 == .invalidAPIKey }
    #expect(refused.count == 20)
    #expect(refused.allSatisfy { $0.0 == revoked.id })
    #expect(try await live.count("call_attempts") == 20)
    #expect(try await revoked.count("call_attempts") == 0)
  }

  @Test("the per-number limit holds across batches written at once")
  func rateLimitAcrossBatches() async throws {
    let tenant = try await TestTenant.make(numberRateLimit: 5)
    var configuration = PostgresCallStore.Configuration.defaults
    configuration.intakeWriters = 3
    configuration.maxIntakeBatch = 4
    let store = PostgresCallStore(
      client: tenant.environment.client, timeout: .seconds(30), configuration: configuration,
      logger: Logger(label: "tests")
    ).running()
    let phones = (1...4).map { "+9198000000\($0)0" }
    let outcomes = try await withThrowingTaskGroup(of: (String, AcceptOutcome).self) { group in
      for round in 0..<8 {
        for phone in phones.shuffled() {
          group.addTask {
            (phone, try await accept(store, tenant, try request(tenant, phone: phone, key: "\(phone)-\(round)")))
          }
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    for phone in phones {
      let mine = outcomes.filter { $0.0 == phone }.map(\.1)
      #expect(mine.filter { if case .accepted = $0 { true } else { false } }.count == 5, "\(phone)")
      #expect(mine.filter { if case .rateLimited = $0 { true } else { false } }.count == 3, "\(phone)")
      #expect(try await tenant.count("call_attempts", where: "customer_phone = '\(phone)'") == 5)
    }
    #expect(try await tenant.count("idempotency_keys") == 20, "refused calls leave their keys free")
  }

  @Test("a key revoked after it was used places no more calls")
  func revokedWhileRemembered() async throws {
    let tenant = try await TestTenant.make()
    #expect(try await GatewayClient.makeCall(tenant, tenant.callBody()).status == 200)
    try await tenant.revokeKey()
    let after = try await GatewayClient.makeCall(tenant, tenant.callBody())
    #expect(after.status == 401)
    #expect(after.errorType == "authentication_error")
    #expect(after.errorMessage == "invalid API key")
    #expect(try await tenant.count("call_attempts") == 1)
    // Forgotten at once: the next request is refused before its body is read.
    let next = try await GatewayClient.send(.POST, "/v1/call", authorization: tenant.authorization, body: "not json")
    #expect(next.status == 401)
  }
}

/// The batcher's own rules, with a writer the test controls: what an unreachable database does
/// to the calls waiting behind a batch.
@Suite("Intake batcher")
struct IntakeBatcherTests {
  /// A writer that holds its first batch until released, then fails it as unreachable.
  actor HeldWriter {
    private(set) var batches: [[Int]] = []
    private var release: CheckedContinuation<Void, Never>?
    private var released = false

    func write(_ calls: [Int]) async throws(SwitchboardError) -> [Result<Int, SwitchboardError>] {
      batches.append(calls)
      if batches.count == 1, !released {
        await withCheckedContinuation { release = $0 }
      }
      throw SwitchboardError.unavailable()
    }

    func releaseFirst() {
      released = true
      release?.resume()
      release = nil
    }

    var isHolding: Bool { release != nil }
  }

  @Test("an unreachable database answers every waiting call at once, not in turn")
  func unavailableDrainsTheQueue() async throws {
    let writer = HeldWriter()
    let batcher = IntakeBatcher<Int, Int>(writers: 1, maxBatch: 4, maxWait: .seconds(60)) {
      calls throws(SwitchboardError) in
      try await writer.write(calls)
    }
    let writing = Task { await batcher.run() }
    defer { writing.cancel() }
    try await withThrowingTaskGroup(of: SwitchboardError.Kind?.self) { group in
      group.addTask { try await Self.outcome { try await batcher.submit(0) } }
      while await !writer.isHolding { await Task.yield() }
      for call in 1...10 { group.addTask { try await Self.outcome { try await batcher.submit(call) } } }
      while batcher.waitingCount < 10 { await Task.yield() }
      await writer.releaseFirst()
      var unavailable = 0
      for try await kind in group {
        if case .unavailable? = kind { unavailable += 1 }
      }
      #expect(unavailable == 11)
    }
    #expect(await writer.batches == [[0]], "the ten waiting calls were answered without another statement")
  }

  static func outcome(_ body: () async throws -> Int) async throws -> SwitchboardError.Kind? {
    do {
      _ = try await body()
      return nil
    } catch let error as SwitchboardError {
      return error.kind
    }
  }
}

@Suite("The database boundary is typed")
struct StoredValueTests {
  @Test("every status reads back as itself; one the build does not know is an error, not a guess")
  func statuses() throws {
    for status in CallStatus.allCases {
      #expect(try CallStatus(stored: status.rawValue) == status)
    }
    #expect(throws: UnknownStoredValue.self) { try CallStatus(stored: "ringin") }
  }

  @Test("the pool's errors (no connection in time, shutting down) are 503s, by type")
  func poolErrors() {
    for error in [ConnectionPoolError.requestCancelled, .poolShutdown, .connectionCreationCircuitBreakerTripped] {
      #expect(DatabaseFailure.classify(error).type == "service_unavailable", "\(error)")
    }
    #expect(DatabaseFailure.classify(UnknownStoredValue(column: "status", value: "x")).type == "internal_error")
  }
}
