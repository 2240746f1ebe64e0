/// The rows a shared background sweep (the reaper, batch completion) failed on, set aside for a
/// while so that one tenant's bad row cannot hold up the sweep for every other tenant: the next
/// looks leave it out, and it is tried again after a wait that doubles with each failure, from
/// ``initialWait`` up to ``maximumWait``. A success forgets it.
///
/// The caller passes the time, so a test can move it.
public struct SweepQuarantine<Key: Hashable & Sendable>: Sendable {
  public var initialWait: Duration
  public var maximumWait: Duration
  /// Keys kept at most; past it the one released soonest is forgotten (it is merely retried).
  public var capacity: Int

  private var entries: [Key: (until: ContinuousClock.Instant, wait: Duration)] = [:]

  public init(initialWait: Duration = .seconds(30), maximumWait: Duration = .seconds(1800), capacity: Int = 10_000) {
    self.initialWait = initialWait
    self.maximumWait = maximumWait
    self.capacity = capacity
  }

  /// `key` failed at `now`: left out until its wait passes.
  public mutating func failed(_ key: Key, now: ContinuousClock.Instant) {
    let wait = entries[key].map { min($0.wait * 2, maximumWait) } ?? initialWait
    entries[key] = (now + wait, wait)
    if entries.count > capacity, let soonest = entries.min(by: { $0.value.until < $1.value.until })?.key {
      entries[soonest] = nil
    }
  }

  public mutating func succeeded(_ key: Key) {
    entries[key] = nil
  }

  /// The keys to leave out of a look at `now`. A key whose wait has passed is tried again (and
  /// waits twice as long if it fails again).
  public func excluded(now: ContinuousClock.Instant) -> [Key] {
    entries.compactMap { $0.value.until > now ? $0.key : nil }
  }

  /// Keys set aside now or before (for logs and tests).
  public var count: Int { entries.count }
}
