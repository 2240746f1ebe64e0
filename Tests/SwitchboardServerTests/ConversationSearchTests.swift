import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardGRPC

/// `ListConversations` / `GET /v1/conversations`: every filter alone and combined, on both
/// transports, against a model of the chains; cursor walks; bad filters; tenant isolation.
@Suite("Conversation search")
struct ConversationSearchTests {
  /// A chain as the test made it: what each filter looks at.
  struct Chain: Sendable {
    var id: String
    var agentID: Int64
    var phone: String
    var status: String
    var createdAt: Date
    var batchID: Int64?
  }

  /// A filter combination, and the query string and gRPC request that say it.
  struct Filter: Sendable, CustomTestStringConvertible {
    var agentID: Int64?
    var status: String?
    var phone: String?
    var after: Date?
    var before: Date?
    var batchID: Int64?

    var testDescription: String { query }

    var query: String {
      var items: [String] = []
      if let agentID { items.append("agent_id=\(agentID)") }
      if let status { items.append("status=\(status)") }
      if let phone { items.append("customer_phone=\(phone.replacingOccurrences(of: "+", with: "%2B"))") }
      if let after { items.append("created_after=\(Self.text(after))") }
      if let before { items.append("created_before=\(Self.text(before))") }
      if let batchID { items.append("batch_id=\(batchID)") }
      return items.joined(separator: "&")
    }

