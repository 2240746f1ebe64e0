import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SwitchboardCore
import SwitchboardPostgres

/// `switchboard suppressions add|list|remove|import`: a tenant's do-not-call list, written as
/// the API writes it (waiting attempts to the numbers end `suppressed`).
struct Suppressions: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Manage a tenant's do-not-call list.", subcommands: [Add.self, List.self, Remove.self, Import.self])

  struct Scope: ParsableArguments {
    @Option(help: "Tenant id.") var tenant: Int64
    @Option(help: "Only this agent's calls (scope agent); default: every agent of the tenant.") var agent: Int64?
  }

  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Suppress numbers.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scope: Scope
    @Option(help: "Why (kept with the entry).") var reason: String?
    @Option(help: "When the entry stops applying (ISO 8601); default never.") var expiresAt: String?
    @Argument(help: "E.164 numbers.") var numbers: [String]

    func run() async throws {
      var expires: Date?
      if let expiresAt {
        guard let date = Timestamp.parse(expiresAt) else { throw ValidationError("--expires-at must be ISO 8601") }
        expires = date
      }
      let inputs = numbers.map {
        SuppressionInput(phoneNumber: $0, agentID: scope.agent, reason: reason, expiresAt: expires)
      }
      let tenant = scope.tenant
      let counts = try await Suppressions.operations(database) { compliance, tenant in
        try await compliance.add(inputs, tenant: tenant)
      }(tenant)
      print("added \(counts.entries), ended \(counts.endedAttempts) waiting attempts")
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List entries, as JSON lines.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Tenant id.") var tenant: Int64
    @Option(help: "Only this number.") var phoneNumber: String?
    @Option(help: "api, import or opt_out.") var source: String?
    @Option(help: "Only this agent's entries.") var agent: Int64?

    func run() async throws {
      var filter = try SuppressionFilter.parse(
        phoneNumber: phoneNumber, source: source, agentID: agent.map(String.init), limit: "1000", cursor: nil)
      while true {
        let current = filter
        let page = try await Suppressions.operations(database) { compliance, tenant in
          try await compliance.list(current, tenant: tenant)
        }(tenant)
        for entry in page.entries { print(entry.json.encoded()) }
        guard let next = page.nextCursor else { return }
        filter = try SuppressionFilter.parse(
          phoneNumber: phoneNumber, source: source, agentID: agent.map(String.init), limit: "1000", cursor: next)
      }
    }
  }

  struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a number's entry.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scope: Scope
    @Argument(help: "The E.164 number.") var number: String

    func run() async throws {
      let (number, agent) = (number, scope.agent)
      try await Suppressions.operations(database) { compliance, tenant in
        try await compliance.remove(phoneNumber: number, agentID: agent.map(String.init), tenant: tenant)
      }(scope.tenant)
      print("removed")
    }
  }

  struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import a CSV file whose header names phone_number (up to 1,000,000 rows).")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scope: Scope
    @Option(help: "Why (kept with every entry).") var reason: String?
    @Argument(help: "The CSV file.") var file: String

    func run() async throws {
      let data = try Data(contentsOf: URL(fileURLWithPath: file))
      var numbers = try SuppressionImport(
        scope: nil, agentID: scope.agent, reason: reason, now: Date())
      let text = String(decoding: data, as: UTF8.self)
      var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).makeIterator()
      let header = (lines.next() ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      guard let column = header.firstIndex(of: "phone_number") else {
        throw ValidationError("the file's first row must name a phone_number column")
      }
      var line = 1
      while let row = lines.next() {
        line += 1
        if row.trimmingCharacters(in: .whitespaces).isEmpty { continue }
        let fields = row.split(separator: ",", omittingEmptySubsequences: false)
        guard column < fields.count else {
          numbers.reject(line, "row has no phone_number field")
          continue
        }
        try numbers.add(String(fields[column]).trimmingCharacters(in: CharacterSet(charactersIn: "\" ")), line: line)
      }
      let entries = numbers.entries
      let counts = try await Suppressions.operations(database) { compliance, tenant in
        try await compliance.import(entries, tenant: tenant)
      }(scope.tenant)
      print(
        "imported \(counts.entries), ended \(counts.endedAttempts) waiting attempts, rejected \(numbers.totalRejected)")
      for row in numbers.rejected { print("line \(row.line): \(row.message)") }
    }
  }

  /// Runs `body` against the tenant's compliance operations, on the database the options name.
  static func operations<T: Sendable>(
    _ database: DatabaseOptions,
    _ body: @escaping @Sendable (ComplianceOperations, Tenant) async throws -> T
  ) -> @Sendable (Int64) async throws -> T {
    { tenantID in
      try await database.withDatabase { client, logger in
        let store = PostgresCompliance(
          database: Database(client: client, timeout: .seconds(60), logger: logger), logger: logger)
        let compliance = ComplianceOperations(calls: nil, store: store)
        do {
          return try await body(compliance, Tenant(id: tenantID, name: ""))
        } catch let error as SwitchboardError {
          throw ValidationError(error.message)
        }
      }
    }
  }
}
