import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardDispatch
import SwitchboardPostgres
import SwitchboardTestSupport
import Testing

/// An agent's webhook targets: each gets exactly the events it subscribes to, shaped as it asked,
/// signed with its own secret, retried on its own; at most five per agent, however many race.
@Suite("Webhook targets", .isolatedDatabases)
struct WebhookTargetTests {
  /// Reports an outcome as the voice runtime would.
  func report(
    _ database: IsolatedDatabase, _ tenant: Tenant, _ receipt: CallReceipt, _ status: String,
    failureType: String? = nil, recording: String? = nil, transcript: JSONValue? = nil
  ) async throws {
    var input = CallEventInput(eventID: "\(receipt.traceID)-\(status)", status: status, durationSeconds: 12)
    input.failureType = failureType
    input.recordingURL = recording
    input.transcript = transcript
    _ = try await database.operations.reportEvent(traceID: receipt.traceID.lowercased, input, tenant: tenant)
  }

  @Test("three targets, one failing: the other two get exactly their events, each signed with its own secret")
  func threeTargets() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let only = WebhookReceiver()
    let all = WebhookReceiver()
    let failing = WebhookReceiver(statuses: [.internalServerError])
    let (onlyURL, allURL, failingURL) = (try await only.start(), try await all.start(), try await failing.start())
    defer {
      Task {
        await only.stop()
        await all.stop()
        await failing.stop()
      }
    }
    let accounts = database.accounts
    let onlyID = try await accounts.addWebhookTarget(
      WebhookTargetInput(url: onlyURL, secret: Secret("secret-only"), events: ["call.completed"]),
      tenantID: tenant.id, agentID: 7)
    let allID = try await accounts.addWebhookTarget(
      WebhookTargetInput(
        url: allURL, secret: Secret("secret-all"), events: nil, includeTranscript: true, includeRecording: true),
      tenantID: tenant.id, agentID: 7)
    let failingID = try await accounts.addWebhookTarget(
      WebhookTargetInput(
        url: failingURL, secret: Secret("secret-failing"),
        events: ["call.completed", "call.no_answer", "call.socket_failure"]),
      tenantID: tenant.id, agentID: 7)

    let completed = try await database.call(tenant, phone: "+919876500001")
    let unanswered = try await database.call(tenant, phone: "+919876500002")
    let socket = try await database.call(tenant, phone: "+919876500003")
    let machine = try await database.call(tenant, phone: "+919876500004")
    try await report(
      database, tenant, completed, "completed", recording: "https://recordings.example/1.mp3",
      transcript: [["role": "agent", "message": "Hello"], ["role": "human", "message": "Hi"]])
    try await report(database, tenant, unanswered, "no_answer")
    try await report(database, tenant, socket, "failed", failureType: "socket_failure")
    try await report(database, tenant, machine, "voicemail")

    // One outbox row per event and subscribing target.
    func rows(_ target: Int64) async throws -> Int {
      try await database.count("SELECT count(*) FROM event_deliveries WHERE target_id = \(target)")
    }
    let counts = (try await rows(onlyID), try await rows(allID), try await rows(failingID))
    #expect(counts == (1, 4, 3))

    let deliverer = OutboxDeliverer(
      outbox: PostgresOutbox(database: database.database), sender: WebhookSender(client: .shared),
      pollInterval: .milliseconds(20), logger: database.logger)
    let delivering = Task { try await deliverer.run() }
    defer { delivering.cancel() }
    let delivered = try await database.eventually {
      let done = try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE delivered_at IS NOT NULL AND target_id IN (\(onlyID), \(allID))")
      let tried = try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE target_id = \(failingID) AND attempts >= 2")
      return done == 5 && tried == 3
    }
    #expect(delivered)

    // Each target got exactly its events, signed with its secret.
    func events(_ receiver: WebhookReceiver, secret: String) async throws -> [String: JSONValue] {
      var byType: [String: JSONValue] = [:]
      for request in await receiver.received {
        let timestamp = try #require(request.headers["x-switchboard-timestamp"])
        #expect(request.headers["x-switchboard-signature"] == expectedSignature(secret, timestamp, request.body))
        let body = try JSONValue.decode(request.body)
        byType[body["event_type"]?.stringValue ?? "?"] = body
      }
      return byType
    }
    let toOnly = try await events(only, secret: "secret-only")
    #expect(await only.received.count == 1 && Set(toOnly.keys) == ["call.completed"])
    // Without include_recording and include_transcript: no recording URL, no transcript.
    #expect(toOnly["call.completed"]?["data"]?["call"]?["recording_url"] == .null)
    #expect(toOnly["call.completed"]?["data"]?["transcript"] == nil)

