import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// URL text as the service stores and sends it.
public enum URLText {
  /// Printable ASCII only: no space, no control character (CR/LF, TAB, DEL, C0), nothing outside
  /// ASCII (U+0085, U+2028). Such characters belong percent-encoded; raw, they split headers and
  /// log lines on the way out.
  public static func isPrintableASCII(_ text: String) -> Bool {
    text.utf8.allSatisfy { (0x21...0x7E).contains($0) }
  }
}

/// An IP address, as a URL's host spells it or as a name resolved to.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
  case v4(UInt32)
  /// 16 bytes, network order.
  case v6([UInt8])

  /// A literal as the system's resolver reads one, so that what is checked is what would be
  /// dialed: IPv6, and IPv4 in every form `inet_aton` takes (`127.1`, `2130706433`,
  /// `0x7f000001`, `0177.0.0.1`).
  public init?(literal text: String) {
    var host = text
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty, host.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, host, &v6) == 1 {
      self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
      return
    }
    var v4 = in_addr()
    guard inet_aton(host, &v4) != 0 else { return nil }
    self = .v4(UInt32(bigEndian: v4.s_addr))
  }

  public var description: String {
    switch self {
    case .v4(let value):
      return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    case .v6(let bytes):
      var address = in6_addr()
      withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
      var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
      guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "::" }
      return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
  }

  /// A globally routable unicast address: not loopback, private (RFC 1918, CGNAT), link-local
  /// (the cloud metadata service at 169.254.169.254 among them), unique-local, multicast,
  /// unspecified, reserved or documentation; an IPv6 address that embeds an IPv4 one (mapped,
  /// compatible, NAT64, 6to4) is judged by that one.
  public var isPublic: Bool {
    switch self {
    case .v4(let value):
      let blocked: [(UInt32, UInt32)] = [
        (0x0000_0000, 8), (0x0A00_0000, 8), (0x6440_0000, 10), (0x7F00_0000, 8), (0xA9FE_0000, 16),
        (0xAC10_0000, 12), (0xC000_0000, 24), (0xC000_0200, 24), (0xC058_6300, 24), (0xC0A8_0000, 16),
        (0xC612_0000, 15), (0xC633_6400, 24), (0xCB00_7100, 24), (0xE000_0000, 4), (0xF000_0000, 4),
      ]
      return !blocked.contains { prefix, length in value >> (32 - length) == prefix >> (32 - length) }
    case .v6(let bytes):
      func starts(_ prefix: [UInt8], bits: Int) -> Bool {
        for bit in 0..<bits
        where (bytes[bit / 8] >> (7 - UInt8(bit % 8))) & 1 != (prefix[bit / 8] >> (7 - UInt8(bit % 8))) & 1 {
          return false
        }
        return true
      }
      func embedded(at offset: Int) -> IPAddress {
        .v4(bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) })
      }
      let zeros = [UInt8](repeating: 0, count: 16)
      if starts(zeros, bits: 96) { return false }  // ::, ::1 and IPv4-compatible (deprecated)
      if starts(zeros, bits: 80), bytes[10] == 0xFF, bytes[11] == 0xFF { return embedded(at: 12).isPublic }
      if starts([0x00, 0x64, 0xFF, 0x9B] + zeros, bits: 96) { return embedded(at: 12).isPublic }  // NAT64
      if starts([0x20, 0x02] + zeros, bits: 16) { return embedded(at: 2).isPublic }  // 6to4
      let blocked: [([UInt8], Int)] = [
        ([0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01], 48),  // local-use NAT64
        ([0x01, 0x00], 64),  // discard
        ([0x20, 0x01, 0x00, 0x00], 32),  // Teredo
        ([0x20, 0x01, 0x0D, 0xB8], 32),  // documentation
        ([0xFC], 7),  // unique-local (fd00:ec2::254, a metadata service, among them)
        ([0xFE, 0x80], 10),  // link-local
        ([0xFE, 0xC0], 10),  // site-local (deprecated)
        ([0xFF], 8),  // multicast
      ]
      return !blocked.contains { prefix, bits in starts(prefix + zeros, bits: bits) }
    }
  }
}

