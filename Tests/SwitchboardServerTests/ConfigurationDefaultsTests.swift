import Foundation
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// `ServerConfiguration`'s values are the defaults; `serve --help` interpolates them. The README's
/// table writes them out for readers, so this holds it to them.
@Suite("README quotes the configuration's defaults")
struct ConfigurationDefaultsTests {
  @Test("each flag's default in README's table is ServerConfiguration.defaults")
  func readme() throws {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../README.md")
    let rows = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("| `--") }
    let d = ServerConfiguration.defaults
    let expected: [(flag: String, default: String)] = [
      ("--grpc-port", "\(d.grpcPort) / \(d.httpPort)"),
      ("--host", d.httpHost),
      ("--role", d.role.rawValue),
      ("--idempotency-hours", "\(d.idempotencyRetentionSeconds / 3600)"),
      ("--intake-writers", "\(d.intakeWriters)"),
      ("--dialer simulated", d.dialer.rawValue),
      ("--grpc-max-streams", "\(d.grpcMaxConcurrentStreams)"),
      ("--http-idle-timeout", "\(d.httpLimits.idleTimeout.components.seconds)"),
      ("--http-request-timeout", "\(d.httpLimits.requestTimeout.components.seconds)"),
      ("--http-max-connections", "\(d.httpLimits.maxConnections)"),
      ("--database-timeout", "\(d.databaseTimeout.components.seconds)"),
      ("--ring-timeout", "\(d.ringTimeout.components.seconds)"),
      ("--max-call-duration", "\(d.maxCallDuration.components.seconds)"),
      ("--shutdown-timeout", "\(d.shutdownTimeout.components.seconds)"),
    ]
    for (flag, value) in expected {
      let row = try #require(rows.first { $0.hasPrefix("| `\(flag)") }, "README has no row for \(flag)")
      let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      let documented = try #require(cells.last)
      #expect(documented == value || documented.hasPrefix(value + " "), "\(flag): README says \(documented)")
    }
    // Every setting serve reads has a row naming its flag and its variable, with its default.
    let all = rows.joined(separator: "\n")
    for setting in ServeSettings.all {
      #expect(all.contains("`\(setting.flag)"), "README has no row for \(setting.flag)")
      #expect(all.contains("`\(setting.variable)`"), "README does not name \(setting.variable)")
      if let value = setting.defaultText, value != "off" {
        let row = rows.first { $0.split(separator: "|").first?.contains("`\(setting.flag)") == true } ?? ""
        #expect(row.contains(value), "\(setting.flag): README's row does not say its default \(value)")
      }
    }
  }
}
