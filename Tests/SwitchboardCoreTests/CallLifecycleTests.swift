import Foundation
import Testing

@testable import SwitchboardCore

@Suite("Call lifecycle: transitions, retries, status classes, threading")
struct CallLifecycleTests {
  @Test("every (current, reported) pair has exactly the decision the contract gives it")
  func transitions() {
    for current in CallStatus.allCases {
      for reported in CallStatus.allCases {
        let decision = CallLifecycle.transition(from: current, reported: reported)
        let expected: CallLifecycle.Transition =
          if current.isTerminal {
            reported == current ? .amends : .afterEnd
          } else if reported == current {
            .restated
          } else if reported.rank > current.rank {
            .advances(.init(status: reported, dialed: !(current == .dispatching && reported == .failed)))
          } else {
            .refused
          }
        #expect(decision == expected, "\(current) ← \(reported)")
      }
    }
  }

  @Test("spot checks a reader can verify by eye")
  func spotChecks() {
    #expect(CallLifecycle.transition(from: .ringing, reported: .dispatched) == .refused)
    #expect(CallLifecycle.transition(from: .completed, reported: .failed) == .afterEnd)
    #expect(CallLifecycle.transition(from: .completed, reported: .completed) == .amends)
    #expect(CallLifecycle.transition(from: .inProgress, reported: .inProgress) == .restated)
    guard case .advances(let failedEarly) = CallLifecycle.transition(from: .dispatching, reported: .failed) else {
      Issue.record("a failure while dispatching must end the attempt")
      return
    }
    #expect(!failedEarly.dialed && failedEarly.finishes)
    guard case .advances(let answered) = CallLifecycle.transition(from: .dispatched, reported: .inProgress) else {
      Issue.record("dispatched → in_progress moves")
      return
    }
    #expect(answered.dialed && !answered.finishes)
  }

