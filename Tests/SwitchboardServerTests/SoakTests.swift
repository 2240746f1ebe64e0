import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OneAtATime {
  /// One long-lived `switchboard serve --role all` process at a time, driven through what a
  /// replica meets in an hour of production (steady calls, malformed and fuzzed bodies, a batch
  /// paused, resumed and canceled, a table lock held past the deadline, a PostgreSQL restart),
  /// then SIGTERM: every round it exits 0 within its shutdown deadline, logging each service's
  /// stop. Rounds: `SWITCHBOARD_SOAK_ROUNDS` (default 2; scripts/soak runs more).
  @Suite("Soak: mixed traffic, then SIGTERM", .serialized)
  struct SoakTests {
    static let rounds = ProcessInfo.processInfo.environment["SWITCHBOARD_SOAK_ROUNDS"].flatMap(Int.init) ?? 2
    static let shutdownTimeout = 5

    @Test("a replica that served mixed traffic and faults exits 0 within its deadline on SIGTERM")
    func soak() async throws {
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID())").path
      let keep = ProcessInfo.processInfo.environment["SWITCHBOARD_RESTART_KEEP"] != nil
      defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }
      var logger = Logger(label: "soak-tests")
      logger.logLevel = .critical
      var cluster = try await EmbeddedPostgres.start(in: directory, durable: false, logger: logger)
      defer { cluster.requestStop() }
      let key = try await RestartTests.seed(databaseURL: cluster.databaseURL, logger: logger)
      let authorization = "Bearer \(key)"

      for round in 1...Self.rounds {
        let server = try ServerProcess.start(
          databaseURL: cluster.databaseURL, role: "all", log: "\(directory)/soak-\(round).log",
          environment: [
            "SWITCHBOARD_DATABASE_TIMEOUT": "2", "SWITCHBOARD_SHUTDOWN_TIMEOUT": "\(Self.shutdownTimeout)",
          ])
        try await server.waitUntilReady()
        let port = server.httpPort
        let load = Load(port: port, key: key)
        let clients = Task { await load.run(clients: 6) }
        try await load.waitForAnswers(20)

        // Fuzzed and malformed bodies: each a 4xx, none a 5xx.
        var statuses: [Int] = []
        for body in Self.malformedBodies {
          let result = try await GatewayClient.send(
            .POST, "/v1/call", authorization: authorization, rawBody: Array(body.utf8), port: port)
          statuses.append(result.status)
        }
        #expect(statuses.allSatisfy { (400..<500).contains($0) }, "round \(round): \(statuses)")

        // A batch, paused, resumed and canceled.
        let created = try await GatewayClient.send(
          .POST, "/v1/batch-call", authorization: authorization,
          body: [
            "agent_id": 1, "name": .string("soak \(round)"),
            "recipients": .array(
              (0..<50).map { index in
                [
                  "parameters": [
                    ["name": "customer_phone", "value": .string("+9198765\(String(format: "%05d", index))")]
                  ]
                ]
              }),
          ], port: port)
        #expect(created.status == 200, "round \(round): \(created.body)")
        if let id = created.data?["id"]?.integerValue {
          for action in ["pause", "resume", "cancel"] {
            let answer = try await GatewayClient.send(
              .POST, "/v1/batch-calls/\(id)/\(action)", authorization: authorization, port: port)
            #expect(answer.status == 200, "round \(round) \(action): \(answer.body)")
          }
        }

        // A table lock held past the deadline, then a PostgreSQL restart, under the load.
        let quiet = logger
        try await withClient(databaseURL: cluster.databaseURL, logger: quiet) { client in
          try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: quiet)
            try await connection.query("LOCK TABLE call_attempts IN ACCESS EXCLUSIVE MODE", logger: quiet)
            try await connection.query("SELECT pg_sleep(3)", logger: quiet)
            try await connection.query("COMMIT", logger: quiet)
          }
        }
        await cluster.stop()
        cluster = try await EmbeddedPostgres.start(
          in: cluster.directory, port: cluster.port, durable: false, logger: logger)
        let answered = load.answered
        try await load.waitForAnswers(answered + 20, within: .seconds(30))

        server.terminate()
        let exited = await server.waitForExit(within: .seconds(Self.shutdownTimeout + 10))
        load.stop()
        if !exited {
          if keep {
            Issue.record("left running for inspection: pid \(server.process.processIdentifier), log \(server.log)")
            return
          }
          server.kill()
        }
        _ = await clients.value
        #expect(
          exited, "round \(round): still running \(Self.shutdownTimeout + 10) s after SIGTERM (log: \(server.log))")
        if exited {
          #expect(server.process.terminationStatus == 0, "round \(round): exit status (log: \(server.log))")
          let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
          for service in ["dispatcher", "http", "grpc", "intake"] {
            #expect(log.contains("service=\(service)"), "round \(round): no stop logged for \(service)")
          }
        }
        if !exited { break }
      }
    }

    /// Bodies a fuzzer sends: not JSON, the wrong shapes, values out of range.
    static let malformedBodies = [
      "", "{", "[]", "null", "{\"agent_id\": \"one\"}", "{\"agent_id\": 1, \"parameters\": {}}",
      "{\"agent_id\": 1e400, \"parameters\": []}", "{\"agent_id\": 1, \"parameters\": [{\"name\": 7}]}",
      "{\"agent_id\": 1, \"parameters\": [{\"name\": \"customer_phone\", \"value\": \"12\"}]}",
      "{\"agent_id\": 1, \"scheduled_for\": \"99999-01-01T00:00:00Z\", \"parameters\": []}",
      "{\"agent_id\": 1, \"parameters\": [],}", String(repeating: "[", count: 10_000),
    ]
  }
}
