import Foundation
import SwiftProtobuf
import SwitchboardCore
import SwitchboardTestSupport
import Testing

@testable import SwitchboardGRPC

/// A call attempt's fields are written once per boundary: the model, the JSON mapping, the proto
/// mapping, the row decoder, the schema. Swift cannot derive one from another without reflection
/// on the hot path, so these tests fail when the lists drift: a field added to `CallAttempt` and
/// forgotten at one boundary, or a column the decoder skips.
@Suite("Field lists agree at every boundary")
struct FieldListTests {
  @Test("the model has no optional left unset in the fixture")
  func fixtureIsFull() {
    for child in Mirror(reflecting: CallAttempt.full).children {
      let mirror = Mirror(reflecting: child.value)
      #expect(!(mirror.displayStyle == .optional && mirror.children.isEmpty), "\(child.label ?? "?") is nil")
    }
  }

  @Test("the JSON mapping writes every field, and nothing else")
  func json() throws {
    let members = try #require(CallAttempt.full.json.objectValue)
    #expect(Set(members.keys) == CallAttempt.fields)
    #expect(!members.values.contains(.null))
  }

  @Test("the proto mapping sets every field, and the message has no other")
  func proto() throws {
    let message = Switchboard_V1_CallAttempt(CallAttempt.full)
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let members = try #require(try JSONValue.decode(message.jsonString(options: options)).objectValue)
    #expect(Set(members.keys) == CallAttempt.fields)
    // The schema itself: the fields `message CallAttempt` declares.
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(
      path: "../../proto/switchboard/v1/call_service.proto")
    let source = try String(contentsOf: file, encoding: .utf8)
    let body = try #require(
      source.split(separator: "message CallAttempt {").dropFirst().first?.split(separator: "}").first)
    let declared = body.split(separator: "\n").compactMap { line -> String? in
      let words = line.split(separator: " ")
      guard let equals = words.firstIndex(of: "="), equals > words.startIndex else { return nil }
      return String(words[equals - 1])
    }
    #expect(Set(declared) == CallAttempt.fields)
  }
}