/// A URL a tenant gives the service to call (webhook targets now, pre-dial hooks later), as
/// ``OutboundURLPolicy`` checked it.
public struct OutboundURL: Sendable, Hashable {
  public var text: String
  /// As the HTTP client reads it from ``text`` (without IPv6 brackets): what is resolved, and
  /// the name the connection is pinned for.
  public var host: String
  public var port: Int
  public var isHTTPS: Bool
  /// The host when it is an address literal: it is connected to as it is, never resolved.
  public var address: IPAddress?
}

/// What a tenant's URL may be. The checks run when the URL is set *and* before every send,
/// against every address its host resolves to (a name that resolved to a public address when it
/// was registered may resolve to an internal one later: DNS rebinding). The operator's own URLs
/// (the dialer) are not tenants' and are not checked.
public struct OutboundURLPolicy: Sendable, Hashable {
  /// Whether loopback, private, link-local and other internal addresses may be called: off by
  /// default; the operator opts in (`--allow-private-targets`) for receivers on its own network.
  public var allowPrivateAddresses: Bool

  public init(allowPrivateAddresses: Bool = false) {
    self.allowPrivateAddresses = allowPrivateAddresses
  }

  /// Names that are internal by definition, whatever they resolve to.
  static func isInternalName(_ host: String) -> Bool {
    let internalSuffixes = [".localhost", ".internal", ".local", ".localdomain", ".home.arpa"]
    return host == "localhost" || host == "metadata" || !host.contains(".")
      || internalSuffixes.contains { host.hasSuffix($0) }
  }

  /// http(s) only; a host; no user name or password; a port within 1…65535; printable ASCII at
  /// most 2,048 bytes long; and unless private addresses are allowed, no internal name or
  /// address literal. `field` names the setting in the 400.
  public func check(_ text: String, field: String = "url") throws(SwitchboardError) -> OutboundURL {
    guard text.utf8.count <= 2048 else { throw .invalid("\(field) must be at most 2048 characters") }
    guard URLText.isPrintableASCII(text) else {
      throw .invalid("\(field) must not contain spaces, control or non-ASCII characters")
    }
    guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
      ["http", "https"].contains(scheme)
    else { throw .invalid("\(field) must be an http or https URL") }
    guard url.user == nil, url.password == nil, !(url.percentEncodedHost ?? "").contains("@") else {
      throw .invalid("\(field) must not carry a user name or password")
    }
    // A percent-encoded host reads differently to different parsers: what is checked must be
    // what is dialed.
    guard let raw = URL(string: text)?.host, !raw.isEmpty, !(url.percentEncodedHost ?? "%").contains("%") else {
      throw .invalid("\(field) must name a host, without percent-encoding")
    }
    let host = raw.hasPrefix("[") && raw.hasSuffix("]") ? String(raw.dropFirst().dropLast()) : raw
    var name = host.lowercased()
    while name.hasSuffix(".") { name.removeLast() }
    guard !name.isEmpty else { throw .invalid("\(field) must name a host") }
    let port = url.port ?? (scheme == "https" ? 443 : 80)
    guard (1...65_535).contains(port) else { throw .invalid("\(field) must have a port between 1 and 65535") }
    let address = IPAddress(literal: name)
    if !allowPrivateAddresses {
      if let address, !address.isPublic {
        throw .invalid("\(field) must not point to a private, loopback or link-local address (\(address))")
      }
      if address == nil, Self.isInternalName(name) {
        throw .invalid("\(field) must not name an internal host (\(name))")
      }
    }
    return OutboundURL(text: text, host: host, port: port, isHTTPS: scheme == "https", address: address)
  }

  /// Whether the service may connect to `address`.
  public func permits(_ address: IPAddress) -> Bool {
    allowPrivateAddresses || address.isPublic
  }
}
