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

@main
struct SwitchboardCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "switchboard",
    abstract: "Call orchestration: places outbound calls handled by voice agents.",
    subcommands: [
      Serve.self, Migrate.self, Healthcheck.self, Tenants.self, Keys.self, Agents.self, Suppressions.self,
      Numbers.self,
    ],
    defaultSubcommand: Serve.self)
}

/// Every default `serve` quotes in its help comes from here (README's table is checked against
/// the same values by `ConfigurationDefaultsTests`).
let defaults = ServerConfiguration.defaults
