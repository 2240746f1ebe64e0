import Foundation

/// A way to name a chain: its id, or `<conversation_id>_<n>` (attempt n of the chain), which
/// means the same chain.
public struct ConversationReference: Sendable, Hashable, CustomStringConvertible {
  public var conversationID: UUID
  /// The attempt named by the `_<n>` suffix; it must exist.
  public var attemptNumber: Int?

  public init(conversationID: UUID, attemptNumber: Int? = nil) {
    self.conversationID = conversationID
    self.attemptNumber = attemptNumber
  }

  /// Parses `uuid` or `uuid_n`; `nil` when the text is neither.
  public init?(_ text: String) {
    if let id = UUID(uuidString: text) {
      self.init(conversationID: id)
      return
    }
    guard let separator = text.lastIndex(of: "_"),
      let id = UUID(uuidString: String(text[..<separator])),
      let attempt = Int(text[text.index(after: separator)...]), attempt > 0,
      // Attempt numbers are stored as 32-bit integers: a larger one names no attempt.
      attempt <= Int(Int32.max)
    else { return nil }
    self.init(conversationID: id, attemptNumber: attempt)
  }

  public var description: String {
    let id = conversationID.uuidString.lowercased()
    return attemptNumber.map { "\(id)_\($0)" } ?? id
  }
}
