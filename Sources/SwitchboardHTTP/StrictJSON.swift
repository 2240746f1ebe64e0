import Foundation

/// What Foundation's JSON decoder lets through that JSON does not allow.
enum StrictJSON {
  /// Whether a `,` stands right before a `}` or `]` (spaces between), outside strings.
  static func hasTrailingComma(_ bytes: some Collection<UInt8>) -> Bool {
    var inString = false
    var escaped = false
    var afterComma = false
    for byte in bytes {
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        continue
      }
      switch byte {
      case UInt8(ascii: "\""):
        inString = true
        afterComma = false
      case UInt8(ascii: ","): afterComma = true
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        if afterComma { return true }
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): break
      default: afterComma = false
      }
    }
    return false
  }
}
