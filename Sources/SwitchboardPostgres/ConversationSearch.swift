import Foundation
import PostgresNIO
import SwitchboardCore

/// The statements of `ListConversations`: only the filters given, so each combination gets the
/// plan of its own index (migration 0013), and chains in one order, newest first by
/// `(created_at, conversation_id)`, which the cursor continues.
///
/// Without a status filter the chains drive the query. With one, the attempts with that status
/// do (`call_attempts_chain_status`, in the same order by `chain_created_at`), and the join keeps
/// the attempt that is its chain's latest.
struct ConversationSearch {
  private var conditions: [String] = []
  private var binds = PostgresBindings()
  private let from: String
  private let order: (createdAt: String, id: String)

  init(tenantID: Int64, filter: ConversationFilter) throws {
    if let status = filter.status {
      from = """
        FROM call_attempts latest JOIN conversations c ON c.tenant_id = latest.tenant_id
          AND c.conversation_id = latest.conversation_id AND c.attempt_count = latest.attempt_number
        """
      order = ("latest.chain_created_at", "latest.conversation_id")
      try add("latest.tenant_id = $", tenantID)
      try add("latest.status = $", status.rawValue)
    } else {
      from = "FROM conversations c \(ChainRow.latestJoin)"
      order = ("c.created_at", "c.conversation_id")
      try add("c.tenant_id = $", tenantID)
    }
    if let agentID = filter.agentID { try add("c.agent_id = $", agentID) }
    if let batchID = filter.batchID { try add("c.batch_id = $", batchID) }
    if let phone = filter.customerPhone { try add("c.customer_phone = $", phone) }
    if let after = filter.createdAfter { try add("\(order.createdAt) >= $", after) }
    if let before = filter.createdBefore { try add("\(order.createdAt) < $", before) }
  }

  /// Appends `condition`, each `$` in it replaced by the next parameter, bound to the next value.
  private mutating func add(_ condition: String, _ values: any PostgresThrowingDynamicTypeEncodable...) throws {
    var parts = condition.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
    precondition(parts.count == values.count + 1, "one value for each $ in \(condition)")
    var text = parts.removeFirst()
    for (value, part) in zip(values, parts) {
      try binds.append(value)
      text += "$\(binds.count)" + part
    }
    conditions.append(text)
  }

  private var whereClause: String { "WHERE " + conditions.joined(separator: " AND ") }

  /// Chains matching the filters (offset pages report it as `total`).
  var count: PostgresQuery {
    PostgresQuery(unsafeSQL: "SELECT count(*) \(from) \(whereClause)", binds: binds)
  }

  /// One page, and one chain more to tell whether another page follows.
  func page(_ paging: ConversationPaging) throws -> PostgresQuery {
    var search = self
    if let cursor = paging.cursor {
      // The cursor's time, microsecond for microsecond as stored (a Date would round it).
      try search.add(
        "(\(order.createdAt), \(order.id)) < (timestamptz 'epoch' + $ * interval '1 microsecond', $)",
        cursor.createdAtMicroseconds, cursor.conversationID)
    }
    return PostgresQuery(
      unsafeSQL: """
        SELECT \(ChainRow.columns) \(search.from) \(search.whereClause)
        ORDER BY \(order.createdAt) DESC, \(order.id) DESC LIMIT \(paging.limit + 1) OFFSET \(paging.offset)
        """, binds: search.binds)
  }
}
