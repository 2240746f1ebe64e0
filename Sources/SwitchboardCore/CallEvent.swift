import Foundation

/// A progress or outcome report about an attempt, as a transport decoded it.
public struct CallEventInput: Sendable {
  public var eventID: String?
  public var status: String?
  public var collectedData: [String: JSONValue]?
  public var stageID: String?
  public var results: [String: JSONValue]?
  public var durationSeconds: Double?
  public var failureReason: String?
  /// As sent: validated by ``RecordContract/transcript(_:)``.
  public var transcript: JSONValue?
  public var recordingURL: String?
  public var answeredBy: String?
  public var failureType: String?
  /// The runtime heard "stop calling": the number is suppressed for the tenant.
  public var optOut = false
  /// Set by the service only, never from the wire: record the event only if the attempt still
  /// has this status (the reaper's guard against a report that arrived meanwhile).
  public var onlyIfStatus: CallStatus?

  public init(
    eventID: String? = nil, status: String? = nil, collectedData: [String: JSONValue]? = nil, stageID: String? = nil,
    results: [String: JSONValue]? = nil, durationSeconds: Double? = nil, failureReason: String? = nil,
    onlyIfStatus: CallStatus? = nil
  ) {
    self.eventID = eventID
    self.status = status
    self.collectedData = collectedData
    self.stageID = stageID
    self.results = results
    self.durationSeconds = durationSeconds
    self.failureReason = failureReason
    self.onlyIfStatus = onlyIfStatus
  }
}

/// A report that satisfies the event contract.
public struct CallEvent: Sendable, Hashable {
  public var eventID: String
  public var status: CallStatus
  public var collectedData: [String: JSONValue]?
  public var stageID: String?
  public var results: [String: JSONValue]?
  public var durationSeconds: Double?
  public var failureReason: String?
  public var transcript: [TranscriptTurn]?
  public var recordingURL: String?
  public var answeredBy: AnsweredBy?
  /// Only with status `failed`.
  public var failureType: FailureType?
  /// Record only if the attempt still has this status (see ``CallEventInput/onlyIfStatus``).
  public var onlyIfStatus: CallStatus?
  /// The number asked not to be called again (a field, so no status or outcome name can skip it).
  public var optOut = false

  /// Statuses a dialer or voice runtime may report; `scheduled`, `initiated` and `dispatching`
  /// are Switchboard's own, and `canceled` comes from CancelCall.
  public static let reportable: Set<CallStatus> = [
    .dispatched, .ringing, .inProgress, .completed, .noAnswer, .busy, .failed, .unreachable, .voicemail,
  ]

  public init(
    eventID: String, status: CallStatus, collectedData: [String: JSONValue]? = nil, stageID: String? = nil,
    results: [String: JSONValue]? = nil, durationSeconds: Double? = nil, failureReason: String? = nil
  ) {
    self.eventID = eventID
    self.status = status
    self.collectedData = collectedData
    self.stageID = stageID
    self.results = results
    self.durationSeconds = durationSeconds
    self.failureReason = failureReason
  }

  public static func validate(_ input: CallEventInput) throws(SwitchboardError) -> CallEvent {
    guard let eventID = input.eventID, !eventID.isEmpty else { throw .invalid("event_id is required") }
    guard eventID.count <= 255 else { throw .invalid("event_id must be at most 255 characters") }
    guard let text = input.status, !text.isEmpty else { throw .invalid("status is required") }
    guard let status = CallStatus(rawValue: text), reportable.contains(status) else {
      throw .invalid(
        "status must be one of \(reportable.map(\.rawValue).sorted().joined(separator: ", "))")
    }
    if let duration = input.durationSeconds, !(0...RecordContract.maxDurationSeconds).contains(duration) {
      throw .invalid("duration_seconds must be a number between 0 and \(Int(RecordContract.maxDurationSeconds))")
    }
    if let reason = input.failureReason, reason.utf8.count > 4096 {
      throw .invalid("failure_reason must be at most 4096 bytes")
    }
    let texts = [eventID, input.stageID, input.failureReason].compactMap { $0 }
    let objects = [input.collectedData, input.results].compactMap { $0 }.map(JSONValue.object)
    if texts.contains(where: \.containsNUL) || objects.contains(where: \.containsNUL) {
      throw .invalid("event reports must not contain NUL characters")
    }
    if objects.contains(where: \.containsNonFiniteNumber) {
      throw .invalid("collected_data and results must hold only finite numbers")
    }
    let size = objects.reduce(0) { $0 + $1.approximateSize }
    guard size <= CallContract.maxRetryContextBytes else {
      throw .invalid("collected_data and results must be at most \(CallContract.maxRetryContextBytes) bytes")
    }
    var event = CallEvent(
      eventID: eventID, status: status, collectedData: input.collectedData, stageID: input.stageID,
      results: input.results, durationSeconds: input.durationSeconds, failureReason: input.failureReason)
    event.onlyIfStatus = input.onlyIfStatus
    event.optOut = input.optOut
    event.transcript = try input.transcript.map(RecordContract.transcript)
    event.recordingURL = try input.recordingURL.map(RecordContract.recordingURL)
    if let text = input.answeredBy {
      guard let answeredBy = AnsweredBy(rawValue: text) else {
        throw .invalid("answered_by must be human, machine or unknown")
      }
      event.answeredBy = answeredBy
    }
    if let text = input.failureType {
      guard let failureType = FailureType(rawValue: text) else {
        throw .invalid("failure_type must be socket_failure, telephony_failed or other")
      }
      guard status == .failed else { throw .invalid("failure_type is only reported with status failed") }
      event.failureType = failureType
    }
    return event
  }
}

/// What recording an event did.
public enum EventOutcome: Sendable, Hashable {
  /// The attempt moved; with it as it stands now.
  case recorded(CallAttempt)
  /// This `event_id` was reported before; nothing changed.
  case duplicate(CallAttempt)
  /// The attempt had already finished; the event is logged and changes nothing.
  case ignored(CallAttempt)
  /// The event would move the attempt backwards or sideways.
  case invalidTransition(CallAttempt)
  case notFound
}
