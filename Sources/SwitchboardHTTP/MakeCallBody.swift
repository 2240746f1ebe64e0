import Foundation
import SwitchboardCore

/// The JSON body of `POST /v1/call`. Unknown fields are ignored; a field of the wrong type is a
/// 400 that names it.
struct MakeCallBody: Decodable {
  var input = MakeCallInput()

  private enum Field: String, CodingKey {
    case agentID = "agent_id"
    case parameters, metadata
    case conversationID = "conversation_id"
    case idempotencyKey = "idempotency_key"
    case retryContext = "retry_context"
    case scheduledFor = "scheduled_for"
    case recipientTimezone = "recipient_timezone"
  }

  private enum ParameterField: String, CodingKey {
    case name, value
  }

  init(from decoder: any Decoder) throws {
    guard let body = try? decoder.container(keyedBy: Field.self) else {
      throw SwitchboardError.invalid("request body must be a JSON object")
    }
    input.agentID = try Self.agentID(body)
    input.parameters = try Self.parameters(body)
    input.conversationID = try Self.text(body, .conversationID)
    input.idempotencyKey = try Self.text(body, .idempotencyKey)
    input.metadata = try Self.text(body, .metadata)
    if let context = try Self.value(body, .retryContext) {
      input.retryContext = try RetryContext(json: context)
    }
    if let text = try Self.text(body, .scheduledFor) {
      guard let date = Timestamp.parse(text) else {
        throw SwitchboardError.invalid("scheduled_for must be an ISO 8601 date-time with a UTC offset")
      }
      input.scheduledFor = date
    }
    input.recipientTimezone = try Self.text(body, .recipientTimezone)
  }

  private static func isAbsent(_ body: KeyedDecodingContainer<Field>, _ key: Field) -> Bool {
    !body.contains(key) || ((try? body.decodeNil(forKey: key)) ?? false)
  }

  private static func agentID(_ body: KeyedDecodingContainer<Field>) throws -> Int64? {
    if isAbsent(body, .agentID) { return nil }
    guard let id = try? body.decode(Int64.self, forKey: .agentID) else {
      throw SwitchboardError.invalid("agent_id must be an integer")
    }
    return id
  }

  private static func text(_ body: KeyedDecodingContainer<Field>, _ key: Field) throws -> String? {
    if isAbsent(body, key) { return nil }
    guard let text = try? body.decode(String.self, forKey: key) else {
      throw SwitchboardError.invalid("\(key.stringValue) must be a string")
    }
    return text
  }

  private static func value(_ body: KeyedDecodingContainer<Field>, _ key: Field) throws -> JSONValue? {
    if isAbsent(body, key) { return nil }
    return try body.decode(JSONValue.self, forKey: key)
  }

  private static func parameters(_ body: KeyedDecodingContainer<Field>) throws -> [CallParameter]? {
    if isAbsent(body, .parameters) { return nil }
    guard var items = try? body.nestedUnkeyedContainer(forKey: .parameters) else {
      throw SwitchboardError.invalid("parameters must be an array of {name, value} objects")
    }
    var parameters: [CallParameter] = []
    while !items.isAtEnd {
      let index = parameters.count
      guard let item = try? items.nestedContainer(keyedBy: ParameterField.self) else {
        throw SwitchboardError.invalid("parameters[\(index)] must be an object with name and value")
      }
      guard let name = try? item.decode(String.self, forKey: .name) else {
        throw SwitchboardError.invalid("parameters[\(index)].name must be a string")
      }
      let value: String
      if let text = try? item.decode(String.self, forKey: .value) {
        value = text
      } else if let text = (try? item.decode(JSONValue.self, forKey: .value))?.scalarText {
        value = text
      } else {
        throw SwitchboardError.invalid("parameters[\(index)].value must be a string, number or boolean")
      }
      parameters.append(CallParameter(name: name, value: value))
    }
    return parameters
  }
}