  @Test("a report guarded by a status the attempt has left is stale, whatever it says")
  func staleGuard() {
    #expect(CallLifecycle.transition(from: .completed, reported: .failed, onlyIfStatus: .ringing) == .stale)
    #expect(CallLifecycle.transition(from: .inProgress, reported: .failed, onlyIfStatus: .ringing) == .stale)
    #expect(
      CallLifecycle.transition(from: .ringing, reported: .failed, onlyIfStatus: .ringing)
        == .advances(.init(status: .failed, dialed: true)))
  }

  @Test("status classes partition the lifecycle as the contract says")
  func classes() {
    let all = CallStatus.allCases  // in lifecycle order
    #expect(
      all.filter(\.isTerminal) == [
        .completed, .noAnswer, .busy, .failed, .unreachable, .voicemail, .canceled, .suppressed,
      ])
    #expect(all.filter(\.isRetryable) == [.noAnswer, .busy, .failed, .unreachable, .voicemail])
    // Rank orders the lifecycle; every final status shares the last rank.
    #expect(CallStatus.allCases.prefix(6).map(\.rank) == Array(0...5))
    #expect(Set(all.filter(\.isTerminal).map(\.rank)) == [6])
    #expect(CallEvent.reportable.isDisjoint(with: [.scheduled, .initiated, .dispatching, .canceled]))
  }

  @Test(
    "a retry plan follows the policy, and only the chain's latest attempt earns one",
    arguments: [
      // (status, attempt, latest, delay, final, max)
      (CallStatus.noAnswer, 1, true, 60 as Int?, false, 3),
      (.noAnswer, 2, true, 300, false, 3),
      (.noAnswer, 3, true, nil, true, 3),
      (.busy, 1, true, 60, false, 3),
      (.failed, 1, true, nil, true, 3),  // not in retry_on
      (.completed, 1, true, nil, true, 3),
      (.noAnswer, 1, false, nil, false, 3),  // a later attempt exists: no fork, not final either
      (.noAnswer, 5, true, nil, true, 5),  // beyond the policy (the policy shrank): max is the attempt
    ])
  func retryPlans(
    _ status: CallStatus, _ attempt: Int, _ latest: Bool, _ delay: Int?, _ final: Bool, _ max: Int
  ) {
    let policy = RetryPolicy(maxAttempts: 3, retryOn: [.noAnswer, .busy], delaysSeconds: [60, 300])
    let plan = CallLifecycle.retryPlan(after: status, attemptNumber: attempt, isLatestInChain: latest, policy: policy)
    #expect(plan == .init(maxAttempts: max, delaySeconds: delay, isFinalAttempt: final))
  }

  @Test("voicemail earns a retry when the policy names it")
  func voicemailRetry() throws {
    let policy = try RetryPolicy(json: ["max_attempts": 2, "retry_on": ["voicemail"], "delays_seconds": [600]])
    let plan = CallLifecycle.retryPlan(after: .voicemail, attemptNumber: 1, isLatestInChain: true, policy: policy)
    #expect(plan == .init(maxAttempts: 2, delaySeconds: 600, isFinalAttempt: false))
  }

  @Test("without a policy every attempt is its chain's last")
  func noPolicy() {
    let plan = CallLifecycle.retryPlan(after: .noAnswer, attemptNumber: 2, isLatestInChain: true, policy: nil)
    #expect(plan == .init(maxAttempts: 2, delaySeconds: nil, isFinalAttempt: true))
  }

  @Test("delays: one per attempt, the last repeated, none means at once")
  func delays() {
    let policy = RetryPolicy(maxAttempts: 6, retryOn: [.busy], delaysSeconds: [10, 20])
    #expect((1...5).map { policy.retryDelay(after: .busy, attemptNumber: $0) } == [10, 20, 20, 20, 20])
    #expect(policy.retryDelay(after: .busy, attemptNumber: 6) == nil)
    #expect(
      RetryPolicy(maxAttempts: 2, retryOn: [.busy], delaysSeconds: []).retryDelay(after: .busy, attemptNumber: 1) == 0)
  }

  @Test("retry policy JSON: round trip, and each wrong shape refused with its message")
  func policyJSON() throws {
    let policy = RetryPolicy(maxAttempts: 3, retryOn: [.busy, .noAnswer], delaysSeconds: [60, 600])
    #expect(try RetryPolicy(json: policy.json) == policy)
    let refusals: [(JSONValue, String)] = [
      (["max_attempts": 0], "max_attempts must be an integer from 1 to 20"),
      (
        ["max_attempts": 2, "retry_on": ["completed"]],
        "retry_on takes no_answer, busy, failed, unreachable or voicemail"
      ),
      (["max_attempts": 2, "retry_on": "busy"], "retry_on must be an array of statuses"),
      (["max_attempts": 2, "delays_seconds": [-1]], "delays_seconds must be whole seconds, at most 30 days"),
    ]
    for (json, message) in refusals {
      #expect {
        try RetryPolicy(json: json)
      } throws: {
        ($0 as? SwitchboardError)?.message == "retry policy \(message)"
      }
    }
  }

  @Test("threading: collected data merges key by key, language and stage replace when given")
  func threading() {
    let chain = ThreadedState(collectedData: ["name": "Asha", "visits": 1], language: "hi-IN", stageID: "greeting")
    let joined = chain.threading(RetryContext(collectedData: ["visits": 2, "due": 1200], stageID: "negotiation"))
    #expect(
      joined
        == ThreadedState(
          collectedData: ["name": "Asha", "visits": 2, "due": 1200], language: "hi-IN", stageID: "negotiation"))
    #expect(chain.threading(nil) == chain)
    #expect(chain.threading(RetryContext(initialMessage: "hello")) == chain)
    // Nested objects are replaced whole, not merged (jsonb's ||).
    let nested = ThreadedState(collectedData: ["address": ["city": "Pune", "pin": "411001"]])
    #expect(
      nested.threading(RetryContext(collectedData: ["address": ["city": "Mumbai"]])).collectedData
        == ["address": ["city": "Mumbai"]])
  }

  @Test("the effective context carries the request's initial message, never a threaded one")
  func effective() {
    let state = ThreadedState(collectedData: [:], language: nil, stageID: "s")
    #expect(state.effectiveContext(initialMessage: nil) == RetryContext(collectedData: [:], stageID: "s"))
    #expect(
      state.effectiveContext(initialMessage: "Hi again")
        == RetryContext(collectedData: [:], initialMessage: "Hi again", stageID: "s"))
  }

  @Test("an event's collected data and stage thread into the chain; its language cannot")
  func recording() {
    let chain = ThreadedState(collectedData: ["a": 1], language: "en-US", stageID: nil)
    #expect(
      chain.recording(collectedData: ["b": 2], stageID: "close")
        == ThreadedState(collectedData: ["a": 1, "b": 2], language: "en-US", stageID: "close"))
    #expect(chain.recording(collectedData: nil, stageID: nil) == chain)
  }
}
