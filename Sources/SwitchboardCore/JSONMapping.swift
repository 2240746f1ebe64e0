import Foundation

// The JSON shapes of the call contract, shared by the gateway and storage.

extension RetryContext {
  /// `{"collected_data", "retry_initial_message", "retry_language", "retry_stage_id"}`,
  /// without the absent fields.
  public var json: JSONValue {
    var members: [String: JSONValue] = [:]
    if let collectedData { members["collected_data"] = .object(collectedData) }
    if let initialMessage { members["retry_initial_message"] = .string(initialMessage) }
    if let language { members["retry_language"] = .string(language) }
    if let stageID { members["retry_stage_id"] = .string(stageID) }
    return .object(members)
  }

  /// Reads the object a `retry_context` field holds; the message names the first bad field.
  public init(json: JSONValue, field: String = "retry_context") throws(SwitchboardError) {
    guard let members = json.objectValue else { throw .invalid("\(field) must be an object") }
    func text(_ key: String) throws(SwitchboardError) -> String? {
      switch members[key] {
      case nil, .null?: return nil
      case .string(let value)?: return value
      case let other?: throw .invalid("\(field).\(key) must be a string, not \(other.typeName)")
      }
    }
    var collected: [String: JSONValue]?
    switch members["collected_data"] {
    case nil, .null?: collected = nil
    case .object(let object)?: collected = object
    case let other?: throw .invalid("\(field).collected_data must be an object, not \(other.typeName)")
    }
    self.init(
      collectedData: collected, initialMessage: try text("retry_initial_message"),
      language: try text("retry_language"), stageID: try text("retry_stage_id"))
  }
}

extension CallParameter {
  public var json: JSONValue { .object(["name": .string(name), "value": .string(value)]) }
}

extension ThreadedState {
  public var json: JSONValue {
    var members: [String: JSONValue] = ["collected_data": .object(collectedData)]
    if let language { members["language"] = .string(language) }
    if let stageID { members["stage_id"] = .string(stageID) }
    return .object(members)
  }
}

extension JSONValue {
  /// Compact JSON text.
  public func encoded() -> String {
    // Encoding a JSONValue cannot fail: every case maps to a JSON value (non-finite doubles
    // cannot be decoded into one in the first place).
    guard let data = try? JSONValue.encoder.encode(self) else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }

  /// Parses JSON text.
  public static func decode(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
  }

  private static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }()
}
