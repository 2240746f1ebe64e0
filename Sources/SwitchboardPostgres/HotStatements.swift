import Foundation
import PostgresNIO

// The two statements of every MakeCall, prepared once per connection: parsing and planning them
// on each call cost PostgreSQL more CPU than running them.

/// The tenant of a live API key, by the key's SHA-256.
struct AuthenticateStatement: PostgresPreparedStatement {
  static let sql = """
    SELECT t.tenant_id, t.name, t.number_rate_limit, t.number_rate_period_seconds, t.number_rate_burst,
      t.max_concurrent_calls
    FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
    WHERE k.key_hash = decode($1, 'hex') AND k.revoked_at IS NULL
    """
  static let bindingDataTypes: [PostgresDataType] = [.text]
  typealias Row = (Int64, String, Int, Int, Int?, Int)

  let keyHashHex: String

  func makeBindings() -> PostgresBindings {
    var bindings = PostgresBindings(capacity: 1)
    bindings.append(keyHashHex)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// `switchboard_accept_call`: the whole stateful half of MakeCall in one statement.
struct AcceptCallStatement: PostgresPreparedStatement {
  static let sql = """
    SELECT outcome, trace_id, conversation_id, attempt_number, status, scheduled_for, agent_id,
      rate_remaining, rate_reset_seconds, retry_after_seconds, current_calls
    FROM switchboard_accept_call($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::jsonb, $13, $14, $15,
      $16, $17)
    """
  static let bindingDataTypes: [PostgresDataType] = [
    .int8, .int8, .uuid, .uuid, .uuid, .int4, .text, .text, .text, .text, .int4, .text, .timestamptz, .int4, .int4,
    .int4, .int4,
  ]
  typealias Row = (String, UUID?, UUID?, Int?, String?, Date?, Int64?, Int?, Double?, Double?, Int?)

  var tenantID: Int64
  var agentID: Int64
  var traceID: UUID
  var newConversationID: UUID
  var conversationID: UUID?
  var conversationAttempt: Int32?
  var customerPhone: String
  var parameters: String
  var metadata: String?
  var idempotencyKey: String?
  var idempotencyRetentionSeconds: Int32
  var retryContext: String?
  var scheduledFor: Date?
  var rateLimit: Int32
  var ratePeriodSeconds: Int32
  var rateBurst: Int32
  var maxConcurrentCalls: Int32

  func makeBindings() -> PostgresBindings {
    var bindings = PostgresBindings(capacity: 17)
    bindings.append(tenantID)
    bindings.append(agentID)
    bindings.append(traceID)
    bindings.append(newConversationID)
    bindings.append(conversationID)
    bindings.append(conversationAttempt)
    bindings.append(customerPhone)
    bindings.append(parameters)
    bindings.append(metadata)
    bindings.append(idempotencyKey)
    bindings.append(idempotencyRetentionSeconds)
    bindings.append(retryContext)
    bindings.append(scheduledFor)
    bindings.append(rateLimit)
    bindings.append(ratePeriodSeconds)
    bindings.append(rateBurst)
    bindings.append(maxConcurrentCalls)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
