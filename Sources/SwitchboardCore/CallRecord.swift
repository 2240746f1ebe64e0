import Foundation

/// One turn of a call's transcript, as the voice runtime reports it.
public struct TranscriptTurn: Sendable, Hashable {
  public enum Role: String, Sendable, Hashable, CaseIterable {
    case agent, human
  }

  public var role: Role
  public var message: String

  public init(role: Role, message: String) {
    self.role = role
    self.message = message
  }
}

/// Who picked up, as the voice runtime judged it.
public enum AnsweredBy: String, Sendable, Hashable, CaseIterable {
  case human, machine, unknown
}

/// Why a `failed` call failed: the dialer could not be reached (`socket_failure`), the carrier
/// refused or dropped it (`telephony_failed`), or something else.
public enum FailureType: String, Sendable, Hashable, CaseIterable {
  case socketFailure = "socket_failure"
  case telephonyFailed = "telephony_failed"
  case other
}

/// The limits of what an event may record about a call (issue #11).
public enum RecordContract {
  public static let maxTranscriptTurns = 2_000
  public static let maxTranscriptMessageLength = 8_192
  public static let maxRecordingURLLength = 2_048
  /// A week: no call lasts longer, and a sum of such values cannot overflow an average
  /// (`avg(double precision)` squares its inputs; 1e200 failed every batch's completion).
  public static let maxDurationSeconds: Double = 7 * 86_400

  /// A transcript as sent: an array of `{role: agent|human, message}`. The first broken rule is
  /// the error, naming the element.
  public static func transcript(_ value: JSONValue) throws(SwitchboardError) -> [TranscriptTurn] {
    guard case .array(let items) = value else {
      throw .invalid("transcript must be an array of {role, message} objects")
    }
    guard items.count <= maxTranscriptTurns else {
      throw .invalid("transcript must have at most \(maxTranscriptTurns) items")
    }
    var turns: [TranscriptTurn] = []
    turns.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      guard let members = item.objectValue else {
        throw .invalid("transcript[\(index)] must be an object with role and message")
      }
      guard let role = members["role"]?.stringValue.flatMap(TranscriptTurn.Role.init(rawValue:)) else {
        throw .invalid("transcript[\(index)].role must be agent or human")
      }
      guard let message = members["message"]?.stringValue else {
        throw .invalid("transcript[\(index)].message must be a string")
      }
      guard message.count <= maxTranscriptMessageLength else {
        throw .invalid("transcript[\(index)].message must be at most \(maxTranscriptMessageLength) characters")
      }
      guard !message.containsNUL else { throw .invalid("transcript[\(index)].message must not contain NUL characters") }
      turns.append(TranscriptTurn(role: role, message: message))
    }
    return turns
  }

  /// A recording's URL: `https`, with a host, at most ``maxRecordingURLLength`` characters, in
  /// printable ASCII (it goes out as a `Location` header, in JSON, gRPC and webhooks).
  public static func recordingURL(_ text: String) throws(SwitchboardError) -> String {
    guard text.utf8.count <= maxRecordingURLLength else {
      throw .invalid("recording_url must be at most \(maxRecordingURLLength) characters")
    }
    guard URLText.isPrintableASCII(text) else {
      throw .invalid("recording_url must not contain spaces, control or non-ASCII characters (percent-encode them)")
    }
    guard let url = URLComponents(string: text), url.scheme?.lowercased() == "https",
      let host = url.host, !host.isEmpty
    else { throw .invalid("recording_url must be an https URL") }
    return text
  }
}

extension TranscriptTurn {
  public var json: JSONValue { ["role": .string(role.rawValue), "message": .string(message)] }

  /// A transcript as stored (checked when it was reported): the turns it holds.
  public static func stored(_ value: JSONValue) -> [TranscriptTurn] {
    (value.arrayValue ?? []).compactMap { item in
      guard let members = item.objectValue, let role = members["role"]?.stringValue.flatMap(Role.init(rawValue:)),
        let message = members["message"]?.stringValue
      else { return nil }
      return TranscriptTurn(role: role, message: message)
    }
  }
}
