import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf
import SwitchboardCore
import SwitchboardGRPC
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

/// Do-not-call lists and the compliance check through the running server, over both transports.
@Suite("Compliance routes")
struct ComplianceRouteTests {
  /// A number; every test has tenants of its own, so numbers may repeat across tests.
  static func phone(_ index: Int) -> String { "+1212555\(1000 + index)" }

  func add(_ tenant: TestTenant, _ body: JSONValue) async throws -> HTTPResult {
    try await GatewayClient.send(.POST, "/v1/suppressions", authorization: tenant.authorization, body: body)
  }

  func list(_ tenant: TestTenant, _ query: String = "") async throws -> HTTPResult {
    try await GatewayClient.send(.GET, "/v1/suppressions\(query)", authorization: tenant.authorization)
  }

  func remove(_ tenant: TestTenant, _ phone: String, _ query: String = "") async throws -> HTTPResult {
    let encoded = phone.replacingOccurrences(of: "+", with: "%2B")
    return try await GatewayClient.send(
      .DELETE, "/v1/suppressions/\(encoded)\(query)", authorization: tenant.authorization)
  }

  @Test("entries are added, filtered, paged and removed; another tenant sees none and removes none (404)")
  func lifecycle() async throws {
    let tenant = try await TestTenant.make()
    let other = try await TestTenant.make()
    let numbers = (0..<4).map(Self.phone)
    let later = Timestamp.format(Date().addingTimeInterval(86_400).rounded())
    let one = try await add(tenant, ["phone_number": .string(numbers[0]), "reason": "asked on 3 March"])
    #expect(one.status == 200 && one.data == ["added": 1, "ended_attempts": 0], "\(one.body)")
    let many = try await add(
      tenant,
      [
        "entries": [
          ["phone_number": .string(numbers[1])],
          ["phone_number": .string(numbers[2]), "scope": "agent", "agent_id": .integer(tenant.agentID)],
          ["phone_number": .string(numbers[3]), "expires_at": .string(later)],
        ]
      ])
    #expect(many.status == 200 && many.data?["added"] == 3, "\(many.body)")
    #expect(try await tenant.count("suppressions") == 4)

    // Pages of two in (number, agent) order, then the rest.
    let first = try await list(tenant, "?limit=2")
    #expect(first.data?.arrayValue?.count == 2 && first.body["has_more"] == true, "\(first.body)")
    let cursor = try #require(first.body["next_cursor"]?.stringValue)
    let second = try await list(tenant, "?limit=2&cursor=\(cursor)")
    #expect(
      second.data?.arrayValue?.count == 2 && second.body["has_more"] == false && second.body["next_cursor"] == .null)
    let listed = ((first.data?.arrayValue ?? []) + (second.data?.arrayValue ?? [])).compactMap {
      $0["phone_number"]?.stringValue
    }
    #expect(listed == numbers.sorted())

    // Filters.
    let byAgent = try await list(tenant, "?agent_id=\(tenant.agentID)")
    #expect(byAgent.data?.arrayValue?.map { $0["phone_number"] } == [.string(numbers[2])])
    #expect(byAgent.data?.arrayValue?.first?["scope"] == "agent")
    let byNumber = try await list(tenant, "?phone_number=\(numbers[0].replacingOccurrences(of: "+", with: "%2B"))")
    let entry = try #require(byNumber.data?.arrayValue?.first)
    #expect(entry["reason"] == "asked on 3 March" && entry["source"] == "api" && entry["scope"] == "tenant")
    #expect(entry["trace_id"] == .null && entry["expires_at"] == .null)
    #expect(entry["created_at"]?.stringValue.flatMap(Timestamp.parse) != nil)
    #expect(try await list(tenant, "?source=opt_out").data == [])
    #expect(try await list(tenant, "?source=api").data?.arrayValue?.count == 4)

    // Another tenant's view and reach.
    #expect(try await list(other).data == [])
    let foreign = try await remove(other, numbers[0])
    #expect(foreign.status == 404 && foreign.errorType == "not_found", "\(foreign.body)")
    #expect(try await tenant.count("suppressions") == 4)

