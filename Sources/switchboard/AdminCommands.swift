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

// The admin commands: migrate, tenants, keys, agents (and their webhook targets). Each prints
// only the new id or key, so scripts can capture it.

struct Migrate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Apply database migrations and exit.")
  @OptionGroup var database: DatabaseOptions

  func run() async throws {
    try await database.withDatabase { _, _ in }
  }
}

struct Tenants: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Manage tenants.", subcommands: [Create.self, Update.self])

  struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change a tenant's compliance settings.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Tenant id.") var tenant: Int64
    @Option(help: ContactLimitsOption.help) var contactLimits: String?
    @Option(help: RecipientHoursOption.help) var recipientHours: String?
    @Option(help: "A call placed now outside the recipient's hours: defer (default) or reject.")
    var outsideHours: String?
    @Option(help: "A number whose zone is unknown: tenant_zone (checked in --timezone; default) or refuse.")
    var unknownTimezone: String?
    @Option(help: "The tenant's IANA zone, for numbers of unknown zone (default UTC).") var timezone: String?

    func validate() throws {
      guard
        contactLimits != nil || recipientHours != nil || outsideHours != nil || unknownTimezone != nil
          || timezone != nil
      else {
        throw ValidationError(
          "nothing to change: give --contact-limits, --recipient-hours, --outside-hours, --unknown-timezone or --timezone"
        )
      }
      _ = try ContactLimitsOption.parse(contactLimits)
      _ = try RecipientHoursOption.parse(recipientHours)
      _ = try policies()
    }

    func policies() throws -> (OutsideHours?, UnknownTimezone?, TimeZone?) {
      let outside = try outsideHours.map { text in
        guard let value = OutsideHours(rawValue: text) else {
          throw ValidationError("--outside-hours: defer or reject")
        }
        return value
      }
      let unknown = try unknownTimezone.map { text in
        guard let value = UnknownTimezone(rawValue: text) else {
          throw ValidationError("--unknown-timezone: tenant_zone or refuse")
        }
        return value
      }
      let zone = try timezone.map { name in
        guard RecipientHoursPolicy.isKnownZone(name), let zone = TimeZone(identifier: name) else {
          throw ValidationError("--timezone: an IANA time zone name such as Asia/Kolkata")
        }
        return zone
      }
      return (outside, unknown, zone)
    }

    func run() async throws {
      let limits = try ContactLimitsOption.parse(contactLimits)
      let hours = try RecipientHoursOption.parse(recipientHours)
      let (outside, unknown, zone) = try policies()
      let tenant = tenant
      try await database.withDatabase { client, logger in
        let accounts = PostgresAccounts(client: client, logger: logger)
        if let limits { try await accounts.setContactLimits(limits, tenantID: tenant) }
        if let hours { try await accounts.setRecipientHours(hours, tenantID: tenant) }
        if outside != nil || unknown != nil || zone != nil {
          try await accounts.setRecipientHoursPolicy(
            outsideHours: outside, unknownTimezone: unknown, timeZone: zone, tenantID: tenant)
        }
      }
    }
  }

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a tenant; prints its id.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Display name.") var name: String
    @Option(help: "Calls per hour to one number (0 = off, default 5).") var numberRateLimit = 5
    @Option(help: "Calls to one number at once (default: the rate limit).") var numberRateBurst: Int?
    @Option(help: "Active calls at once (0 = off, default 10).") var maxConcurrentCalls = 10

    func validate() throws {
      guard numberRateLimit >= 0, maxConcurrentCalls >= 0 else { throw ValidationError("limits must not be negative") }
      if let numberRateBurst, numberRateBurst < 1 { throw ValidationError("--number-rate-burst must be at least 1") }
    }

    func run() async throws {
      let settings = PostgresAccounts.TenantSettings(
        numberRateLimit: numberRateLimit, numberRateBurst: numberRateBurst, maxConcurrentCalls: maxConcurrentCalls)
      let name = name
      let id = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).createTenant(name: name, settings: settings)
      }
      print(id)
    }
  }
}

struct Keys: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Manage API keys.", subcommands: [Create.self, Revoke.self])

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Issue an API key; prints it (it is stored only hashed).")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Tenant id.") var tenant: Int64

    func run() async throws {
      let tenant = tenant
      let key = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).createAPIKey(tenantID: tenant)
      }
      print(key)
    }
  }

  struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke an API key.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The key (sk_…).") var key: String

    func run() async throws {
      let key = key
      let revoked = try await database.withDatabase { client, logger in
        try await PostgresAccounts(client: client, logger: logger).revokeAPIKey(key)
      }
      guard revoked else { throw ValidationError("no live key matched") }
    }
  }
}

