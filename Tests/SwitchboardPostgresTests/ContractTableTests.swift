import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardPostgres

/// The contract's decisions live in SwitchboardCore as pure functions; the database applies them
/// (or, for what must be atomic, spells them in SQL). These tables run the same cases through both.
@Suite("Contract tables: Core and PostgreSQL agree", .isolatedDatabases)
struct ContractTableTests {
  @Test("each status set the database spells once is the contract's (DESIGN §3), and final is Core's isTerminal")
  func statusSets() async throws {
    let environment = try await TestEnvironment.shared.get()
    // The sets live in SQL (indexes use them); Core asks only whether a status is final.
    let sets: [(String, [CallStatus])] = [
      ("switchboard_statuses", CallStatus.allCases),
      ("switchboard_terminal_statuses", CallStatus.allCases.filter(\.isTerminal)),
      ("switchboard_active_statuses", [.initiated, .dispatching, .dispatched, .ringing, .inProgress]),
      ("switchboard_due_statuses", [.scheduled, .initiated]),
      ("switchboard_dialed_statuses", [.dispatched, .ringing, .inProgress]),
      ("switchboard_cancelable_statuses", [.scheduled, .initiated]),
    ]
    for (function, members) in sets {
      let rows = try await environment.client.query("SELECT \(unescaped: function)()")
      var stored: [String] = []
      for try await statuses in rows.decode([String].self) { stored = statuses }
      #expect(stored == members.map(\.rawValue), "\(function)")
    }
    // A batch dispatches while it is open: what a pause stops.
    let open = try await environment.client.query("SELECT switchboard_open_batch_statuses()")
    for try await statuses in open.decode([String].self) {
      #expect(Set(statuses) == Set(BatchAction.pause.from.map(\.rawValue)))
    }
    // The column's check admits exactly the known statuses.
    let check = try await environment.client.query(
      """
      SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'call_attempts_status_check'
      """)
    for try await definition in check.decode(String.self) {
      #expect(definition.contains("switchboard_statuses()"), "\(definition)")
    }
  }

  @Test("the partial indexes the dispatcher and reaper rely on are chosen for their queries")
  func partialIndexes() async throws {
    let environment = try await TestEnvironment.shared.get()
    let plans: [(String, String)] = [
      (
        "SELECT 1 FROM call_attempts WHERE status = ANY(switchboard_due_statuses()) AND batch_id IS NULL AND due_at <= now()",
        "call_attempts_due"
      ),
      (
        """
        SELECT 1 FROM call_attempts WHERE tenant_id = 1 AND batch_id = 2
          AND status = ANY(switchboard_due_statuses()) AND due_at <= now() ORDER BY due_at LIMIT 10
        """, "call_attempts_batch_due"
      ),
      (
        "SELECT 1 FROM call_attempts WHERE status IN ('dispatched', 'ringing') AND updated_at < now()",
        "call_attempts_silent"
      ),
      (
        "SELECT count(*) FROM call_attempts a WHERE a.tenant_id = 1 AND a.status = ANY (switchboard_active_statuses())",
        "call_attempts_active"
      ),
      (
        "SELECT 1 FROM batches b WHERE b.status = ANY(switchboard_open_batch_statuses())", "batches_open"
      ),
      (
        """
        SELECT count(*) FROM call_attempts a WHERE a.tenant_id = 1 AND a.batch_id = 2
          AND a.status = ANY(switchboard_active_statuses())
        """, "call_attempts_batch_active"
      ),
    ]
    let logger = Logger(label: "plans")
    try await environment.client.withConnection { connection in
      try await connection.query("SET enable_seqscan = off", logger: logger)
      for (query, index) in plans {
        var plan = ""
        for try await line in try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN \(query)"), logger: logger)
          .decode(
            String.self)
        {
          plan += line + "\n"
        }
        #expect(plan.contains(index), "\(query)\n\(plan)")
      }
      try await connection.query("RESET enable_seqscan", logger: logger)
    }
  }

