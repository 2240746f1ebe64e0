import Foundation
import PostgresNIO
import SwitchboardCore

/// Every write of an attempt's status, one named transition each: the one place a status
/// changes. Core's lifecycle (`CallStatus`, `CallLifecycle`) decides which moves a report may
/// make; each statement here is guarded by the statuses it moves from, so a move that lost a
/// race (another replica, a cancel, a lapsed lease) changes nothing.
///
/// | transition    | from                                           | to                     | here / in SQL |
/// |---------------|------------------------------------------------|------------------------|---------------|
/// | accept        | (new)                                          | initiated, scheduled   | `switchboard_append_attempt` (intake, retries), `switchboard_add_batch_recipients` |
/// | claim         | scheduled, initiated when due; dispatching with a lapsed lease | dispatching | ``claim(owner:limit:leaseSeconds:)`` |
/// | admit         | dispatching (its batch canceled)               | canceled               | `switchboard_admit_dispatch` |
/// | postpone      | dispatching (this lease)                       | initiated, scheduled   | ``postpone(_:until:reason:)`` (a compliance deferral records its reason) |
/// | suppress      | dispatching (this lease), admission found the number suppressed | suppressed | ``suppress(_:reason:)`` |
/// | suppress      | waiting, or a lapsed claim, of a number just suppressed | suppressed  | `switchboard_end_suppressed` (a suppression's write and settle, an opt-out) |
/// | dispatched    | dispatching (this lease)                       | dispatched             | ``dispatched(_:)`` |
/// | report        | forward by rank (`CallLifecycle.transition`)   | the reported status    | ``report(_:advance:traceID:tenantID:)``; the reaper ends silent attempts through a report |
/// | cancel        | scheduled, initiated                           | canceled               | ``cancel(traceID:tenantID:)`` |
/// | batch cancel  | a batch's waiting, or claimed and not admitted | canceled               | ``cancelWaiting(ofBatch:tenantID:)`` |
///
/// Which of initiated and scheduled an attempt waits in is `switchboard_waiting_status`, for
/// accept and postpone alike.
enum AttemptTransitions {
  /// Claims up to `limit` due attempts across tenants under a lease (`FOR UPDATE SKIP LOCKED`):
  /// single calls and lapsed leases first, then open batches' attempts, each batch up to its free
  /// capacity. A pending batch whose attempt is claimed starts running here (the one batch write
  /// outside ``BatchTransitions``, in the same statement). Answers the claimed attempts' rows.
  static func claim(owner: String, limit: Int, leaseSeconds: Double) -> PostgresQuery {
    """
    WITH single AS (
      -- Single calls first (and any lease that lapsed): no batch stands in front of them.
      SELECT tenant_id, trace_id FROM call_attempts
      WHERE (status = ANY(switchboard_due_statuses()) AND batch_id IS NULL AND due_at <= now())
        OR (status = 'dispatching' AND lease_expires_at <= now() AND (batch_id IS NULL OR EXISTS (
          -- A paused or canceled batch's lapsed claim waits for resume, or cancel ends it.
          SELECT 1 FROM batches b WHERE b.tenant_id = call_attempts.tenant_id
            AND b.batch_id = call_attempts.batch_id AND b.status = ANY(switchboard_open_batch_statuses()))))
      ORDER BY due_at LIMIT \(limit)
      FOR UPDATE SKIP LOCKED
    ), batched AS (
      -- Then open batches' attempts, each batch up to its free capacity (admission checks again).
      SELECT x.tenant_id, x.trace_id, b.batch_id, b.status
      FROM batches b
      CROSS JOIN LATERAL (
        SELECT a.tenant_id, a.trace_id FROM call_attempts a
        WHERE a.tenant_id = b.tenant_id AND a.batch_id = b.batch_id
          AND a.status = ANY(switchboard_due_statuses()) AND a.due_at <= now()
        ORDER BY a.due_at
        LIMIT CASE WHEN b.max_concurrency IS NULL THEN \(limit) ELSE greatest(0, b.max_concurrency - (
          SELECT count(*) FROM call_attempts n
          WHERE n.tenant_id = b.tenant_id AND n.batch_id = b.batch_id
            AND n.status = ANY(switchboard_active_statuses()))) END
        FOR UPDATE SKIP LOCKED
      ) x
      WHERE b.status = ANY(switchboard_open_batch_statuses()) AND coalesce(b.scheduled_for, b.created_at) <= now()
      LIMIT greatest(0, \(limit) - (SELECT count(*) FROM single))
    ), started AS (
      -- A batch is running from its first claim.
      UPDATE batches b SET status = 'running', updated_at = now()
      FROM (SELECT DISTINCT tenant_id, batch_id FROM batched WHERE status = 'pending') s
      WHERE b.tenant_id = s.tenant_id AND b.batch_id = s.batch_id AND b.status = 'pending'
    ), due AS (
      SELECT tenant_id, trace_id FROM single UNION ALL SELECT tenant_id, trace_id FROM batched
    ), claimed AS (
      UPDATE call_attempts a SET status = 'dispatching', lease_owner = \(owner),
        lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), updated_at = now()
      FROM due WHERE a.tenant_id = due.tenant_id AND a.trace_id = due.trace_id
      RETURNING a.*
    )
    SELECT c.tenant_id, c.trace_id, c.conversation_id, c.attempt_number, c.agent_id, coalesce(g.phone_number, ''),
      c.customer_phone, c.parameters::text, c.metadata, c.effective_retry_context::text, c.scheduled_for,
      c.scheduled_for IS NOT NULL AND c.limits_charged_at IS NULL, g.calling_window::text, c.due_at, c.traceparent,
      -- Admission checks compliance when a rule may apply: caps, or an entry for the number.
      coalesce(g.contact_limits, t.contact_limits) IS NOT NULL OR EXISTS (
        SELECT 1 FROM suppressions s WHERE s.tenant_id = c.tenant_id AND s.phone_number = c.customer_phone
          AND s.agent_id IN (0, c.agent_id) AND (s.expires_at IS NULL OR s.expires_at > now())),
      -- Recipient hours, which the dispatcher checks beside the calling window.
      coalesce(g.recipient_hours, t.recipient_hours)::text, c.recipient_timezone, t.unknown_timezone, t.timezone
    FROM claimed c LEFT JOIN agents g ON g.tenant_id = c.tenant_id AND g.agent_id = c.agent_id
      LEFT JOIN tenants t ON t.tenant_id = c.tenant_id
    """
  }

