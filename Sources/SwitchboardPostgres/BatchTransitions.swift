import Foundation
import PostgresNIO
import SwitchboardCore

/// Every write of a batch's status, one named transition each. Core decides the move
/// (`BatchAction`: from which statuses, to which); these statements make it.
///
/// | transition | from                 | to                 | where |
/// |------------|----------------------|--------------------|-------|
/// | create     | (new)                | pending            | `switchboard_create_batch` |
/// | start      | pending              | running            | the first claim of its attempts, ``AttemptTransitions/claim(owner:limit:leaseSeconds:)`` |
/// | pause, resume, cancel | `BatchAction.from` | `BatchAction.target(startHasCome:)` | ``move(_:tenantID:to:)``, under the batch's row lock |
/// | complete   | pending, running, every chain final | completed | ``complete(_:)`` |
enum BatchTransitions {
  /// A client's action, decided by Core under the batch's row lock.
  static func move(_ id: Int64, tenantID: Int64, to next: BatchStatus) -> PostgresQuery {
    """
    UPDATE batches SET status = \(next.rawValue), updated_at = now(),
      completed_at = CASE WHEN \(next == .canceled) THEN now() END
    WHERE tenant_id = \(tenantID) AND batch_id = \(id)
    """
  }

  /// An open batch whose every chain is final completes (checked again in the statement).
  static func complete(_ key: BatchKey) -> PostgresQuery {
    """
    UPDATE batches b SET status = 'completed', completed_at = now(), updated_at = now()
    WHERE b.tenant_id = \(key.tenantID) AND b.batch_id = \(key.batchID)
      AND b.status = ANY(switchboard_open_batch_statuses()) AND \(unescaped: finished)
    RETURNING b.batch_id
    """
  }

  /// No attempt of batch `b` waiting or active: every chain is final (a chain's retry is written
  /// with the outcome that earns it).
  static let finished = """
    NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.tenant_id = b.tenant_id AND a.batch_id = b.batch_id
      AND a.status = ANY(switchboard_due_statuses()))
    AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.tenant_id = b.tenant_id AND a.batch_id = b.batch_id
      AND a.status = ANY(switchboard_active_statuses()))
    """
}
