/// Work that must end by a deadline, whatever it waits on.
public enum Deadline {
  /// The work ran out of time; it was cancelled.
  public struct Exceeded: Error, Sendable, Equatable {
    public init() {}
  }

  /// Runs `work`, and cancels it when `limit` passes first: the answer comes by then (plus the
  /// time the work takes to notice its cancellation), or ``Exceeded`` is thrown.
  public static func run<T: Sendable>(
    within limit: Duration, _ work: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask { try await work() }
      group.addTask {
        try await Task.sleep(for: limit)
        return nil
      }
      defer { group.cancelAll() }
      guard let first = try await group.next(), let value = first else { throw Exceeded() }
      return value
    }
  }
}
