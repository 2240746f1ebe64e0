/// Lifecycle of an attempt: `scheduled` → `initiated` → `dispatching` → `dispatched` →
/// `ringing` → `in_progress` → one terminal status. Transitions only move forward.
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
  case canceled

  public var isTerminal: Bool {
    switch self {
    case .completed, .noAnswer, .busy, .failed, .unreachable, .canceled: true
    default: false
    }
  }
}
