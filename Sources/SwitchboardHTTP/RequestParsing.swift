import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

// What the gateway reads from a request: its body within the contract's limit, strict JSON,
// an event report's typed fields, and query parameters.
extension Gateway {
  /// The body, up to the contract's size limit.
  static func body(
    _ request: inout Request, upTo limit: Int = CallContract.maxBodyBytes
  ) async throws(SwitchboardError) -> ByteBuffer {
    do {
      return try await request.collectBody(upTo: limit)
    } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
      throw .bodyTooLarge(limit: limit)
    } catch {
      throw .invalid("request body could not be read")
    }
  }

  static func jsonBody(_ request: inout Request) async throws(SwitchboardError) -> [String: JSONValue] {
    let buffer = try await body(&request)
    guard !StrictJSON.hasTrailingComma(buffer.readableBytesView),
      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
    else {
      throw .invalid("request body must be valid JSON")
    }
    guard let members = value.objectValue else { throw .invalid("request body must be a JSON object") }
    return members
  }

  /// An event report's fields, type-checked.
  static func eventInput(_ body: [String: JSONValue]) throws(SwitchboardError) -> CallEventInput {
    func text(_ key: String) throws(SwitchboardError) -> String? {
      switch body[key] {
      case nil, .null?: return nil
      case .string(let value)?: return value
      default: throw .invalid("\(key) must be a string")
      }
    }
    func object(_ key: String) throws(SwitchboardError) -> [String: JSONValue]? {
      switch body[key] {
      case nil, .null?: return nil
      case .object(let value)?: return value
      default: throw .invalid("\(key) must be an object")
      }
    }
    var duration: Double?
    switch body["duration_seconds"] {
    case nil, .null?: duration = nil
    case .integer(let value)?: duration = Double(value)
    case .double(let value)?: duration = value
    default: throw .invalid("duration_seconds must be a number")
    }
    var input = CallEventInput(
      eventID: try text("event_id"), status: try text("status"), collectedData: try object("collected_data"),
      stageID: try text("stage_id"), results: try object("results"), durationSeconds: duration,
      failureReason: try text("failure_reason"))
    if let transcript = body["transcript"], transcript != .null { input.transcript = transcript }
    input.recordingURL = try text("recording_url")
    input.answeredBy = try text("answered_by")
    input.failureType = try text("failure_type")
    switch body["opt_out"] {
    case nil, .null?: break
    case .bool(let value)?: input.optOut = value
    default: throw .invalid("opt_out must be true or false")
    }
    return input
  }

  /// A query parameter's integer; absent is `nil`, present but empty is a 400.
  /// `true` or `false`; absent is false.
  static func flag(_ text: Substring?, _ name: String) throws(SwitchboardError) -> Bool {
    switch text {
    case nil, "false"?: return false
    case "true"?: return true
    default: throw .invalid("\(name) must be true or false")
    }
  }

  static func integer(_ text: Substring?, _ name: String) throws(SwitchboardError) -> Int? {
    guard let text else { return nil }
    guard let value = Int(text) else { throw .invalid("\(name) must be an integer") }
    return value
  }
}
