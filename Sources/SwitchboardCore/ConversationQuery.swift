import Foundation

// What `ListConversations` takes and answers: its filters, its paging, its page.

/// Which chains `ListConversations` answers: every filter given must hold.
public struct ConversationFilter: Sendable, Hashable {
  public var agentID: Int64?
  /// Chains a batch created.
  public var batchID: Int64?
  /// The status of the chain's latest attempt.
  public var status: CallStatus?
  /// The number the chain calls (its first attempt's), E.164.
  public var customerPhone: String?
  /// Chains created at or after this time.
  public var createdAfter: Date?
  /// Chains created before this time.
  public var createdBefore: Date?

  public init(
    agentID: Int64? = nil, batchID: Int64? = nil, status: CallStatus? = nil, customerPhone: String? = nil,
    createdAfter: Date? = nil, createdBefore: Date? = nil
  ) {
    self.agentID = agentID
    self.batchID = batchID
    self.status = status
    self.customerPhone = customerPhone
    self.createdAfter = createdAfter
    self.createdBefore = createdBefore
  }

  /// The filters as the query string spells them; each bad one is a 400 that names it.
  public init(
    agentID: String?, batchID: String?, status: String?, customerPhone: String?, createdAfter: String?,
    createdBefore: String?
  ) throws(SwitchboardError) {
    func id(_ text: String?, _ name: String) throws(SwitchboardError) -> Int64? {
      guard let text else { return nil }
      guard let value = Int64(text) else { throw .invalid("\(name) must be a positive integer") }
      return value
    }
    func time(_ text: String?, _ name: String) throws(SwitchboardError) -> Date? {
      guard let text else { return nil }
      guard let date = Timestamp.parse(text) else {
        throw .invalid("\(name) must be an ISO 8601 date-time with an offset, like 2026-04-08T14:00:00Z")
      }
      return date
    }
    self.init(
      agentID: try id(agentID, "agent_id"), batchID: try id(batchID, "batch_id"),
      status: try status.map { text throws(SwitchboardError) in
        guard let status = CallStatus(rawValue: text) else { throw Self.unknownStatus }
        return status
      }, customerPhone: customerPhone, createdAfter: try time(createdAfter, "created_after"),
      createdBefore: try time(createdBefore, "created_before"))
  }

  /// The answer to a status this build does not know.
  public static var unknownStatus: SwitchboardError {
    .invalid("status must be one of \(CallStatus.allCases.map(\.rawValue).joined(separator: ", "))")
  }

  /// Checks what the types allow but the contract does not.
  public func validated() throws(SwitchboardError) -> ConversationFilter {
    if let agentID, agentID <= 0 { throw .invalid("agent_id must be a positive integer") }
    if let batchID, batchID <= 0 { throw .invalid("batch_id must be a positive integer") }
    if let createdAfter { _ = try Timestamp.checked(createdAfter, "created_after") }
    if let createdBefore { _ = try Timestamp.checked(createdBefore, "created_before") }
    if let customerPhone, !PhoneNumber.isE164(customerPhone) {
      throw .invalid("customer_phone must be an E.164 phone number")
    }
    if let createdAfter, let createdBefore, createdAfter >= createdBefore {
      throw .invalid("created_after must be before created_before")
    }
    return self
  }
}

/// Where a page of chains ends: the last chain's creation time (microseconds, as stored) and id.
/// Clients get it as opaque text (`next_cursor`) and send it back as `cursor`.
public struct ConversationCursor: Sendable, Hashable {
  public var createdAtMicroseconds: Int64
  public var conversationID: UUID

  public init(createdAtMicroseconds: Int64, conversationID: UUID) {
    self.createdAtMicroseconds = createdAtMicroseconds
    self.conversationID = conversationID
  }

  /// `c1.<microseconds>.<conversation id>`, base64url without padding.
  public var encoded: String {
    let text = "c1.\(createdAtMicroseconds).\(conversationID.lowercased)"
    return Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }

  /// Reads what ``encoded`` wrote; anything else is a 400 naming `cursor`.
  public init(encoded text: String) throws(SwitchboardError) {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard text.utf8.count <= 128, let data = Data(base64Encoded: base64),
      case let parts = String(decoding: data, as: UTF8.self).split(separator: ".", omittingEmptySubsequences: false),
      parts.count == 3, parts[0] == "c1", let micros = Int64(parts[1]), micros >= 0,
      Timestamp.supported.contains(Date(timeIntervalSince1970: Double(micros) / 1_000_000)),
      let id = UUID(uuidString: String(parts[2]))
    else { throw .invalid("cursor is not a next_cursor this service returned") }
    self.init(createdAtMicroseconds: micros, conversationID: id)
  }
}

/// How a listing pages: `limit` 1…100 (default 20), then either `offset` ≥ 0 or a `cursor`; and
/// whether to count every chain the filters match (`include_total`), which costs a pass over them.
public struct ConversationPaging: Sendable, Hashable {
  public var limit: Int
  public var offset: Int
  public var cursor: ConversationCursor?
  public var includeTotal: Bool

  public init(limit: Int, offset: Int = 0, cursor: ConversationCursor? = nil, includeTotal: Bool = false) {
    self.limit = limit
    self.offset = offset
    self.cursor = cursor
    self.includeTotal = includeTotal
  }

  public static func checked(
    limit: Int?, offset: Int?, cursor: String?, includeTotal: Bool = false
  ) throws(SwitchboardError) -> ConversationPaging {
    let bounds = try PageBounds.checked(limit: limit, offset: offset)
    var paging = ConversationPaging(limit: bounds.limit, offset: bounds.offset, includeTotal: includeTotal)
    if let cursor {
      if let offset, offset != 0 { throw .invalid("cursor and offset cannot be used together") }
      paging.cursor = try ConversationCursor(encoded: cursor)
    }
    return paging
  }
}

/// One page of `ListConversations`.
public struct ConversationPage: Sendable, Hashable {
  public var conversations: [ConversationChain]
  public var hasMore: Bool
  /// Chains matching the filters, when the request asked for the count (`include_total`).
  public var total: Int?
  /// Where the next page starts; `nil` on the last page.
  public var nextCursor: ConversationCursor?

  public init(conversations: [ConversationChain], hasMore: Bool, total: Int?, nextCursor: ConversationCursor?) {
    self.conversations = conversations
    self.hasMore = hasMore
    self.total = total
    self.nextCursor = nextCursor
  }
}
