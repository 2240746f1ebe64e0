import Foundation

/// The decisions of the call contract that need no lock. The store takes the attempt's row lock,
/// asks these what to do, and writes the answer in the same transaction; `ContractTableTests`
/// runs a table of cases through both and requires the same answers.
public enum CallLifecycle {
  /// What a report of `reported` does to an attempt whose status is `current`.
  public enum Transition: Sendable, Hashable {
    /// The report was made against a status the attempt has since left (the reaper's guard):
    /// nothing is logged or changed.
    case stale
    /// The attempt is final: the report is logged and changes nothing.
    case afterEnd
    /// The attempt's final status again, after the end (a recording or transcript comes after the
    /// call): logged, and what it carries of the call's record is added. The status, the chain and
    /// the outcome webhooks are left as they are.
    case amends
    /// Backwards or sideways: refused, nothing logged.
    case refused
    /// The status the attempt already has: logged, and its collected data and stage are threaded.
    case restated
    /// Moves the attempt forward.
    case advances(Advance)
  }

  public struct Advance: Sendable, Hashable {
    public var status: CallStatus
    /// Whether the dial went out: a failure reported while still `dispatching` is a dial that
    /// never left, so the attempt gets no `dispatched_at`.
    public var dialed: Bool
    /// Whether the attempt ends here: it gets `ended_at`, its outcome event and perhaps a retry.
    public var finishes: Bool { status.isTerminal }
  }

  public static func transition(
    from current: CallStatus, reported: CallStatus, onlyIfStatus: CallStatus? = nil
  ) -> Transition {
    if let onlyIfStatus, current != onlyIfStatus { return .stale }
    if current.isTerminal { return reported == current ? .amends : .afterEnd }
    if reported == current { return .restated }
    guard reported.rank > current.rank else { return .refused }
    return .advances(Advance(status: reported, dialed: !(current == .dispatching && reported == .failed)))
  }

  /// Whether an attempt that ended with `status` earns another, by the agent's policy.
  public struct RetryPlan: Sendable, Hashable {
    /// Attempts the chain may have in all, as the outcome webhook reports it.
    public var maxAttempts: Int
    /// Seconds until the next attempt, when this outcome earns one.
    public var delaySeconds: Int?
    /// Whether this attempt is the chain's last, as far as the policy goes.
    public var isFinalAttempt: Bool
  }

  /// Only the chain's latest attempt can earn a retry: an outcome reported late for an earlier
  /// one must not fork the chain.
  public static func retryPlan(
    after status: CallStatus, attemptNumber: Int, isLatestInChain: Bool, policy: RetryPolicy?
  ) -> RetryPlan {
    let maxAttempts = max(policy?.maxAttempts ?? attemptNumber, attemptNumber)
    if isLatestInChain, let delay = policy?.retryDelay(after: status, attemptNumber: attemptNumber) {
      return RetryPlan(maxAttempts: maxAttempts, delaySeconds: delay, isFinalAttempt: false)
    }
    return RetryPlan(
      maxAttempts: maxAttempts, delaySeconds: nil,
      isFinalAttempt: attemptNumber >= maxAttempts || policy?.retryOn.contains(status) != true)
  }
}

extension RetryStatus {
  /// An attempt after which nothing follows (a cancellation, or a retry that could not be made).
  public static func final(attemptNumber: Int, maxAttempts: Int? = nil) -> RetryStatus {
    RetryStatus(
      attemptNumber: attemptNumber, maxAttempts: max(maxAttempts ?? attemptNumber, attemptNumber),
      isFinalAttempt: true, nextRetryAt: nil)
  }
}

// DESIGN §3: how a chain's threaded state and a request's `retry_context` combine: the
// specification. The database applies the merge under the chain's row lock, in one place
// (`switchboard_thread_chain`, for appends and reports alike; `switchboard_effective_context`);
// `ContractTableTests` holds the two equal on a table of cases.
extension ThreadedState {
  /// The chain's state once a request joins it: the request's `collected_data` merged over the
  /// chain's key by key (top level only), its language and stage replacing the chain's when given.
  public func threading(_ context: RetryContext?) -> ThreadedState {
    guard let context else { return self }
    return ThreadedState(
      collectedData: collectedData.merging(context.collectedData ?? [:]) { _, new in new },
      language: context.language ?? language, stageID: context.stageID ?? stageID)
  }

  /// The chain's state once an attempt reports collected data or a stage.
  /// A report threads as a request's context would, without a language.
  public func recording(collectedData reported: [String: JSONValue]?, stageID reportedStage: String?) -> ThreadedState {
    threading(RetryContext(collectedData: reported, stageID: reportedStage))
  }

  /// What the dialer receives for an attempt: the state, and the request's own initial message
  /// (which is never threaded). `collected_data` is always present, if empty.
  public func effectiveContext(initialMessage: String?) -> RetryContext {
    RetryContext(collectedData: collectedData, initialMessage: initialMessage, language: language, stageID: stageID)
  }
}
