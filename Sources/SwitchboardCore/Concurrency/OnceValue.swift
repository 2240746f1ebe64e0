/// A value learned once (a listener's bound port), which any number of tasks await: those
/// waiting when it is set, and those that ask after. Setting `nil` says it will never come (the
/// listener failed to bind), and wakes every waiter with `nil` rather than leaving them waiting.
public actor OnceValue<Value: Sendable> {
  private var settled = false
  private var stored: Value?
  private var waiters: [CheckedContinuation<Value?, Never>] = []

  public init() {}

  /// Settles the value (the first call wins) and wakes every waiter.
  public func set(_ value: Value?) {
    guard !settled else { return }
    settled = true
    stored = value
    for waiter in waiters { waiter.resume(returning: value) }
    waiters = []
  }

  /// The value, once settled.
  public func value() async -> Value? {
    if settled { return stored }
    return await withCheckedContinuation { waiters.append($0) }
  }
}
