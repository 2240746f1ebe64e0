import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

@Suite("Batch store", .isolatedDatabases)
struct BatchStoreTests {
  func calls(_ phones: [String], context: RetryContext? = nil) throws -> [CallRequest] {
    var recipients = BatchRecipients()
    for (index, phone) in phones.enumerated() {
      var row = BatchRecipientInput(line: index + 2, parameters: [CallParameter(name: "customer_phone", value: phone)])
      row.retryContext = context
      recipients.add(row, agentID: 7, now: Date())
    }
    #expect(recipients.totalRejected == 0)
    return recipients.calls
  }

  @Test("a batch is written whole: its row, a chain and a scheduled first attempt per recipient")
  func create() async throws {
    let database = try await IsolatedDatabase.make(prefix: "batch")
    let tenant = try await database.tenant()
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    let start = Date().addingTimeInterval(3600).rounded()
    let context = RetryContext(collectedData: ["loan": "L-1"], initialMessage: "Hello", language: "hi-IN")
    let outcome = try await store.create(
      BatchCreation(
        agentID: 7, name: "March Follow Ups", maxConcurrency: 5, scheduledFor: start,
        calls: try calls(["+919876543210", "+919876543211", "+919876543212"], context: context)),
      tenantID: tenant.id)
    guard case .created(let batch) = outcome else { throw TestFailure("not created: \(outcome)") }
    #expect(batch.name == "March Follow Ups" && batch.agentID == 7 && batch.status == .pending)
    #expect(batch.totalRecipients == 3 && batch.maxConcurrency == 5 && batch.scheduledFor == start)

    let scoped = "tenant_id = \(tenant.id) AND batch_id = \(batch.id)"
    #expect(try await database.count("SELECT count(*) FROM conversations WHERE \(scoped)") == 3)
    #expect(
      try await database.count(
        """
        SELECT count(*) FROM call_attempts WHERE \(scoped) AND status = 'scheduled' AND attempt_number = 1
          AND due_at = scheduled_for AND scheduled_for = '\(Timestamp.format(start))'
        """) == 3)
    // Each chain starts from its request's context, as a single call's does.
    let chain = try #require(
      try await database.store.conversations(
        tenantID: tenant.id, filter: ConversationFilter(agentID: 7), paging: ConversationPaging(limit: 1)
      ).conversations.first)
    let full = try #require(
      try await database.store.conversation(
        ConversationReference(conversationID: chain.conversationID), tenantID: tenant.id))
    let expected = ThreadedState().threading(context)
    #expect(full.state == expected)
    #expect(full.attempts[0].effectiveRetryContext == expected.effectiveContext(initialMessage: "Hello"))
    #expect(
      try await database.count(
        "SELECT waiting_count FROM batch_progress WHERE \(scoped) AND total_recipients = 3 AND finished_count = 0")
        == 3)
  }

  @Test("an unknown agent, or one without a number, writes nothing")
  func agents() async throws {
    let database = try await IsolatedDatabase.make(prefix: "batch")
    let tenant = try await database.tenant()
    try await database.accounts.saveAgent(tenantID: tenant.id, agentID: 8, phoneNumber: nil, name: nil, update: false)
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    let phones = try calls(["+919876543210"])
    #expect(
      try await store.create(BatchCreation(agentID: 99, name: "x", calls: phones), tenantID: tenant.id)
        == .agentNotFound)
    var noPhone = phones
    noPhone[0].agentID = 8
    #expect(
      try await store.create(BatchCreation(agentID: 8, name: "x", calls: noPhone), tenantID: tenant.id)
        == .agentHasNoPhone)
    #expect(try await database.count("SELECT count(*) FROM batches") == 0)
    #expect(try await database.count("SELECT count(*) FROM conversations") == 0)
  }

  @Test("a batch larger than one write chunk is written whole, in one transaction")
  func chunks() async throws {
    let database = try await IsolatedDatabase.make(prefix: "batch")
    let tenant = try await database.tenant()
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    let size = 2 * 5_000 + 17
    let phones = (0..<size).map { "+9197\(String(format: "%08d", $0))" }
    guard
      case .created(let batch) = try await store.create(
        BatchCreation(agentID: 7, name: "big", calls: try calls(phones)), tenantID: tenant.id)
    else { throw TestFailure("not created") }
    #expect(batch.totalRecipients == size)
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE batch_id = \(batch.id)") == size)
    #expect(
      try await database.count("SELECT count(DISTINCT customer_phone) FROM conversations WHERE batch_id = \(batch.id)")
        == size)
  }

  @Test("another tenant's batch is not found")
  func isolation() async throws {
    let database = try await IsolatedDatabase.make(prefix: "batch")
    let owner = try await database.tenant()
    let other = try await database.tenant()
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 86_400, logger: database.logger)
    guard
      case .created(let batch) = try await store.create(
        BatchCreation(agentID: 7, name: "mine", calls: try calls(["+919876543210"])), tenantID: owner.id)
    else { throw TestFailure("not created") }
    #expect(try await store.batch(batch.id, tenantID: owner.id) == batch)
    #expect(try await store.batch(batch.id, tenantID: other.id) == nil)
  }

  @Test("an upload's idempotency key stays taken as long as --idempotency-hours says, as a call's does")
  func idempotencyRetention() async throws {
    let database = try await IsolatedDatabase.make(prefix: "batch")
    let tenant = try await database.tenant()
    let store = PostgresBatchStore(
      database: database.database, idempotencyRetentionSeconds: 7_200, logger: database.logger)
    var creation = BatchCreation(agentID: 7, name: "kept", calls: try calls(["+919876543210"]))
    creation.idempotencyKey = "upload-1"
    guard case .created = try await store.create(creation, tenantID: tenant.id) else {
      throw TestFailure("not created")
    }
    let kept = try await database.count(
      """
      SELECT count(*) FROM batch_idempotency_keys
      WHERE tenant_id = \(tenant.id) AND expires_at - created_at = interval '2 hours'
      """)
    #expect(kept == 1)
  }
}

extension Date {
  /// Whole seconds: what a timestamp round trip keeps exactly.
  fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
