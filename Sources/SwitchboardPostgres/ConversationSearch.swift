import Foundation
import PostgresNIO
import SwitchboardCore

/// The statements of `ListConversations`: only the filters given, so each combination gets the
/// plan of its own index (migration 0013), and chains in one order, newest first by
/// `(created_at, conversation_id)`, which the cursor continues.
///
/// Without a status filter the chains drive the query; with one, the latest attempts with that
/// status do (`call_attempts_chain_status`: one entry per chain, in the same order by
/// `chain_created_at`), joined to their chains only when a chain's column is filtered too. Either
/// way a page's keys are found first, and only its rows are read whole.
struct ConversationSearch {
  private var conditions: [String] = []
  private var binds = PostgresBindings()
  private let byStatus: Bool
  private var chainFiltered = false
  private let order: (createdAt: String, id: String)

  init(tenantID: Int64, filter: ConversationFilter) throws {
    if let status = filter.status {
      byStatus = true
      order = ("latest.chain_created_at", "latest.conversation_id")
      try add("latest.tenant_id = $", tenantID)
      conditions.append("latest.is_latest")
      try add("latest.status = $", status.rawValue)
    } else {
      byStatus = false
      order = ("c.created_at", "c.conversation_id")
      try add("c.tenant_id = $", tenantID)
    }
    if let agentID = filter.agentID { try addChain("c.agent_id = $", agentID) }
    if let batchID = filter.batchID { try addChain("c.batch_id = $", batchID) }
    if let phone = filter.customerPhone { try addChain("c.customer_phone = $", phone) }
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

  /// A condition on a column of `conversations`.
  private mutating func addChain(_ condition: String, _ value: any PostgresThrowingDynamicTypeEncodable) throws {
    try add(condition, value)
    chainFiltered = true
  }

  /// The rows the filters select from: chains, or latest attempts (with their chains when needed).
  private var from: String {
    guard byStatus else { return "conversations c" }
    guard chainFiltered else { return "call_attempts latest" }
    return "call_attempts latest JOIN conversations c USING (tenant_id, conversation_id)"
  }

  private var whereClause: String { "WHERE " + conditions.joined(separator: " AND ") }

  /// Chains matching the filters (`total`, when asked for).
  var count: PostgresQuery {
    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(from) \(whereClause)", binds: binds)
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
    let keys = """
      SELECT \(order.id) AS conversation_id, \(order.createdAt) AS created FROM \(from) \(search.whereClause)
      ORDER BY \(order.createdAt) DESC, \(order.id) DESC LIMIT \(paging.limit + 1) OFFSET \(paging.offset)
      """
    // $1 is the tenant: the first condition of both kinds.
    return PostgresQuery(
      unsafeSQL: """
        SELECT \(ChainRow.columns)
        FROM (\(keys)) page JOIN conversations c ON c.tenant_id = $1 AND c.conversation_id = page.conversation_id
          \(ChainRow.latestJoin)
        ORDER BY page.created DESC, page.conversation_id DESC
        """, binds: search.binds)
  }
}
