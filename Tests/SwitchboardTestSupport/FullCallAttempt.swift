import Foundation
import SwitchboardCore

/// A `CallAttempt` for the field-list tests of every boundary.
extension CallAttempt {
  /// Every field set, none at its default, times in whole seconds (what every boundary keeps).
  package static let full: CallAttempt = {
    var attempt = CallAttempt(
      traceID: UUID.v7(), conversationID: UUID.v7(), attemptNumber: 2, agentID: 7, status: .completed,
      customerPhone: "+919876543210",
      parameters: [
        CallParameter(name: "customer_phone", value: "+919876543210"), CallParameter(name: "n", value: "v"),
      ],
      metadata: "meta", idempotencyKey: "key-1",
      retryContext: RetryContext(collectedData: ["a": 1], initialMessage: "hi", language: "hi-IN", stageID: "s1"),
      effectiveRetryContext: RetryContext(
        collectedData: ["a": 1, "b": "x"], initialMessage: "hi", language: "hi-IN", stageID: "s1"),
      scheduledFor: Date(timeIntervalSince1970: 1_796_032_800), createdAt: Date(timeIntervalSince1970: 1_796_032_000),
      updatedAt: Date(timeIntervalSince1970: 1_796_032_900), dispatchedAt: Date(timeIntervalSince1970: 1_796_032_801),
      endedAt: Date(timeIntervalSince1970: 1_796_032_890), failureReason: "none", results: ["paid": true],
      durationSeconds: 88.5, batchID: 12)
    attempt.transcript = [
      TranscriptTurn(role: .agent, message: "Hello, Rahul?"), TranscriptTurn(role: .human, message: "Yes."),
    ]
    attempt.recordingURL = "https://recordings.example/r/1.mp3"
    attempt.answeredBy = .human
    attempt.failureType = .other
    attempt.blockedReason = .contactLimit
    return attempt
  }()

  /// `CallAttempt`'s stored properties in snake case: what each boundary must carry.
  package static var fields: Set<String> {
    Set(
      Mirror(reflecting: full).children.compactMap(\.label).map { label in
        label.replacingOccurrences(of: "ID", with: "Id").replacingOccurrences(of: "URL", with: "Url").reduce(into: "") {
          name, character in
          if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
      })
  }

}
