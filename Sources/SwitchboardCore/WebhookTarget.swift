import Foundation

/// Where an agent's events go: up to five targets, each with its own URL, secret, subscribed
/// event types and payload options (the seed system's model). Each event is written to the outbox
/// once per target that subscribes to it, signed with that target's secret and retried on its own.
public struct WebhookTarget: Sendable, Hashable {
  public var id: Int64
  public var agentID: Int64
  public var url: String
  /// Event types delivered; `nil` means all.
  public var events: [String]?
  /// Whether `data.transcript` is sent.
  public var includeTranscript: Bool
  /// Whether `data.call.recording_url` is sent (null otherwise).
  public var includeRecording: Bool
  /// Whether a signing secret is set (the secret itself is never read back).
  public var hasSecret: Bool

  public init(
    id: Int64, agentID: Int64, url: String, events: [String]?, includeTranscript: Bool, includeRecording: Bool,
    hasSecret: Bool
  ) {
    self.id = id
    self.agentID = agentID
    self.url = url
    self.events = events
    self.includeTranscript = includeTranscript
    self.includeRecording = includeRecording
    self.hasSecret = hasSecret
  }

  public func wants(_ eventType: String) -> Bool { events?.contains(eventType) ?? true }

  /// Targets an agent may have.
  public static let maxPerAgent = 5

  /// Every event type a target can subscribe to.
  public static let eventTypes: [String] =
    [
      "call.completed", "call.failed", "call.busy", "call.no_answer", "call.unreachable", "call.socket_failure",
      "call.telephony_failed", "call.voicemail", "call.canceled",
    ] + [BatchEnvelope.completed, BatchEnvelope.canceled]
}

/// A target as `agents webhooks add` (or an agent's `--webhook-url`) gives it.
public struct WebhookTargetInput: Sendable, Hashable {
  public var url: String
  public var secret: Secret?
  public var events: [String]?
  public var includeTranscript: Bool
  public var includeRecording: Bool

  public init(
    url: String, secret: Secret?, events: [String]?, includeTranscript: Bool = false, includeRecording: Bool = false
  ) {
    self.url = url
    self.secret = secret
    self.events = events
    self.includeTranscript = includeTranscript
    self.includeRecording = includeRecording
  }

  /// A URL `policy` allows; known event types, none twice.
  public func validated(policy: OutboundURLPolicy) throws(SwitchboardError) -> WebhookTargetInput {
    _ = try policy.check(url)
    if let events {
      guard !events.isEmpty else { throw .invalid("events must name at least one event type") }
      for event in events where !WebhookTarget.eventTypes.contains(event) {
        throw .invalid(
          "unknown event type \(event); known: \(WebhookTarget.eventTypes.joined(separator: ", "))")
      }
      guard Set(events).count == events.count else { throw .invalid("events names an event type twice") }
    }
    return self
  }
}