struct Agents: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Manage agents.", subcommands: [Create.self, Update.self, Webhooks.self])

  struct AgentOptions: ParsableArguments {
    @Option(help: "Tenant id.") var tenant: Int64
    @Option(help: "Agent id (> 0), as clients send it.") var id: Int64
    @Option(help: "The E.164 number the agent calls from.") var phone: String?
    @Option(help: "Display name.") var name: String?
    @Option(
      help: #"Retry policy, e.g. '{"max_attempts":3,"retry_on":["no_answer","busy"],"delays_seconds":[1800,3600]}'."#)
    var retryPolicy: String?
    @Option(
      help:
        #"Calling window, e.g. '{"timezone":"Asia/Kolkata","days":["mon","tue"],"start":"09:00","end":"18:00"}'."#)
    var callingWindow: String?
    @Option(
      help: "A webhook target's URL: added, or (with a target of that URL) given --webhook-secret/--webhook-events.")
    var webhookURL: String?
    @Option(help: "Secret that signs the target's events (HMAC-SHA256).") var webhookSecret: String?
    @Option(
      help: "Comma-separated event types the target gets (default: all), e.g. call.completed,batch.completed.")
    var webhookEvents: String?
    @Option(help: ContactLimitsOption.help) var contactLimits: String?
    @Option(help: RecipientHoursOption.help) var recipientHours: String?
    @OptionGroup var outbound: OutboundOptions

    func validate() throws {
      guard id > 0 else { throw ValidationError("--id must be positive") }
      _ = try ContactLimitsOption.parse(contactLimits)
      _ = try RecipientHoursOption.parse(recipientHours)
      if let phone, !PhoneNumber.isE164(phone) { throw ValidationError("--phone must be an E.164 number") }
      if webhookURL == nil, webhookSecret != nil || webhookEvents != nil {
        throw ValidationError("--webhook-secret and --webhook-events need --webhook-url (the target they are for)")
      }
      let settings = try settings()
      if let url = settings.webhookURL {
        try Webhooks.checked(
          WebhookTargetInput(url: url, secret: nil, events: settings.webhookEvents), policy: try outbound.policy())
      }
    }

    func settings() throws -> PostgresAccounts.AgentSettings {
      func parse<T>(_ text: String?, _ read: (JSONValue) throws(SwitchboardError) -> T) throws -> T? {
        guard let text else { return nil }
        guard let json = try? JSONValue.decode(text) else { throw ValidationError("not valid JSON: \(text)") }
        do {
          return try read(json)
        } catch {
          throw ValidationError(error.message)
        }
      }
      return PostgresAccounts.AgentSettings(
        phoneNumber: phone, name: name, retryPolicy: try parse(retryPolicy, RetryPolicy.init(json:)),
        callingWindow: try parse(callingWindow, CallingWindow.init(json:)), webhookURL: webhookURL,
        webhookSecret: webhookSecret,
        webhookEvents: webhookEvents.map(Webhooks.eventList))
    }
  }

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an agent; prints its id.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
      try await Agents.save(agent, database, update: false)
      print(agent.id)
    }
  }

  struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change an agent's phone number, name, policies or caps.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
      try await Agents.save(agent, database, update: true)
    }
  }

  /// After the agent is saved: its own caps and recipient hours, when given.
  static func saveContactLimits(_ agent: AgentOptions, _ database: DatabaseOptions) async throws {
    let limits = try ContactLimitsOption.parse(agent.contactLimits)
    let hours = try RecipientHoursOption.parse(agent.recipientHours)
    guard limits != nil || hours != nil else { return }
    let (tenant, id) = (agent.tenant, agent.id)
    try await database.withDatabase { client, logger in
      let accounts = PostgresAccounts(client: client, logger: logger)
      if let limits { try await accounts.setContactLimits(limits, tenantID: tenant, agentID: id) }
      if let hours { try await accounts.setRecipientHours(hours, tenantID: tenant, agentID: id) }
    }
  }

  struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Manage an agent's webhook targets (up to \(WebhookTarget.maxPerAgent)).",
      subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Add a webhook target; prints its id.")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64
      @Option(help: "Where the target's events are POSTed (http or https).") var url: String
      @Option(help: "Secret that signs its events (HMAC-SHA256); or set SWITCHBOARD_WEBHOOK_SECRET.")
      var secret: String?
      @Option(
        help: "Comma-separated event types it gets (default: all): \(WebhookTarget.eventTypes.joined(separator: ", "))."
      )
      var events: String?
      @Flag(help: "Send data.transcript with outcome events.") var includeTranscript = false
      @Flag(help: "Send data.call.recording_url with outcome events.") var includeRecording = false
      @OptionGroup var outbound: OutboundOptions

      var input: WebhookTargetInput {
        WebhookTargetInput(
          url: url, secret: Secret(secret ?? ProcessInfo.processInfo.environment["SWITCHBOARD_WEBHOOK_SECRET"]),
          events: events.map(Webhooks.eventList), includeTranscript: includeTranscript,
          includeRecording: includeRecording)
      }

      func validate() throws { try Webhooks.checked(input, policy: try outbound.policy()) }

      func run() async throws {
        let (input, tenant, agent, policy) = (input, tenant, agent, try outbound.policy())
        let id = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger, outboundPolicy: policy).addWebhookTarget(
            input, tenantID: tenant, agentID: agent)
        }
        print(id)
      }
    }

    struct List: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "List an agent's webhook targets (secrets are never shown).")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64

      func run() async throws {
        let (tenant, agent) = (tenant, agent)
        let targets = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger).webhookTargets(tenantID: tenant, agentID: agent)
        }
        print(["id", "url", "events", "transcript", "recording", "secret"].joined(separator: "\t"))
        for target in targets {
          print(
            [
              String(target.id), target.url, target.events?.joined(separator: ",") ?? "all",
              target.includeTranscript ? "yes" : "no", target.includeRecording ? "yes" : "no",
              target.hasSecret ? "set" : "none",
            ].joined(separator: "\t"))
        }
      }
    }

    struct Remove: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Remove a webhook target, and the events still waiting to go to it.")
      @OptionGroup var database: DatabaseOptions
      @Option(help: "Tenant id.") var tenant: Int64
      @Option(help: "Agent id.") var agent: Int64
      @Argument(help: "The target's id (agents webhooks list).") var target: Int64

      func run() async throws {
        let (tenant, agent, target) = (tenant, agent, target)
        let removed = try await database.withDatabase { client, logger in
          try await PostgresAccounts(client: client, logger: logger).removeWebhookTarget(
            tenantID: tenant, agentID: agent, targetID: target)
        }
        guard removed else { throw ValidationError("agent \(agent) has no webhook target \(target)") }
      }
    }

    static func eventList(_ text: String) -> [String] {
      text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The target rules, as a command-line error.
    static func checked(_ input: WebhookTargetInput, policy: OutboundURLPolicy) throws {
      do {
        _ = try input.validated(policy: policy)
      } catch {
        throw ValidationError(error.message)
      }
    }
  }

  static func save(_ agent: AgentOptions, _ database: DatabaseOptions, update: Bool) async throws {
    let (tenant, id, settings, policy) = (agent.tenant, agent.id, try agent.settings(), try agent.outbound.policy())
    try await database.withDatabase { client, logger in
      try await PostgresAccounts(client: client, logger: logger, outboundPolicy: policy).saveAgent(
        tenantID: tenant, agentID: id, settings: settings, update: update)
    }
    try await saveContactLimits(agent, database)
  }
}

