import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOSSL
import OTel
import PostgresNIO
import ServiceLifecycle
import SwitchboardCore
import SwitchboardEmbeddedPostgres
import SwitchboardPostgres
import SwitchboardServer
import Synchronization
import Tracing

/// The development seed: on an empty embedded database, a demo tenant, agent and key.
enum DemoSeed {
  static let agentID: Int64 = 1
  static let agentPhone = "+14155550100"

  static func ensure(client: PostgresClient, file: String, logger: Logger) async throws {
    let accounts = PostgresAccounts(client: client, logger: logger)
    if try await !accounts.hasTenants() {
      let tenant = try await accounts.createTenant(name: "demo")
      try await accounts.saveAgent(
        tenantID: tenant, agentID: agentID, phoneNumber: agentPhone, name: "Demo agent", update: false)
      let key = try await accounts.createAPIKey(tenantID: tenant)
      // The development cluster's own directory keeps the key so later starts can show it again.
      _ = FileManager.default.createFile(
        atPath: file, contents: Data("\(key)\n\(agentID)\n".utf8), attributes: [.posixPermissions: 0o600])
    }
    guard let saved = try? String(contentsOfFile: file, encoding: .utf8) else { return }
    let lines = saved.split(separator: "\n")
    guard lines.count >= 2 else { return }
    // Written straight to the descriptor so it shows at once even when stdout is a pipe.
    FileHandle.standardOutput.write(Data("Demo API key: \(lines[0])\nDemo agent id: \(lines[1])\n".utf8))
  }
}
