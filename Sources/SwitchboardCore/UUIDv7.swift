import Foundation

extension UUID {
  /// A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then random bits. Keys made of
  /// them arrive in time order, so B-tree inserts stay on the rightmost pages.
  public static func v7(now: Date = Date()) -> UUID {
    let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
    var generator = SystemRandomNumberGenerator()
    let random = (generator.next() as UInt64, generator.next() as UInt64)
    return UUID(
      uuid: (
        UInt8(truncatingIfNeeded: milliseconds >> 40), UInt8(truncatingIfNeeded: milliseconds >> 32),
        UInt8(truncatingIfNeeded: milliseconds >> 24), UInt8(truncatingIfNeeded: milliseconds >> 16),
        UInt8(truncatingIfNeeded: milliseconds >> 8), UInt8(truncatingIfNeeded: milliseconds),
        0x70 | UInt8(truncatingIfNeeded: random.0 >> 60) & 0x0F, UInt8(truncatingIfNeeded: random.0 >> 52),
        0x80 | UInt8(truncatingIfNeeded: random.0 >> 46) & 0x3F, UInt8(truncatingIfNeeded: random.0 >> 38),
        UInt8(truncatingIfNeeded: random.0 >> 30), UInt8(truncatingIfNeeded: random.0 >> 22),
        UInt8(truncatingIfNeeded: random.1 >> 24), UInt8(truncatingIfNeeded: random.1 >> 16),
        UInt8(truncatingIfNeeded: random.1 >> 8), UInt8(truncatingIfNeeded: random.1)
      ))
  }

  /// The lower-case text form used on the wire and in the database.
  public var lowercased: String { uuidString.lowercased() }
}