/// `--contact-limits`: a JSON object, `regulation_f` (7 calls in 168 h, 168 h quiet after a
/// conversation), or `none`.
enum ContactLimitsOption {
  static let help: ArgumentHelp =
    #"Attempt caps per number: '{"limits":[{"max_attempts":7,"window_hours":168}],"quiet_hours_after_conversation":168}', regulation_f, or none."#

  /// `nil` when the option is absent; `.some(nil)` for `none`.
  static func parse(_ text: String?) throws -> ContactLimits?? {
    guard let text else { return nil }
    do {
      return .some(try ContactLimits.parse(text))
    } catch {
      throw ValidationError("--contact-limits: \(error.message)")
    }
  }
}

/// `--recipient-hours`: a JSON object in the calling window's shape without its zone, or `none`.
enum RecipientHoursOption {
  static let help: ArgumentHelp =
    #"Calling hours in the recipient's own zone: '{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"20:00"}' (inside the country's limits: +91 09-21, +1 08-21), or none."#

  /// `nil` when the option is absent; `.some(nil)` for `none`.
  static func parse(_ text: String?) throws -> RecipientHours?? {
    guard let text else { return nil }
    if text == "none" { return .some(nil) }
    guard let json = try? JSONValue.decode(text) else {
      throw ValidationError("--recipient-hours: not valid JSON (or none): \(text)")
    }
    do {
      return .some(try RecipientHours(json: json))
    } catch {
      throw ValidationError("--recipient-hours: \(error.message)")
    }
  }
}
