/// W3C Trace Context: the `traceparent` a caller sends (HTTP header, gRPC metadata) is stored on
/// the attempt and passed on to the dialer webhook and the outcome webhooks, so one call can be
/// followed across systems.
public enum TraceParent {
  /// `version-traceid-parentid-flags` in lowercase hex (`00-<32>-<16>-<2>`), with a trace id and
  /// a parent id that are not all zeros and a version other than `ff`; else `nil`. As the
  /// specification asks, a malformed value is dropped, not refused: the call goes ahead untraced.
  public static func valid(_ text: String?) -> String? {
    guard let text else { return nil }
    let bytes = Array(text.utf8)
    guard bytes.count >= 55, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return nil }
    // Version 00 is exactly 55 characters; a later version may append fields after a dash.
    guard bytes.count == 55 || (bytes[55] == dash && !(bytes[0] == zero && bytes[1] == zero)) else { return nil }
    let fields = [bytes[0..<2], bytes[3..<35], bytes[36..<52], bytes[53..<55]]
    guard fields.allSatisfy({ $0.allSatisfy(isLowerHex) }) else { return nil }
    guard !(bytes[0] == f && bytes[1] == f) else { return nil }
    guard !fields[1].allSatisfy({ $0 == zero }), !fields[2].allSatisfy({ $0 == zero }) else { return nil }
    return String(decoding: bytes[0..<55], as: UTF8.self)
  }

  private static let dash = UInt8(ascii: "-")
  private static let zero = UInt8(ascii: "0")
  private static let f = UInt8(ascii: "f")
  private static func isLowerHex(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
  }
}