    let toAll = try await events(all, secret: "secret-all")
    #expect(await all.received.count == 4)
    #expect(Set(toAll.keys) == ["call.completed", "call.no_answer", "call.socket_failure", "call.voicemail"])
    let full = try #require(toAll["call.completed"]?["data"])
    #expect(full["call"]?["recording_url"] == "https://recordings.example/1.mp3")
    #expect(full["transcript"]?.arrayValue?.count == 2)
    #expect(full["call"]?["trace_id"] == .string(completed.traceID.lowercased))
    #expect(toAll["call.socket_failure"]?["data"]?["call"]?["trace_id"] == .string(socket.traceID.lowercased))

    // The failing target was tried for each of its three events, and again; its failures are its own.
    let toFailing = try await events(failing, secret: "secret-failing")
    #expect(Set(toFailing.keys) == ["call.completed", "call.no_answer", "call.socket_failure"])
    #expect(
      try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE target_id = \(failingID) AND delivered_at IS NULL AND last_error IS NOT NULL"
      )
        == 3)

    // Removing it removes what still waits for it; the others' history stays.
    #expect(try await accounts.removeWebhookTarget(tenantID: tenant.id, agentID: 7, targetID: failingID))
    #expect(try await rows(failingID) == 0)
    #expect(try await rows(allID) == 4)
    #expect(try await accounts.removeWebhookTarget(tenantID: tenant.id, agentID: 7, targetID: failingID) == false)
    let listed = try await accounts.webhookTargets(tenantID: tenant.id, agentID: 7)
    #expect(listed.map(\.id) == [onlyID, allID] && listed.allSatisfy(\.hasSecret))
    #expect(listed[0].events == ["call.completed"] && listed[1].events == nil && listed[1].includeTranscript)
  }

  @Test("an agent's --webhook-url is one target: added once, then given the secret and events passed with it")
  func agentWebhookURL() async throws {
    let database = try await IsolatedDatabase.make()
    let url = "https://hooks.example/calls"
    let tenant = try await database.tenant(
      agent: .init(phoneNumber: "+14155550123", webhookURL: url, webhookSecret: "one", webhookEvents: ["call.failed"]))
    let first = try await database.accounts.webhookTargets(tenantID: tenant.id, agentID: 7)
    #expect(first.count == 1 && first[0].url == url && first[0].events == ["call.failed"])
    // As the single webhook did: the recording URL is sent, the transcript is not.
    #expect(first[0].includeRecording && !first[0].includeTranscript && first[0].hasSecret)
    try await database.accounts.saveAgent(
      tenantID: tenant.id, agentID: 7,
      settings: .init(webhookURL: url, webhookEvents: ["call.completed", "call.failed"]), update: true)
    try await database.accounts.saveAgent(
      tenantID: tenant.id, agentID: 7, settings: .init(webhookURL: "https://crm.example/hooks"), update: true)
    let targets = try await database.accounts.webhookTargets(tenantID: tenant.id, agentID: 7)
    #expect(targets.map(\.url) == [url, "https://crm.example/hooks"])
    #expect(targets[0].id == first[0].id && targets[0].events == ["call.completed", "call.failed"])
    #expect(targets[0].hasSecret && !targets[1].hasSecret && targets[1].events == nil)
    // A bad URL changes nothing, the agent included.
    await #expect(throws: SwitchboardError.self) {
      try await database.accounts.saveAgent(
        tenantID: tenant.id, agentID: 7, settings: .init(name: "renamed", webhookURL: "mailto:x@example.com"),
        update: true)
    }
    #expect(try await database.count("SELECT count(*) FROM agents WHERE name = 'renamed'") == 0)
  }

  @Test("a target that does not answer holds up only its own events")
  func slowTarget() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let stuck = WebhookReceiver(gated: true)
    let fast = WebhookReceiver()
    let (stuckURL, fastURL) = (try await stuck.start(), try await fast.start())
    defer {
      Task {
        await stuck.open()
        await stuck.stop()
        await fast.stop()
      }
    }
    let stuckID = try await database.accounts.addWebhookTarget(
      WebhookTargetInput(url: stuckURL, secret: Secret("s1"), events: ["call.completed"]), tenantID: tenant.id,
      agentID: 7)
    let fastID = try await database.accounts.addWebhookTarget(
      WebhookTargetInput(url: fastURL, secret: Secret("s2"), events: ["call.completed"]), tenantID: tenant.id,
      agentID: 7)
    // More events for the stuck target than the deliverer has sends.
    for index in 0..<40 {
      let receipt = try await database.call(tenant, phone: "+9198765\(String(format: "%05d", index))")
      try await report(database, tenant, receipt, "completed")
    }
    func delivered(_ target: Int64) async throws -> Int {
      try await database.count(
        "SELECT count(*) FROM event_deliveries WHERE target_id = \(target) AND delivered_at IS NOT NULL")
    }
    let deliverer = OutboxDeliverer(
      outbox: PostgresOutbox(database: database.database),
      sender: WebhookSender(client: .shared, timeout: .seconds(120)), pollInterval: .milliseconds(20),
      logger: database.logger)
    let delivering = Task { try await deliverer.run() }
    defer { delivering.cancel() }
    // Every event of the fast target arrives while the stuck one holds its first sends unanswered.
    #expect(try await database.eventually { try await delivered(fastID) == 40 })
    #expect(try await delivered(stuckID) == 0)
    let holding = await stuck.holding
    #expect(
      holding >= 1 && holding < 2 * OutboxDeliverer.perTarget,
      "the stuck target holds \(holding) sends, within its share")
    await stuck.open()
    #expect(try await database.eventually { try await delivered(stuckID) == 40 })
  }

  @Test("at most five targets per agent, however many adds race; another tenant cannot add to it")
  func limit() async throws {
    let database = try await IsolatedDatabase.make()
    let tenant = try await database.tenant()
    let accounts = database.accounts
    let results = await withTaskGroup(of: Result<Int64, any Error>.self) { group in
      for index in 0..<12 {
        group.addTask {
          do {
            return .success(
              try await accounts.addWebhookTarget(
                WebhookTargetInput(url: "https://hooks.example/\(index)", secret: nil, events: nil),
                tenantID: tenant.id, agentID: 7))
          } catch {
            return .failure(error)
          }
        }
      }
      return await group.reduce(into: []) { $0.append($1) }
    }
    let added = results.compactMap { try? $0.get() }
    #expect(added.count == WebhookTarget.maxPerAgent)
    for case .failure(let error) in results {
      #expect((error as? SwitchboardError)?.message == "agent 7 has 5 webhook targets; remove one first")
    }
    #expect(try await database.count("SELECT count(*) FROM webhook_targets") == 5)

    // A second tenant's agent 7 is its own; the first tenant's targets are not its to remove.
    let other = try await database.tenant()
    #expect(try await accounts.webhookTargets(tenantID: other.id, agentID: 7).isEmpty)
    #expect(try await accounts.removeWebhookTarget(tenantID: other.id, agentID: 7, targetID: added[0]) == false)
    do {
      _ = try await accounts.addWebhookTarget(
        WebhookTargetInput(url: "https://hooks.example/x", secret: nil, events: nil), tenantID: other.id, agentID: 99)
      Issue.record("added a target to an agent that does not exist")
    } catch let error as SwitchboardError {
      #expect(error.message == "agent not found")
    }
    // Room again after a removal; the same URL twice is a conflict.
    #expect(try await accounts.removeWebhookTarget(tenantID: tenant.id, agentID: 7, targetID: added[0]))
    #expect(try await accounts.removeWebhookTarget(tenantID: tenant.id, agentID: 7, targetID: added[1]))
    let twice = WebhookTargetInput(url: "https://hooks.example/twice", secret: nil, events: nil)
    _ = try await accounts.addWebhookTarget(twice, tenantID: tenant.id, agentID: 7)
    do {
      _ = try await accounts.addWebhookTarget(twice, tenantID: tenant.id, agentID: 7)
      Issue.record("added one URL twice")
    } catch let error as SwitchboardError {
      #expect(error.message == "agent 7 has a webhook target with that url already")
    }
    for bad in [
      WebhookTargetInput(url: "https://hooks.example/y", secret: nil, events: ["call.exploded"]),
      WebhookTargetInput(url: "ftp://hooks.example/y", secret: nil, events: nil),
    ] {
      #expect(throws: SwitchboardError.self) { try bad.validated(policy: OutboundURLPolicy()) }
    }
  }
}
