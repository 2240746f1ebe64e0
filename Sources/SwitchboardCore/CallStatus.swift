/// Lifecycle of an attempt: `scheduled` → `initiated` → `dispatching` → `dispatched` →
/// `ringing` → `in_progress` → one terminal status. Transitions only move forward.
///
/// The classes below are the contract's; the database spells the same sets once each, as
/// immutable functions (`switchboard_*_statuses()`, migration 0007) that its partial indexes and
/// functions use. `StatusSetTests` fails when the two disagree.
public enum CallStatus: String, Sendable, Hashable, CaseIterable {
  case scheduled
  case initiated
  case dispatching
  case dispatched
  case ringing
  case inProgress = "in_progress"
  case completed
  case noAnswer = "no_answer"
  case busy
  case failed
  case unreachable
  /// The call reached a machine (voicemail, an answering service). Retryable by `retry_on`.
  case voicemail
  case canceled
  /// A compliance rule forbade the dial (a suppression, an opt-out, a pre-dial veto). Final, not
  /// retryable.
  case suppressed

  /// Final: nothing moves the attempt again (`switchboard_terminal_statuses()`).
  public var isTerminal: Bool {
    switch self {
    case .completed, .noAnswer, .busy, .failed, .unreachable, .voicemail, .canceled, .suppressed: true
    default: false
    }
  }

  /// An outcome a retry policy may answer with another attempt (`retry_on`): the call did not
  /// reach its end and was not called off.
  public var isRetryable: Bool { isTerminal && self != .completed && self != .canceled && self != .suppressed }

  /// Position in the lifecycle; a report may only move an attempt to a higher rank.
  public var rank: Int {
    switch self {
    case .scheduled: 0
    case .initiated: 1
    case .dispatching: 2
    case .dispatched: 3
    case .ringing: 4
    case .inProgress: 5
    case .completed, .noAnswer, .busy, .failed, .unreachable, .voicemail, .canceled, .suppressed: 6
    }
  }
}
