import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTP clients for tenants' URLs, each pinned to an address the policy allows.
///
/// Before every send the URL is checked (``OutboundURLPolicy/check(_:field:)``), its host is
/// resolved here, and every address it resolves to must be allowed; the request then goes to the
/// first of them through a client whose `dnsOverride` maps the host to that address, so the
/// connection is made to the address that was checked (TLS still verifies the host name). A
/// name that re-resolves to an internal address later (DNS rebinding) is refused at that send.
///
/// async-http-client has no per-request resolver hook, so the pin is per client: one for each
/// (host, address) in use, at most ``capacity`` kept (the least recently used idle one is shut
/// down past it). It is a `Service`: graceful shutdown closes them all.
public final class TargetClients: Service, Sendable {
  public let policy: OutboundURLPolicy
  let capacity: Int
  let connectionsPerHost: Int
  /// Every address a host name resolves to: the system's resolver, or a test's stand-in for DNS.
  public typealias Resolver = @Sendable (String) async throws -> [IPAddress]
  let resolve: Resolver

  private struct Entry {
    let client: HTTPClient
    var users = 0
    var lastUse: UInt64 = 0
  }

  private struct State {
    var entries: [String: Entry] = [:]
    var tick: UInt64 = 0
    var closed = false
  }

  private let state = Mutex(State())

  /// - Parameter connectionsPerHost: connections one pinned client may open (the deliverer sends
  ///   at most ``OutboxDeliverer/perTarget`` at once to one target).
  public init(
    policy: OutboundURLPolicy, capacity: Int = 64, connectionsPerHost: Int = 8,
    resolve: @escaping Resolver = TargetClients.systemResolve
  ) {
    self.policy = policy
    self.capacity = capacity
    self.connectionsPerHost = connectionsPerHost
    self.resolve = resolve
  }

  /// Checks `url`, resolves and pins it, and runs `body` with the pinned client.
  func send(
    _ request: HTTPClientRequest, to url: String,
    _ body: (HTTPClientRequest, HTTPClient) async -> WebhookSender.Outcome
  ) async -> WebhookSender.Outcome {
    let target: OutboundURL
    do {
      target = try policy.check(url)
    } catch {
      return .rejected("url refused: \(error.message)")
    }
    let address: IPAddress
    if let literal = target.address {
      address = literal
    } else {
      let resolved: [IPAddress]
      do {
        resolved = try await resolve(target.host)
      } catch {
        return .retryable("cannot resolve \(target.host): \(error)")
      }
      guard let first = resolved.first else { return .retryable("cannot resolve \(target.host)") }
      if let refused = resolved.first(where: { !policy.permits($0) }) {
        return .rejected(
          "url refused: \(target.host) resolves to a private, loopback or link-local address (\(refused))")
      }
      address = first
    }
    guard let (key, client) = acquire(host: target.host, address: address) else {
      return .retryable("shutting down")
    }
    let outcome = await body(request, client)
    for evicted in release(key) { try? await evicted.shutdown() }
    return outcome
  }

  private func acquire(host: String, address: IPAddress) -> (String, HTTPClient)? {
    let key = "\(host)|\(address)"
    return state.withLock { state -> (String, HTTPClient)? in
      guard !state.closed else { return nil }
      state.tick += 1
      var entry =
        state.entries[key]
        ?? Entry(
          client: HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: WebhookSender.configuration(
              connectionsPerHost: connectionsPerHost, pinning: [host: "\(address)"])))
      entry.users += 1
      entry.lastUse = state.tick
      state.entries[key] = entry
      return (key, entry.client)
    }
  }

  /// The clients to shut down now: idle ones past ``capacity``, least recently used first.
  private func release(_ key: String) -> [HTTPClient] {
    state.withLock { state in
      state.entries[key]?.users -= 1
      var evicted: [HTTPClient] = []
      while state.entries.count > capacity,
        let (oldest, entry) = state.entries.filter({ $0.value.users == 0 }).min(by: {
          $0.value.lastUse < $1.value.lastUse
        })
      {
        state.entries[oldest] = nil
        evicted.append(entry.client)
      }
      return evicted
    }
  }

  /// Waits for graceful shutdown, then shuts every client down (the services that send through
  /// them are listed after this one, so they have stopped).
  public func run() async throws {
    try? await gracefulShutdown()
    await shutdown()
  }

  public func shutdown() async {
    let clients = state.withLock { state in
      state.closed = true
      defer { state.entries = [:] }
      return state.entries.values.map(\.client)
    }
    for client in clients { try? await client.shutdown() }
  }

  /// Every address `host` resolves to (`getaddrinfo`, on NIO's blocking pool).
  @Sendable public static func systemResolve(_ host: String) async throws -> [IPAddress] {
    try await NIOThreadPool.singleton.runIfActive {
      var hints = addrinfo()
      hints.ai_family = AF_UNSPEC
      #if canImport(Glibc)
      hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
      #else
      hints.ai_socktype = SOCK_STREAM
      #endif
      var list: UnsafeMutablePointer<addrinfo>?
      let status = getaddrinfo(host, nil, &hints, &list)
      guard status == 0 else { throw ResolutionFailure(message: String(cString: gai_strerror(status))) }
      defer { freeaddrinfo(list) }
      var addresses: [IPAddress] = []
      var next = list
      while let info = next {
        if let socket = info.pointee.ai_addr {
          switch Int32(socket.pointee.sa_family) {
          case AF_INET:
            let value = socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            addresses.append(.v4(UInt32(bigEndian: value)))
          case AF_INET6:
            var bytes = socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            addresses.append(.v6(withUnsafeBytes(of: &bytes) { Array($0) }))
          default: break
          }
        }
        next = info.pointee.ai_next
      }
      return addresses
    }
  }

  struct ResolutionFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }
}
