import Foundation
import PostgresNIO

// The statements of MakeCall, prepared once per connection: parsing and planning them on each
// call cost PostgreSQL more CPU than running them.

/// The tenant of a live API key, by the key's SHA-256.
struct AuthenticateStatement: PostgresPreparedStatement {
  static let sql = """
    SELECT t.tenant_id, t.name
    FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
    WHERE k.key_hash = decode($1, 'hex') AND k.revoked_at IS NULL
    """
  static let bindingDataTypes: [PostgresDataType] = [.text]
  typealias Row = (Int64, String)

  let keyHashHex: String

  func makeBindings() -> PostgresBindings {
    var bindings = PostgresBindings(capacity: 1)
    bindings.append(keyHashHex)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// `switchboard_accept_calls`: the whole stateful half of MakeCall, for a batch of calls, in one
/// statement.
struct AcceptCallsStatement: PostgresPreparedStatement {
  static let sql = """
    SELECT c.ordinal, c.rate_limit, c.max_calls, \(Appended.columns(of: "(c.appended)"))
    FROM switchboard_accept_calls($1::jsonb, $2) c
    """
  static let bindingDataTypes: [PostgresDataType] = [.text, .int4]

  /// One call's answer: its place in the statement's calls, what the append did, and its
  /// tenant's limits (for the rate-limit headers and the concurrency refusal).
  struct Row: Sendable {
    var ordinal: Int
    var appended: Appended
    var rateLimit: Int?
    var maxCalls: Int?
  }

  /// The JSON array of calls (see the function's comment for its members).
  var calls: String
  var idempotencyRetentionSeconds: Int32

  func makeBindings() -> PostgresBindings {
    var bindings = PostgresBindings(capacity: 2)
    bindings.append(calls)
    bindings.append(idempotencyRetentionSeconds)
    return bindings
  }

  func decodeRow(_ row: PostgresRow) throws -> Row {
    let columns = row.makeRandomAccess()
    return Row(
      ordinal: try columns["ordinal"].decode(Int.self), appended: try Appended(columns),
      rateLimit: try columns["rate_limit"].decode(Int?.self), maxCalls: try columns["max_calls"].decode(Int?.self))
  }
}