    static func text(_ date: Date) -> String {
      date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)).replacingOccurrences(
        of: "+", with: "%2B")
    }

    var request: Switchboard_V1_ListConversationsRequest {
      var request = Switchboard_V1_ListConversationsRequest()
      if let agentID { request.agentID = agentID }
      if let status { request.status = .init(CallStatus(rawValue: status)!) }
      if let phone { request.customerPhone = phone }
      if let after { request.createdAfter = Google_Protobuf_Timestamp(date: after) }
      if let before { request.createdBefore = Google_Protobuf_Timestamp(date: before) }
      if let batchID { request.batchID = batchID }
      return request
    }

    func matches(_ chain: Chain) -> Bool {
      (agentID.map { $0 == chain.agentID } ?? true) && (status.map { $0 == chain.status } ?? true)
        && (phone.map { $0 == chain.phone } ?? true) && (after.map { chain.createdAt >= $0 } ?? true)
        && (before.map { chain.createdAt < $0 } ?? true) && (batchID.map { $0 == chain.batchID } ?? true)
    }
  }

  static let first = "+14155550001"
  static let second = "+14155550002"

  /// Chains of every kind: two agents, two numbers, completed, initiated, scheduled, a failed
  /// attempt superseded by a retry, a batch's two. The model's times are read from PostgreSQL.
  static func makeChains(_ tenant: TestTenant) async throws -> [Chain] {
    try await tenant.addAgent(8)
    func call(_ agent: Int64, _ phone: String, _ extra: [String: JSONValue] = [:]) async throws -> (String, String) {
      var body = tenant.callBody(phone: phone, extra)
      if case .object(var members) = body {
        members["agent_id"] = .integer(agent)
        body = .object(members)
      }
      let result = try await GatewayClient.makeCall(tenant, body)
      guard result.status == 200, let chain = result.data?["conversation_id"]?.stringValue,
        let trace = result.data?["trace_id"]?.stringValue
      else { throw TestFailure("call failed: \(result.body)") }
      return (chain, trace)
    }
    func report(_ trace: String, _ status: String) async throws {
      let result = try await GatewayClient.send(
        .POST, "/v1/calls/\(trace)/events", authorization: tenant.authorization,
        body: ["event_id": .string("\(trace)-\(status)"), "status": .string(status)])
      guard result.status == 200 else { throw TestFailure("report failed: \(result.body)") }
    }
    var chains: [Chain] = []
    let completed = try await call(7, first)
    try await report(completed.1, "completed")
    chains.append(Chain(id: completed.0, agentID: 7, phone: first, status: "completed", createdAt: .distantPast))
    chains.append(
      Chain(id: try await call(8, second).0, agentID: 8, phone: second, status: "initiated", createdAt: .distantPast))
    let retried = try await call(7, second)
    try await report(retried.1, "failed")
    _ = try await call(7, second, ["conversation_id": .string(retried.0)])
    chains.append(Chain(id: retried.0, agentID: 7, phone: second, status: "initiated", createdAt: .distantPast))
    let other = try await call(8, first)
    try await report(other.1, "completed")
    chains.append(Chain(id: other.0, agentID: 8, phone: first, status: "completed", createdAt: .distantPast))
    let later = Timestamp.format(Date().addingTimeInterval(86_400).rounded())
    chains.append(
      Chain(
        id: try await call(7, first, ["scheduled_for": .string(later)]).0, agentID: 7, phone: first,
        status: "scheduled", createdAt: .distantPast))
    let batch = try await GatewayClient.send(
      .POST, "/v1/batch-call", authorization: tenant.authorization,
      body: [
        "agent_id": 7, "name": "search", "scheduled_for": .string(later),
        "recipients": [
          ["parameters": [["name": "customer_phone", "value": .string(first)]]],
          ["parameters": [["name": "customer_phone", "value": .string(second)]]],
        ],
      ])
    let batchID = try #require(batch.data?["id"]?.integerValue, "\(batch.body)")
    // The model's times and the batch's chains, as stored (to the microsecond).
    let rows = try await tenant.environment.client.query(
      """
      SELECT conversation_id, (extract(epoch FROM created_at) * 1000000)::bigint, customer_phone, batch_id
      FROM conversations WHERE tenant_id = \(tenant.id)
      """)
    for try await (id, micros, phone, batch) in rows.decode((UUID, Int64, String, Int64?).self) {
      let createdAt = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
      if let index = chains.firstIndex(where: { $0.id == id.lowercased }) {
        chains[index].createdAt = createdAt
      } else if batch == batchID {
        chains.append(
          Chain(
            id: id.lowercased, agentID: 7, phone: phone, status: "scheduled", createdAt: createdAt, batchID: batchID))
      }
    }
    return chains
  }

  /// Newest first, by creation time, then id.
  static func ordered(_ chains: [Chain]) -> [String] {
    chains.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.map(\.id)
  }

  /// Every page of a listing over HTTP, `limit` 2, by cursor; and the first page's total.
  static func walk(_ tenant: TestTenant, _ query: String) async throws -> (ids: [String], total: JSONValue?) {
    var ids: [String] = []
    var cursor: String?
    var total: JSONValue?
    repeat {
      let page = try await GatewayClient.send(
        .GET, "/v1/conversations?limit=2&\(query)" + (cursor.map { "&cursor=\($0)" } ?? "&include_total=true"),
        authorization: tenant.authorization)
      guard page.status == 200 else { throw TestFailure("\(query): \(page.body)") }
      if cursor == nil { total = page.body["total"] }
      ids += page.data?.arrayValue?.compactMap { $0["conversation_id"]?.stringValue } ?? []
      cursor = page.body["next_cursor"]?.stringValue
      #expect((cursor != nil) == (page.body["has_more"] == true))
    } while cursor != nil
    return (ids, total)
  }

  /// The same over gRPC.
  static func walk(
    _ service: Switchboard_V1_CallService.Client<HTTP2ClientTransport.Posix>, _ tenant: TestTenant,
    _ filter: Filter
  ) async throws -> [String] {
    var request = filter.request
    request.limit = 2
    var ids: [String] = []
    while true {
      let page = try await service.listConversations(request, metadata: tenant.metadata)
      ids += page.data.map(\.conversationID)
      guard !page.nextCursor.isEmpty else { return ids }
      request.cursor = page.nextCursor
    }
  }

  @Test("every filter alone and in combination answers the model's chains, newest first, on both transports")
  func filters() async throws {
    let tenant = try await TestTenant.make()
    let chains = try await Self.makeChains(tenant)
    #expect(chains.count == 7)
    // What the status filter reads: each attempt knows whether it is its chain's latest.
    #expect(try await tenant.count("call_attempts", where: "is_latest") == 7)
    #expect(
      try await tenant.count(
        "call_attempts a",
        where: """
          a.is_latest <> (a.attempt_number = (SELECT c.attempt_count FROM conversations c
            WHERE c.tenant_id = a.tenant_id AND c.conversation_id = a.conversation_id))
          """) == 0)
    // Another tenant's chain matches every filter below but must never show.
    let stranger = try await TestTenant.make()
    let strangerCall = try await GatewayClient.makeCall(stranger, stranger.callBody(phone: Self.first))
    let strangerChain = try #require(strangerCall.data?["conversation_id"]?.stringValue)

    let times = chains.map(\.createdAt).sorted()
    // Between two chains, to the millisecond (as the query string gives it).
    func between(_ earlier: Date, _ later: Date) -> Date {
      Date(
        timeIntervalSince1970: ((earlier.timeIntervalSince1970 + later.timeIntervalSince1970) * 500).rounded() / 1000)
    }
    let middle = between(times[2], times[3])
    let late = between(times[4], times[5])
    let batchID = try #require(chains.compactMap(\.batchID).first)
    let filters: [Filter] = [
      Filter(), Filter(agentID: 7), Filter(agentID: 8), Filter(status: "completed"), Filter(status: "initiated"),
      // The retried chain's failed attempt is not its latest: no chain is failed.
      Filter(status: "failed"), Filter(status: "scheduled"), Filter(phone: Self.first), Filter(phone: Self.second),
      Filter(after: middle), Filter(before: middle), Filter(after: middle, before: late), Filter(batchID: batchID),
      Filter(agentID: 7, phone: Self.first), Filter(agentID: 7, status: "completed"),
      Filter(agentID: 8, status: "initiated", phone: Self.second), Filter(status: "scheduled", batchID: batchID),
      Filter(status: "scheduled", phone: Self.second, before: late), Filter(phone: Self.first, after: middle),
      Filter(agentID: 7, status: "scheduled", phone: Self.first, after: middle, batchID: batchID),
      Filter(agentID: 9),
    ]
    for filter in filters {
      let expected = Self.ordered(chains.filter(filter.matches))
      let walked = try await Self.walk(tenant, filter.query)
      #expect(walked.ids == expected, "\(filter.query)")
      #expect(walked.total == .integer(Int64(expected.count)), "\(filter.query)")
      // Offset pages answer the same chains in the same order, and count only when asked.
      let all = try await GatewayClient.send(
        .GET, "/v1/conversations?limit=100&\(filter.query)", authorization: tenant.authorization)
      #expect(all.data?.arrayValue?.compactMap { $0["conversation_id"]?.stringValue } == expected)
      #expect(all.body["total"] == .null)
      if expected.count > 2 {
        let second = try await GatewayClient.send(
          .GET, "/v1/conversations?limit=2&offset=2&\(filter.query)", authorization: tenant.authorization)
        #expect(
          second.data?.arrayValue?.compactMap { $0["conversation_id"]?.stringValue }
            == Array(expected[2..<min(4, expected.count)]))
      }
    }
    try await withCallService { service in
      for filter in filters {
        let expected = Self.ordered(chains.filter(filter.matches))
        #expect(try await Self.walk(service, tenant, filter) == expected, "gRPC \(filter.query)")
      }
      // The other tenant sees its one chain, under the filters that match it, and nothing else.
      let own = try await Self.walk(service, stranger, Filter(phone: Self.first))
      #expect(own == [strangerChain])
    }
    // A `+` left unencoded in the query string is still the number's.
    let raw = try await Self.walk(tenant, "customer_phone=\(Self.first)").ids
    #expect(raw == Self.ordered(chains.filter { $0.phone == Self.first }))
    for filter in filters {
      let seen = try await Self.walk(stranger, filter.query).ids
      #expect(seen.allSatisfy { $0 == strangerChain }, "\(filter.query)")
    }
  }

  @Test("list items carry their latest attempt's fields")
  func latestFields() async throws {
    let tenant = try await TestTenant.make()
    let first = try await GatewayClient.makeCall(tenant, tenant.callBody())
    let chain = try #require(first.data?["conversation_id"]?.stringValue)
    let trace = try #require(first.data?["trace_id"]?.stringValue)
    let ended = try await GatewayClient.send(
      .POST, "/v1/calls/\(trace)/events", authorization: tenant.authorization,
      body: [
        "event_id": "e1", "status": "failed", "failure_reason": "carrier said no", "duration_seconds": 4,
        "results": ["promised": false],
      ])
    #expect(ended.status == 200)
    let page = try await GatewayClient.send(.GET, "/v1/conversations", authorization: tenant.authorization)
    let item = try #require(page.data?.arrayValue?.first)
    #expect(item["trace_id"] == .string(trace) && item["contact_number"] == "+919876543210")
    #expect(item["failure_reason"] == "carrier said no" && item["duration_seconds"] == 4)
    #expect(item["results"] == ["promised": false] && item["end_timestamp"]?.integerValue != nil)
    #expect(item["latest_status"] == "failed")
    // A retry becomes the latest.
    let retry = try await GatewayClient.makeCall(tenant, tenant.callBody(["conversation_id": .string(chain)]))
    let again = try await GatewayClient.send(.GET, "/v1/conversations", authorization: tenant.authorization)
    let latest = try #require(again.data?.arrayValue?.first)
    #expect(latest["trace_id"] == retry.data?["trace_id"] && latest["failure_reason"] == .null)
    #expect(latest["end_timestamp"] == .null && latest["latest_status"] == "initiated")

    // `<id>_<n>` answers attempt n, in the attempt's shape with the seed system's names.
    let one = try await GatewayClient.send(.GET, "/v1/conversations/\(chain)_1", authorization: tenant.authorization)
    #expect(one.data?["trace_id"] == .string(trace) && one.data?["status"] == "failed")
    #expect(one.data?["contact_number"] == "+919876543210" && one.data?["attempt_number"] == 1)
    #expect(one.data?["end_timestamp"]?.integerValue != nil && one.data?["attempts"] == nil)
    let two = try await GatewayClient.send(.GET, "/v1/conversations/\(chain)_2", authorization: tenant.authorization)
    #expect(two.data?["trace_id"] == retry.data?["trace_id"] && two.data?["start_timestamp"] == .null)
    let three = try await GatewayClient.send(.GET, "/v1/conversations/\(chain)_3", authorization: tenant.authorization)
    #expect(three.status == 404 && three.errorMessage == "conversation not found")
    let whole = try await GatewayClient.send(.GET, "/v1/conversations/\(chain)", authorization: tenant.authorization)
    #expect(whole.data?["attempts"]?.arrayCount == 2 && whole.data?["trace_id"] == retry.data?["trace_id"])
    try await withCallService { service in
      var request = Switchboard_V1_GetConversationRequest()
      request.conversationID = "\(chain)_1"
      let answer = try await service.getConversation(request, metadata: tenant.metadata)
      #expect(answer.hasAttempt && answer.attempt.traceID == trace && answer.attempt.status == .failed)
      #expect(answer.attempt.contactNumber == "+919876543210" && answer.attempt.hasEndTimestamp)
      #expect(answer.data.traceID == retry.data?["trace_id"]?.stringValue && answer.data.attempts.count == 2)
      request.conversationID = chain
      #expect(try await service.getConversation(request, metadata: tenant.metadata).hasAttempt == false)
    }
  }

  @Test("a cursor walk visits each chain exactly once while calls are being added")
  func walkWhileAdding() async throws {
    let tenant = try await TestTenant.make()
    func add(_ count: Int, from start: Int) async throws -> [String] {
      try await withThrowingTaskGroup(of: String?.self) { group in
        for index in start..<(start + count) {
          group.addTask {
            let phone = "+1415600\(String(format: "%04d", index))"
            return try await GatewayClient.makeCall(tenant, tenant.callBody(phone: phone)).data?["conversation_id"]?
              .stringValue
          }
        }
        return try await group.reduce(into: []) { if let id = $1 { $0.append(id) } }
      }
    }
    let existing = try await add(300, from: 0)
    #expect(existing.count == 300)
    async let added = add(150, from: 300)
    var visited: [String] = []
    var cursor: String?
    repeat {
      let page = try await GatewayClient.send(
        .GET, "/v1/conversations?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""), authorization: tenant.authorization)
      #expect(page.status == 200)
      visited += page.data?.arrayValue?.compactMap { $0["conversation_id"]?.stringValue } ?? []
      cursor = page.body["next_cursor"]?.stringValue
    } while cursor != nil
    let new = try await added
    #expect(new.count == 150)
    #expect(visited.count == Set(visited).count, "no chain twice")
    #expect(Set(existing).isSubset(of: Set(visited)), "every chain that existed when the walk began")
    #expect(Set(visited).isSubset(of: Set(existing + new)))
  }

  @Test(
    "a bad filter or cursor is a 400 that names it",
    arguments: [
      ("status=ringing_maybe", "status must be one of"),
      ("customer_phone=12345", "customer_phone must be an E.164 phone number"),
      ("created_after=yesterday", "created_after must be an ISO 8601 date-time"),
      ("created_before=2026-04-08", "created_before must be an ISO 8601 date-time"),
      (
        "created_after=2026-04-08T00:00:00Z&created_before=2026-04-07T00:00:00Z",
        "created_after must be before created_before"
      ),
      ("agent_id=x", "agent_id must be a positive integer"), ("batch_id=0", "batch_id must be a positive integer"),
      ("cursor=not-a-cursor", "cursor is not a next_cursor this service returned"),
      ("include_total=yes", "include_total must be true or false"),
      ("cursor=YzEuMTIzLm5vdC1hLXV1aWQ", "cursor is not a next_cursor this service returned"),
      (
        "offset=20&cursor=YzEuMS4wMTkzZjAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA",
        "cursor and offset cannot be used together"
      ),
    ])
  func badFilters(query: String, message: String) async throws {
    let tenant = try await TestTenant.make()
    let result = try await GatewayClient.send(.GET, "/v1/conversations?\(query)", authorization: tenant.authorization)
    #expect(result.status == 400 && result.errorType == "invalid_request")
    #expect(result.errorMessage?.hasPrefix(message) == true, "\(result.errorMessage ?? "")")
  }

  @Test("gRPC: a bad filter or cursor is INVALID_ARGUMENT")
  func grpcBadFilters() async throws {
    let tenant = try await TestTenant.make()
    try await withCallService { service in
      var bad: [Switchboard_V1_ListConversationsRequest] = []
      var request = Switchboard_V1_ListConversationsRequest()
      request.cursor = "garbage"
      bad.append(request)
      request = .init()
      request.customerPhone = "0800"
      bad.append(request)
      request = .init()
      request.createdAfter = Google_Protobuf_Timestamp(date: Date())
      request.createdBefore = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-60))
      bad.append(request)
      for request in bad {
        await #expect(throws: RPCError.self) {
          do {
            _ = try await service.listConversations(request, metadata: tenant.metadata)
          } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            throw error
          }
        }
      }
    }
  }
}

extension Date {
  /// Whole seconds, as the contract's times are written here.
  fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded()) }
}
