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

  /// Statuses that hold one of the tenant's concurrent-call slots. `initiated` counts: it is a
  /// call the tenant asked to place now.
  public static let active: [CallStatus] = [.initiated, .dispatching, .dispatched, .ringing, .inProgress]

  /// Statuses from which CancelCall may still stop the attempt.
  public static let cancelable: [CallStatus] = [.scheduled, .initiated]

  public var isTerminal: Bool {
    switch self {
    case .completed, .noAnswer, .busy, .failed, .unreachable, .canceled: true
    default: false
    }
  }
}