  /// Gives a claimed attempt back, due again at `until`, in the status it waited in. A
  /// compliance deferral (`reason`) is recorded on the attempt and as an event.
  static func postpone(_ attempt: ClaimedAttempt, until: Date, reason: BlockedReason?) -> PostgresQuery {
    """
    WITH moved AS (
      UPDATE call_attempts SET status = switchboard_waiting_status(scheduled_for),
        due_at = \(until), lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
        blocked_reason = coalesce(\(reason?.rawValue), blocked_reason)
      WHERE tenant_id = \(attempt.request.tenantID) AND trace_id = \(attempt.request.traceID)
        AND status = 'dispatching' AND lease_owner = \(attempt.leaseOwner)
      RETURNING tenant_id, trace_id, status
    )
    INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason, deferred_until)
    SELECT tenant_id, trace_id, 'deferred-' || switchboard_uuid_v7(), status, \(reason?.rawValue), \(until)
    FROM moved WHERE \(reason?.rawValue)::text IS NOT NULL
    """
  }

  /// Admission found the claimed attempt's number suppressed: it ends `suppressed`, with its
  /// reason and an event. Answers it when it did.
  static func suppress(_ attempt: ClaimedAttempt, reason: BlockedReason) -> PostgresQuery {
    """
    WITH ended AS (
      UPDATE call_attempts SET status = 'suppressed', ended_at = now(), updated_at = now(),
        lease_owner = NULL, lease_expires_at = NULL, blocked_reason = \(reason.rawValue)
      WHERE tenant_id = \(attempt.request.tenantID) AND trace_id = \(attempt.request.traceID)
        AND status = 'dispatching' AND lease_owner = \(attempt.leaseOwner)
      RETURNING tenant_id, trace_id
    ), logged AS (
      INSERT INTO call_events (tenant_id, trace_id, event_id, status, blocked_reason)
      SELECT tenant_id, trace_id, 'suppressed-' || trace_id, 'suppressed', \(reason.rawValue) FROM ended
    )
    SELECT trace_id FROM ended
    """
  }

