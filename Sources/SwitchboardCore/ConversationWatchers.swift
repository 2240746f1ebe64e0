import Foundation
import Synchronization

/// The `WatchConversation` streams of one replica, fed by the store's change notifications (one
/// `LISTEN` per replica): a chain is read again only when it changed, once however many watch it,
/// so idle watchers cost the database nothing.
///
/// Reads of one chain never overlap: changes are taken in rounds, each chain read at most once
/// per round, so each read sees the chain at least as new as the one before, and every watcher
/// gets each attempt's states in order. States a chain passes through within one round (a few
/// milliseconds) may arrive as the later one alone, as with any reader.
public final class ConversationWatchers: Sendable {
  struct Key: Hashable {
    var conversationID: UUID
    var tenantID: Int64
  }

  private struct Watcher {
    var continuation: AsyncStream<CallAttempt>.Continuation
    var seen: [UUID: Date] = [:]
  }

  private struct State {
    var nextID = 0
    var watchers: [Key: [Int: Watcher]] = [:]
    /// Chains to read in the next round.
    var due: Set<Key> = []
    /// Change reports taken so far.
    var reports = 0
  }

  private let store: any CallStore
  private let state = Mutex(State())
  private let wakeup = Wakeup()
  /// Chains read at once in a round.
  private let readWidth = 16

  public init(store: any CallStore) {
    self.store = store
  }

  /// Watchers open now.
  public var count: Int { state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } } }

  /// Change reports taken so far (``changed(_:)``): what a test waits for before it looks at
  /// what a report caused.
  public var reportsTaken: Int { state.withLock { $0.reports } }

  /// Registers a watcher of the chain and asks for its first read; the stream yields every
  /// attempt, then each attempt again whenever it changes, and ends when its consumer stops.
  func watch(_ conversationID: UUID, tenant: Tenant) -> AsyncStream<CallAttempt> {
    let (stream, continuation) = AsyncStream.makeStream(of: CallAttempt.self)
    let key = Key(conversationID: conversationID, tenantID: tenant.id)
    let id = state.withLock { state in
      state.nextID += 1
      state.watchers[key, default: [:]][state.nextID] = Watcher(continuation: continuation)
      state.due.insert(key)
      return state.nextID
    }
    continuation.onTermination = { [weak self] _ in
      let last = self?.state.withLock { state in
        state.watchers[key]?[id] = nil
        if state.watchers[key]?.isEmpty == true { state.watchers[key] = nil }
        return state.watchers.isEmpty
      }
      if last == true { self?.wakeup.signal() }
    }
    wakeup.signal()
    return stream
  }

  /// The store reports these chains changed; `nil` when it may have missed some (its listening
  /// connection was lost), so that every watched chain is read again.
  public func changed(_ conversationIDs: [UUID]?) {
    let any = state.withLock { state in
      state.reports += 1
      let keys = state.watchers.keys.filter { key in conversationIDs?.contains(key.conversationID) ?? true }
      state.due.formUnion(keys)
      return !keys.isEmpty
    }
    if any { wakeup.signal() }
  }

  /// Reads changed chains and feeds their watchers, round after round, until cancelled. The
  /// store's listener runs only while someone watches: a replica without watchers holds no
  /// connection for it. Each time the listener starts listening it reports `nil`, so chains read
  /// before it listened are read again.
  public func run() async {
    var listener: Task<Void, Never>?
    defer { listener?.cancel() }
    while !Task.isCancelled {
      await wakeup.wait()
      let (due, watched) = state.withLock { state in
        defer { state.due.removeAll() }
        return (state.due, !state.watchers.isEmpty)
      }
      if watched, listener == nil {
        listener = Task { await store.listenForChainChanges { self.changed($0) } }
      } else if !watched, let running = listener {
        running.cancel()
        listener = nil
      }
      await withTaskGroup(of: Void.self) { reads in
        for (index, key) in due.enumerated() {
          if index >= readWidth { await reads.next() }
          reads.addTask { await self.read(key) }
        }
      }
    }
  }

  private func read(_ key: Key) async {
    let chain: ConversationChain
    do {
      guard
        let found = try await store.conversation(
          ConversationReference(conversationID: key.conversationID), tenantID: key.tenantID)
      else { return }
      chain = found
    } catch {
      // Unreadable now (the database is away): read it again in a second.
      state.withLock { _ = $0.due.insert(key) }
      Task { [wakeup] in
        try? await Task.sleep(for: .seconds(1))
        wakeup.signal()
      }
      return
    }
    state.withLock { state in
      guard var watchers = state.watchers[key] else { return }
      for (id, var watcher) in watchers {
        for attempt in chain.attempts where watcher.seen[attempt.traceID] != attempt.updatedAt {
          watcher.seen[attempt.traceID] = attempt.updatedAt
          watcher.continuation.yield(attempt)
        }
        watchers[id] = watcher
      }
      state.watchers[key] = watchers
    }
  }
}
