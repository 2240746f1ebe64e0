/// A secret held in memory (a dialer or webhook secret): it prints, dumps and interpolates as
/// `<redacted>`, so no log line or debug description can carry it. `reveal` is the value, for the
/// one place that signs or compares with it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  public let reveal: String

  /// `nil` for no value or an empty one.
  public init?(_ value: String?) {
    guard let value, !value.isEmpty else { return nil }
    reveal = value
  }

  public var description: String { "<redacted>" }
  public var debugDescription: String { "<redacted>" }
  public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