  /// The dialer took these attempts (the records of a couple of milliseconds, together), unless
  /// a report or another lease got there first.
  static func dispatched(_ attempts: [ClaimedAttempt]) -> PostgresQuery {
    """
    UPDATE call_attempts a SET status = 'dispatched', dispatched_at = coalesce(a.dispatched_at, now()),
      lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(\(attempts.map(\.request.tenantID)), \(attempts.map(\.request.traceID)),
      \(attempts.map(\.leaseOwner))) AS d(tenant_id, trace_id, lease_owner)
    WHERE a.tenant_id = d.tenant_id AND a.trace_id = d.trace_id AND a.status = 'dispatching'
      AND a.lease_owner = d.lease_owner
    """
  }

  /// A report: the move Core allowed (`advance`, under the attempt's row lock), if any, and what
  /// the report says of the call (a transcript so far, or after the end the recording).
  static func report(
    _ event: CallEvent, advance: CallLifecycle.Advance?, traceID: UUID, tenantID: Int64
  ) -> PostgresQuery {
    let moves = advance != nil
    return """
      UPDATE call_attempts SET status = coalesce(\(advance?.status.rawValue), status), updated_at = now(),
        dispatched_at = CASE WHEN NOT \(moves) THEN dispatched_at
          WHEN \(advance?.dialed ?? false) THEN coalesce(dispatched_at, now()) END,
        ended_at = CASE WHEN NOT \(moves) THEN ended_at WHEN \(advance?.finishes ?? false) THEN now() END,
        lease_owner = CASE WHEN NOT \(moves) THEN lease_owner END,
        lease_expires_at = CASE WHEN NOT \(moves) THEN lease_expires_at END,
        results = coalesce(\(event.results.map { JSONValue.object($0).encoded() })::jsonb, results),
        duration_seconds = coalesce(\(event.durationSeconds), duration_seconds),
        failure_reason = coalesce(\(event.failureReason), failure_reason),
        transcript = coalesce(\(event.transcriptJSON)::jsonb, transcript),
        recording_url = coalesce(\(event.recordingURL), recording_url),
        answered_by = coalesce(\(event.answeredBy?.rawValue), answered_by),
        failure_type = coalesce(\(event.failureType?.rawValue), failure_type)
      WHERE tenant_id = \(tenantID) AND trace_id = \(traceID)
      """
  }

  /// CancelCall: an attempt not yet handed to a dispatcher ends `canceled`. Answers the attempt's
  /// row when it did.
  static func cancel(traceID: UUID, tenantID: Int64) -> PostgresQuery {
    """
    UPDATE call_attempts a SET status = 'canceled', ended_at = now(), updated_at = now(),
      lease_owner = NULL, lease_expires_at = NULL
    WHERE a.tenant_id = \(tenantID) AND a.trace_id = \(traceID) AND a.status = ANY(switchboard_cancelable_statuses())
    RETURNING \(unescaped: AttemptRow.columns)
    """
  }

  /// A batch's cancel (under the batch's row lock): each attempt not yet with the dialer ends
  /// `canceled`: waiting, claimed but not admitted (admission would see the cancel anyway), or
  /// claimed by a dispatcher whose lease lapsed. Admitted attempts are in flight and finish.
  /// Answers the chains it ended.
  static func cancelWaiting(ofBatch id: Int64, tenantID: Int64) -> PostgresQuery {
    """
    UPDATE call_attempts SET status = 'canceled', ended_at = now(), updated_at = now(),
      lease_owner = NULL, lease_expires_at = NULL
    WHERE tenant_id = \(tenantID) AND batch_id = \(id)
      AND (status = ANY(switchboard_cancelable_statuses())
        OR (status = 'dispatching' AND (limits_charged_at IS NULL OR lease_expires_at <= now())))
    RETURNING conversation_id
    """
  }
}
