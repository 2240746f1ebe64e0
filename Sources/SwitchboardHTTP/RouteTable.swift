import HTTPTypes
import Hummingbird
import Synchronization

/// The routes a router serves, read from the router itself once its routes are added
/// (`Router.routes`), for the middleware that answers a known path asked with another method
/// with 405 and `Allow`. The middleware is added before the routes, so it holds this table and
/// the table is filled after.
final class RouteTable: Sendable {
  /// A path pattern, by segment (`{name}` matches any one), and a method it is served with.
  private struct Route {
    var path: [Substring]
    var method: HTTPRequest.Method

    func matches(_ segments: [Substring]) -> Bool {
      segments.count == path.count
        && zip(segments, path).allSatisfy { segment, pattern in pattern.hasPrefix("{") || segment == pattern }
    }

    /// Segments matched by name: the router takes a named segment over a parameter
    /// (`/v1/suppressions/import` is not `/v1/suppressions/{phone_number}`).
    var literals: Int { path.filter { !$0.hasPrefix("{") }.count }
  }

  private let routes = Mutex<[Route]>([])

  func set<Context>(_ served: [Router<Context>.RouteDescription]) {
    let routes = served.map { Route(path: $0.path.description.split(separator: "/"), method: $0.method) }
    self.routes.withLock { $0 = routes }
  }

  /// The methods `path` is served with, reads first; empty for a path no route matches.
  func methods(for path: String) -> [HTTPRequest.Method] {
    let segments = path.split(separator: "/")
    let matching = routes.withLock { routes in routes.filter { $0.matches(segments) } }
    let specific = matching.map(\.literals).max() ?? 0
    let methods = matching.filter { $0.literals == specific }.map(\.method)
    return methods.sorted { Self.order($0) < Self.order($1) }
  }

  private static func order(_ method: HTTPRequest.Method) -> Int {
    [.get, .head, .post, .put, .patch, .delete].firstIndex(of: method) ?? 6
  }
}