    // Removal, by scope.
    let removed = try await remove(tenant, numbers[0])
    #expect(removed.status == 200 && removed.data == ["phone_number": .string(numbers[0]), "removed": true])
    #expect(try await remove(tenant, numbers[0]).status == 404)
    #expect(try await remove(tenant, numbers[2]).status == 404, "the tenant-wide scope has no entry for it")
    #expect(try await remove(tenant, numbers[2], "?agent_id=\(tenant.agentID)").status == 200)
    #expect(try await tenant.count("suppressions") == 2)
  }

  struct BadEntry: Sendable, CustomTestStringConvertible {
    let body: JSONValue
    let message: String
    var testDescription: String { message }
  }

  static let badEntries: [BadEntry] = [
    BadEntry(body: ["phone_number": "98765"], message: "phone_number must be an E.164 phone number"),
    BadEntry(body: ["reason": "no number"], message: "phone_number is required"),
    BadEntry(body: ["phone_number": "+12125550100", "scope": "campaign"], message: "scope must be tenant or agent"),
    BadEntry(
      body: ["phone_number": "+12125550100", "scope": "agent"],
      message: "agent_id is required with scope agent and must be a positive integer"),
    BadEntry(
      body: ["phone_number": "+12125550100", "expires_at": "2020-01-01T00:00:00Z"],
      message: "expires_at must be in the future"),
    BadEntry(
      body: ["phone_number": "+12125550100", "expires_at": "tomorrow"],
      message: "expires_at must be an ISO 8601 date-time with a UTC offset"),
    BadEntry(body: ["phone_number": "+12125550100", "color": "red"], message: "unknown field color"),
    BadEntry(body: ["phone_number": 12_125_550_100], message: "phone_number must be a string"),
    BadEntry(body: ["entries": []], message: "entries must not be empty"),
    BadEntry(
      body: ["entries": [["phone_number": "+12125550100"], ["phone_number": "bad"]]],
      message: "entries[1].phone_number must be an E.164 phone number"),
    BadEntry(
      body: ["entries": .array(Array(repeating: ["phone_number": "+12125550100"], count: 1_001))],
      message: "entries must hold at most 1000 entries"),
  ]

  @Test("a bad entry is a 400 naming it, and nothing is written", arguments: badEntries)
  func badEntry(_ bad: BadEntry) async throws {
    let tenant = try await TestTenant.make()
    let result = try await add(tenant, bad.body)
    #expect(result.status == 400 && result.errorType == "invalid_request", "\(result.body)")
    #expect(result.errorMessage == bad.message)
    #expect(try await tenant.count("suppressions") == 0)
  }

  @Test("bad list queries and removals are 400s naming the field")
  func badQueries() async throws {
    let tenant = try await TestTenant.make()
    for (query, message) in [
      ("?source=crm", "source must be api, import or opt_out"),
      ("?limit=0", "limit must be an integer between 1 and 1000"),
      ("?agent_id=x", "agent_id must be a positive integer"),
      ("?cursor=nope", "cursor is not a next_cursor this service returned"),
    ] {
      let result = try await list(tenant, query)
      #expect(result.status == 400 && result.errorMessage == message, "\(query): \(result.body)")
    }
    let bad = try await remove(tenant, "12345")
    #expect(bad.status == 400 && bad.errorMessage == "phone_number must be an E.164 phone number")
  }

  @Test("an import adds a CSV's numbers and reports bad rows by line; a file without phone_number is a 400")
  func importCSV() async throws {
    let tenant = try await TestTenant.make()
    let good = (0..<3).map(Self.phone)
    let csv = "name,phone_number\nA,\(good[0])\nB,not-a-number\nC,\(good[1])\nD,\(good[2])\n"
    var form = MultipartForm(["reason": "March scrub"])
    form.file(Array(csv.utf8))
    let result = try await GatewayClient.send(
      .POST, "/v1/suppressions/import", authorization: tenant.authorization, rawBody: form.body,
      headers: ["Content-Type": form.contentType])
    #expect(result.status == 200, "\(result.body)")
    #expect(result.data?["imported"] == 3 && result.data?["total_rejected"] == 1)
    #expect(result.data?["rejected_rows"] == [["line": 3, "message": "phone_number must be an E.164 phone number"]])
    #expect(try await tenant.count("suppressions", where: "source = 'import' AND reason = 'March scrub'") == 3)

    var headerless = MultipartForm()
    headerless.file(Array("number\n\(Self.phone(5))\n".utf8))
    let refused = try await GatewayClient.send(
      .POST, "/v1/suppressions/import", authorization: tenant.authorization, rawBody: headerless.body,
      headers: ["Content-Type": headerless.contentType])
    #expect(refused.status == 400 && refused.errorMessage?.contains("phone_number") == true, "\(refused.body)")
    #expect(try await tenant.count("suppressions") == 3)
  }

  @Test("a call to a suppressed number is 403 number_suppressed on both transports and writes nothing")
  func suppressedCall() async throws {
    let tenant = try await TestTenant.make()
    let phone = Self.phone(1)
    #expect(try await add(tenant, ["phone_number": .string(phone)]).status == 200)

    let json = try await GatewayClient.makeCall(tenant, tenant.callBody(phone: phone))
    #expect(json.status == 403 && json.errorType == "number_suppressed", "\(json.body)")
    #expect(json.errorMessage == "customer_phone is on the do-not-call list")

    let refusal = try await withCallService { service in
      await #expect(throws: RPCError.self) {
        try await service.makeCall(tenant.makeCallRequest(phone: phone), metadata: tenant.metadata)
      }
    }
    #expect(refusal?.code == .failedPrecondition)
    #expect(refusal?.message == "customer_phone is on the do-not-call list")
    #expect(try refusal?.unpackGoogleRPCStatus()?.details.first?.errorInfo?.reason == "NUMBER_SUPPRESSED")
    #expect(try await tenant.count("call_attempts") == 0)
    #expect(try await tenant.count("conversations") == 0)

    // The check says the same, and writes nothing either.
    let check = try await GatewayClient.send(
      .POST, "/v1/compliance/check", authorization: tenant.authorization,
      body: ["customer_phone": .string(phone), "agent_id": .integer(tenant.agentID)])
    #expect(
      check.data == [
        "allowed": false, "reasons": ["suppressed"], "next_allowed_at": .null,
        "recipient_timezones": ["America/New_York"],
      ], "\(check.body)")
    let free = try await GatewayClient.send(
      .POST, "/v1/compliance/check", authorization: tenant.authorization,
      body: ["customer_phone": .string(Self.phone(2)), "agent_id": .integer(tenant.agentID)])
    #expect(
      free.data == [
        "allowed": true, "reasons": [], "next_allowed_at": .null, "recipient_timezones": ["America/New_York"],
      ], "\(free.body)")
    let bad = try await GatewayClient.send(
      .POST, "/v1/compliance/check", authorization: tenant.authorization, body: ["customer_phone": .string(phone)])
    #expect(bad.status == 400 && bad.errorMessage == "agent_id is required")
    #expect(try await tenant.count("call_attempts") == 0)
  }

  @Test(
    "recipient hours: a call placed now outside them is deferred (scheduled), or refused 422 outside_calling_hours on both transports; a bad recipient_timezone is a 400"
  )
  func recipientHours() async throws {
    let tenant = try await TestTenant.make()
    let rejecting = try await TestTenant.make()
    let accounts = PostgresAccounts(client: tenant.environment.client, logger: Logger(label: "tests"))
    // One hour a day in UTC, starting two hours from now: now is outside it.
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = .gmt
    let now = Date()
    let start = (utc.component(.hour, from: now) + 2) % 24 == 23 ? 1 : (utc.component(.hour, from: now) + 2) % 24
    var opening = utc.startOfDay(for: now).addingTimeInterval(TimeInterval(start * 3600))
    if opening <= now { opening.addTimeInterval(86_400) }
    let hours = RecipientHours(startMinute: start * 60, endMinute: start * 60 + 60)
    for id in [tenant.id, rejecting.id] { try await accounts.setRecipientHours(hours, tenantID: id) }
    try await accounts.setRecipientHoursPolicy(
      outsideHours: .reject, unknownTimezone: nil, timeZone: nil, tenantID: rejecting.id)
    let phone = "+447700900123"

    let deferred = try await GatewayClient.makeCall(
      tenant, tenant.callBody(phone: phone, ["recipient_timezone": "UTC"]))
    #expect(deferred.status == 200, "\(deferred.body)")
    #expect(deferred.data?["status"] == "scheduled")
    #expect(deferred.data?["scheduled_for"] == .string(Timestamp.format(opening)))

    let refused = try await GatewayClient.makeCall(
      rejecting, rejecting.callBody(phone: phone, ["recipient_timezone": "UTC"]))
    #expect(refused.status == 422 && refused.errorType == "outside_calling_hours", "\(refused.body)")
    #expect(refused.error?["next_allowed_at"] == .string(Timestamp.format(opening)))
    var request = rejecting.makeCallRequest(phone: phone)
    request.recipientTimezone = "UTC"
    let refusal = try await withCallService { service in
      await #expect(throws: RPCError.self) { try await service.makeCall(request, metadata: rejecting.metadata) }
    }
    #expect(refusal?.code == .failedPrecondition)
    let info = try refusal?.unpackGoogleRPCStatus()?.details.first?.errorInfo
    #expect(info?.reason == "OUTSIDE_CALLING_HOURS")
    #expect(info?.metadata["next_allowed_at"] == Timestamp.format(opening))

    let bad = try await GatewayClient.makeCall(tenant, tenant.callBody(phone: phone, ["recipient_timezone": "IST"]))
    #expect(bad.status == 400, "\(bad.body)")
    #expect(bad.errorMessage == "recipient_timezone must be an IANA time zone name such as Asia/Kolkata")
    #expect(try await rejecting.count("call_attempts") == 0)
    #expect(try await tenant.count("call_attempts") == 1)
  }

  @Test("ComplianceService adds, lists, imports (streamed), checks and removes, as the JSON routes do")
  func overGRPC() async throws {
    let tenant = try await TestTenant.make()
    let other = try await TestTenant.make()
    let numbers = (0..<4).map(Self.phone)
    try await withSharedServerClient { client in
      let service = Switchboard_V1_ComplianceService.Client(wrapping: client)
      var add = Switchboard_V1_AddSuppressionsRequest()
      var entry = Switchboard_V1_SuppressionInput()
      entry.phoneNumber = numbers[0]
      entry.reason = "asked"
      add.entries = [entry]
      let added = try await service.addSuppressions(add, metadata: tenant.metadata)
      #expect(added.added == 1 && added.endedAttempts == 0)

      // A bad entry is INVALID_ARGUMENT naming it (one entry: its field alone, as in JSON).
      var bad = Switchboard_V1_AddSuppressionsRequest()
      var badEntry = Switchboard_V1_SuppressionInput()
      badEntry.phoneNumber = numbers[1]
      badEntry.expiresAt = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-60))
      bad.entries = [badEntry]
      let refused = await #expect(throws: RPCError.self) {
        try await service.addSuppressions(bad, metadata: tenant.metadata)
      }
      #expect(refused?.code == .invalidArgument && refused?.message == "expires_at must be in the future")

      // Imported as a stream of two messages; line numbers run across them.
      let imported = try await service.importSuppressions(metadata: tenant.metadata) { writer in
        var head = Switchboard_V1_ImportSuppressionsRequest()
        head.scope = "agent"
        head.agentID = tenant.agentID
        head.phoneNumbers = [numbers[1], "nope"]
        try await writer.write(head)
        var rest = Switchboard_V1_ImportSuppressionsRequest()
        rest.phoneNumbers = [numbers[2], numbers[3]]
        try await writer.write(rest)
      }
      #expect(imported.imported == 3 && imported.totalRejected == 1)
      #expect(imported.rejected == ["2: phone_number must be an E.164 phone number"])

      var list = Switchboard_V1_ListSuppressionsRequest()
      list.agentID = tenant.agentID
      list.limit = 2
      let page = try await service.listSuppressions(list, metadata: tenant.metadata)
      #expect(page.data.count == 2 && page.hasMore_p && !page.nextCursor.isEmpty)
      #expect(page.data.allSatisfy { $0.scope == "agent" && $0.source == "import" && $0.agentID == tenant.agentID })
      list.cursor = page.nextCursor
      let rest = try await service.listSuppressions(list, metadata: tenant.metadata)
      #expect(rest.data.count == 1 && !rest.hasMore_p)
      #expect(try await service.listSuppressions(.init(), metadata: other.metadata).data.isEmpty)

      var check = Switchboard_V1_CheckComplianceRequest()
      check.customerPhone = numbers[2]
      check.agentID = tenant.agentID
      let verdict = try await service.checkCompliance(check, metadata: tenant.metadata)
      #expect(!verdict.allowed && verdict.reasons == ["suppressed"] && !verdict.hasNextAllowedAt)
      #expect(verdict.recipientTimezones == ["America/New_York"])
      check.at = Google_Protobuf_Timestamp(seconds: 1 << 40)
      let outOfRange = await #expect(throws: RPCError.self) {
        try await service.checkCompliance(check, metadata: tenant.metadata)
      }
      #expect(outOfRange?.code == .invalidArgument && outOfRange?.message == "at is out of range")

      var remove = Switchboard_V1_RemoveSuppressionRequest()
      remove.phoneNumber = numbers[0]
      let foreign = await #expect(throws: RPCError.self) {
        try await service.removeSuppression(remove, metadata: other.metadata)
      }
      #expect(foreign?.code == .notFound)
      #expect(try await service.removeSuppression(remove, metadata: tenant.metadata).removed)
    }
    #expect(try await tenant.count("suppressions") == 3)
    #expect(try await other.count("suppressions") == 0)
  }
}

extension Date {
  fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