  @Test("each listing filter's statement is planned on its index, which starts with tenant_id")
  func searchIndexes() async throws {
    // Plans follow statistics: a tenant with a few thousand chains of several agents, numbers,
    // batches and statuses, analyzed, so the planner weighs the indexes as in production.
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    try await database.client.query(
      """
      INSERT INTO batches (tenant_id, agent_id, name, total_recipients)
      SELECT \(tenant.id), 7, 'b' || b, 100 FROM generate_series(1, 5) b
      """)
    try await database.client.query(
      """
      INSERT INTO conversations (tenant_id, conversation_id, agent_id, customer_phone, attempt_count, created_at, batch_id)
      SELECT \(tenant.id), gen_random_uuid(), 1 + i % 5, '+1415' || lpad((i % 1500)::text, 7, '0'), 2,
        now() - i * interval '1 minute',
        CASE WHEN i % 5 = 0 THEN (SELECT min(batch_id) FROM batches WHERE tenant_id = \(tenant.id)) + i % 5 END
      FROM generate_series(1, 3000) i
      """)
    try await database.client.query(
      """
      INSERT INTO call_attempts (tenant_id, trace_id, conversation_id, attempt_number, agent_id, customer_phone,
        parameters, effective_retry_context, status, due_at)
      SELECT c.tenant_id, gen_random_uuid(), c.conversation_id, n, c.agent_id, c.customer_phone, '[]', '{}',
        (ARRAY['completed', 'no_answer', 'busy', 'failed', 'voicemail'])[1 + ((n + hashtext(c.customer_phone)::bigint) % 5 + 5) % 5],
        now()
      FROM conversations c, generate_series(1, 2) n WHERE c.tenant_id = \(tenant.id)
      """)
    try await database.client.query("ANALYZE conversations")
    try await database.client.query("ANALYZE call_attempts")
    let cursor = ConversationCursor(createdAtMicroseconds: 1_796_032_000_000_000, conversationID: UUID())
    let cases: [(ConversationFilter, String)] = [
      (ConversationFilter(), "conversations_created"),
      (ConversationFilter(agentID: 2), "conversations_agent"),
      (ConversationFilter(batchID: 3), "conversations_batch"),
      (ConversationFilter(customerPhone: "+14150000100"), "conversations_phone"),
      (ConversationFilter(createdAfter: Date().addingTimeInterval(-3600)), "conversations_created"),
      (ConversationFilter(status: .noAnswer), "call_attempts_chain_status"),
      (ConversationFilter(status: .completed, createdBefore: Date()), "call_attempts_chain_status"),
    ]
    let logger = Logger(label: "plans")
    try await database.client.withConnection { connection in
      for (filter, index) in cases {
        let search = try ConversationSearch(tenantID: tenant.id, filter: filter)
        for paging in [ConversationPaging(limit: 20), ConversationPaging(limit: 20, cursor: cursor)] {
          let query = try search.page(paging)
          var plan = ""
          for try await line in try await connection.query(
            PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds), logger: logger
          ).decode(String.self) {
            plan += line + "\n"
          }
          #expect(plan.contains(index), "\(filter)\n\(plan)")
        }
      }
    }
  }

  @Test("every report about every status is decided as CallLifecycle.transition decides it")
  func transitions() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    for current in CallStatus.allCases {
      for reported in CallEvent.reportable.sorted(by: {
        $0.rank < $1.rank || ($0.rank == $1.rank && $0.rawValue < $1.rawValue)
      }) {
        let receipt = try await database.call(tenant)
        // Put the attempt where the case starts, as if it had got there.
        try await database.client.query(
          """
          UPDATE call_attempts SET status = \(current.rawValue), dispatched_at = NULL, ended_at = NULL
          WHERE tenant_id = \(tenant.id) AND trace_id = \(receipt.traceID)
          """)
        let event = CallEvent(eventID: "\(current)-\(reported)", status: reported)
        let outcome = try await database.store.recordEvent(event, traceID: receipt.traceID, tenantID: tenant.id)
        let decision = CallLifecycle.transition(from: current, reported: reported)
        let label = "\(current.rawValue) ← \(reported.rawValue)"
        switch (decision, outcome) {
        case (.advances(let move), .recorded(let attempt)):
          #expect(attempt.status == move.status, "\(label)")
          #expect((attempt.dispatchedAt != nil) == move.dialed, "\(label)")
          #expect((attempt.endedAt != nil) == move.finishes, "\(label)")
        case (.restated, .recorded(let attempt)), (.amends, .recorded(let attempt)):
          #expect(attempt.status == current, "\(label)")
        case (.afterEnd, .ignored(let attempt)), (.refused, .invalidTransition(let attempt)):
          #expect(attempt.status == current, "\(label)")
        default:
          Issue.record("\(label): Core decided \(decision), the store did \(outcome)")
        }
        let logged = try await database.count(
          "SELECT count(*) FROM call_events WHERE tenant_id = \(tenant.id) AND trace_id = '\(receipt.traceID)'")
        #expect(logged == (decision == .refused ? 0 : 1), "\(label): events logged")
      }
    }
  }

  @Test("the reaper's guard: a report against a status the attempt has left is ignored, as Core says")
  func staleGuard() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let receipt = try await database.call(tenant)
    try await database.client.query(
      "UPDATE call_attempts SET status = 'in_progress' WHERE tenant_id = \(tenant.id) AND trace_id = \(receipt.traceID)"
    )
    var event = CallEvent(eventID: "reaper", status: .failed)
    event.onlyIfStatus = .ringing
    #expect(CallLifecycle.transition(from: .inProgress, reported: .failed, onlyIfStatus: .ringing) == .stale)
    guard
      case .ignored(let attempt) = try await database.store.recordEvent(
        event, traceID: receipt.traceID, tenantID: tenant.id)
    else {
      Issue.record("a stale report must be ignored")
      return
    }
    #expect(attempt.status == .inProgress)
  }

  /// (first request's context, second request's context): the second joins the first's chain.
  static let threadingCases: [(RetryContext?, RetryContext?)] = [
    (nil, nil),
    (RetryContext(collectedData: ["name": "Asha"]), nil),
    (nil, RetryContext(collectedData: ["name": "Asha"], language: "hi-IN")),
    (
      RetryContext(collectedData: ["name": "Asha", "visits": 1], language: "hi-IN", stageID: "greeting"),
      RetryContext(collectedData: ["visits": 2, "due": 1200.5], stageID: "negotiation")
    ),
    (
      RetryContext(collectedData: ["address": ["city": "Pune", "pin": "411001"]], initialMessage: "Hello"),
      RetryContext(collectedData: ["address": ["city": "Mumbai"]], initialMessage: "Hello again")
    ),
    (RetryContext(language: "en-US", stageID: "a"), RetryContext(language: "ta-IN")),
    (RetryContext(initialMessage: "only the first"), RetryContext(collectedData: ["flag": true, "none": nil])),
  ]

  @Test(
    "switchboard_append_attempt and a report thread a chain's state exactly as ThreadedState does",
    arguments: threadingCases)
  func threading(_ first: RetryContext?, _ second: RetryContext?) async throws {
    let database = try await IsolatedDatabase.make(prefix: "contract")
    let tenant = try await database.tenant()
    let opening = try await database.call(tenant, context: first)
    let joined = try await database.call(tenant, conversation: opening.conversationID.uuidString, context: second)
    let chain = try #require(
      try await database.store.conversation(
        ConversationReference(opening.conversationID.uuidString)!, tenantID: tenant.id))

    let afterFirst = ThreadedState().threading(first)
    let afterSecond = afterFirst.threading(second)
    #expect(chain.attempts.count == 2)
    #expect(
      chain.attempts[0].effectiveRetryContext == afterFirst.effectiveContext(initialMessage: first?.initialMessage))
    #expect(chain.attempts[1].traceID == joined.traceID)
    #expect(
      chain.attempts[1].effectiveRetryContext == afterSecond.effectiveContext(initialMessage: second?.initialMessage))
    #expect(chain.state == afterSecond)

    // A report on the latest attempt threads what it collected into the same state.
    let reported: [String: JSONValue] = ["visits": 3, "paid": false, "address": ["city": "Delhi"]]
    let event = CallEvent(eventID: "collected", status: .ringing, collectedData: reported, stageID: "closing")
    _ = try await database.store.recordEvent(event, traceID: joined.traceID, tenantID: tenant.id)
    let after = try #require(
      try await database.store.conversation(
        ConversationReference(opening.conversationID.uuidString)!, tenantID: tenant.id))
    #expect(after.state == afterSecond.recording(collectedData: reported, stageID: "closing"))
  }

  @Test("a tenant id past 2^31 takes its concurrency lock at intake and at dispatch admission")
  func largeTenantID() async throws {
    let database = try await IsolatedDatabase.make(prefix: "contract")
    try await database.client.query("ALTER TABLE tenants ALTER COLUMN tenant_id RESTART WITH 2147483653")
    let id = try await database.accounts.createTenant(
      name: "large", settings: .init(numberRateLimit: 5, maxConcurrentCalls: 3))
    #expect(id > Int64(Int32.max))
    try await database.accounts.saveAgent(
      tenantID: id, agentID: 7, settings: .init(phoneNumber: "+14155550123"), update: false)
    database.keys.set(try await database.accounts.createAPIKey(tenantID: id), for: id)
    let tenant = Tenant(id: id, name: "large")
    let now = try await database.call(tenant)
    #expect(now.status == .initiated)
    let later = try await database.call(tenant, phone: "+919876543211", scheduledFor: Date().addingTimeInterval(600))
    let rows = try await database.client.query(
      "SELECT o_decision = 'admitted' FROM switchboard_admit_dispatch(\(id), \(later.traceID), 7, '+919876543211', true, true)"
    )
    for try await admitted in rows.decode(Bool.self) { #expect(admitted) }
    #expect(try await database.count("SELECT count(*) FROM call_attempts WHERE tenant_id = \(id)") == 2)
  }
}
