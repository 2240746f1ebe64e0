import _ConnectionPoolModule

// The one use of a library surface not meant for production in this module.
//
// `_ConnectionPoolModule` (postgres-nio 1.33) is an underscored product: PostgresClient is built
// on its ConnectionPool (vapor/postgres-nio#430) and throws its `ConnectionPoolError` (a lease
// that timed out, a pool shut down), which PostgresNIO does not re-export. Telling those apart
// from other errors is what makes them a 503 (not now) rather than a 500. If a release renames
// or wraps the type, `PoolErrorTests` fails: it shuts a pool down and expects this to recognise
// what a query on it throws.
enum PoolErrors {
  /// The pool could not lease a connection in time, or is shutting down.
  static func isPoolError(_ error: any Error) -> Bool { error is ConnectionPoolError }
}
