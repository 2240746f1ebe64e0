import Foundation
import MultipartKit
import NIOCore
import SwitchboardCore

/// The body of `POST /v1/batch-call`, by its content type: `multipart/form-data` with fields
/// `agent_id`, `name` and a CSV `file` (the seed system's form), or JSON with `recipients`.
/// The options (`scheduled_for`, `max_concurrency`, `idempotency_key`) come as fields or members.
enum BatchUpload {
  /// The options as sent, and a reader of the recipients once the options are checked (a row's
  /// check needs the agent).
  struct Decoded {
    var options: BatchOptionsInput
    var recipients: (_ agentID: Int64, _ now: Date) throws(SwitchboardError) -> BatchRecipients
  }

  static func decode(_ body: ByteBuffer, contentType: String?) throws(SwitchboardError) -> Decoded {
    let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
    switch mediaType {
    case "multipart/form-data"?: return try form(body, contentType: contentType ?? "")
    case "application/json"?: return try json(body)
    default: throw .invalid("Content-Type must be multipart/form-data or application/json")
    }
  }

  // MARK: multipart/form-data

  private static func form(_ body: ByteBuffer, contentType: String) throws(SwitchboardError) -> Decoded {
    guard let boundary = boundary(contentType) else {
      throw .invalid("multipart/form-data needs a boundary parameter in Content-Type")
    }
    let parts: [String: ByteBuffer]
    do {
      parts = try Self.parts(body, boundary: boundary)
    } catch let error as SwitchboardError {
      throw error
    } catch {
      throw SwitchboardError(.invalidRequest, "request body is not valid multipart/form-data", cause: error)
    }
    func text(_ name: String) throws(SwitchboardError) -> String? {
      guard let part = parts[name] else { return nil }
      guard let text = String(validating: part.readableBytesView, as: UTF8.self) else {
        throw .invalid("\(name) must be UTF-8 text")
      }
      return text
    }
    var options = BatchOptionsInput()
    if let agent = try text("agent_id") {
      guard let id = Int64(agent.trimmingCharacters(in: .whitespaces)) else {
        throw .invalid("agent_id must be an integer")
      }
      options.agentID = id
    }
    options.name = try text("name")
    options.idempotencyKey = try text("idempotency_key").flatMap { $0.isEmpty ? nil : $0 }
    if let cap = try text("max_concurrency"), !cap.isEmpty {
      guard let value = Int(cap.trimmingCharacters(in: .whitespaces)) else {
        throw .invalid("max_concurrency must be an integer")
      }
      options.maxConcurrency = value
    }
    if let when = try text("scheduled_for"), !when.isEmpty {
      guard let date = Timestamp.parse(when) else {
        throw .invalid("scheduled_for must be an ISO 8601 date-time with a UTC offset")
      }
      options.scheduledFor = date
    }
    guard let file = parts["file"] else { throw .invalid("file is required") }
    return Decoded(options: options) { agentID, now throws(SwitchboardError) in
      try BatchCSV.recipients(file.readableBytesView, agentID: agentID, now: now)
    }
  }

  /// The parts by name; a later part of the same name wins.
  static func parts(_ body: ByteBuffer, boundary: String) throws -> [String: ByteBuffer] {
    let parser = MultipartParser(boundary: boundary)
    var parts: [String: ByteBuffer] = [:]
    var headers = HTTPHeaders()
    var current = ByteBuffer()
    parser.onHeader = { name, value in headers.add(name: name, value: value) }
    parser.onBody = { chunk in current.writeBuffer(&chunk) }
    parser.onPartComplete = {
      if let name = MultipartPart(headers: headers, body: current).name { parts[name] = current }
      headers = HTTPHeaders()
      current = ByteBuffer()
    }
    try parser.execute(body)
    return parts
  }

  /// `boundary` of `multipart/form-data; boundary=...` (quoted or not).
  static func boundary(_ contentType: String) -> String? {
    for parameter in contentType.split(separator: ";").dropFirst() {
      let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
      var value = pair[1]
      if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
      return value.isEmpty || value.utf8.count > 70 ? nil : value
    }
    return nil
  }

  // MARK: JSON

  private static func json(_ body: ByteBuffer) throws(SwitchboardError) -> Decoded {
    let decoded: BatchBody
    do {
      guard !StrictJSON.hasTrailingComma(body.readableBytesView) else {
        throw SwitchboardError.invalid("request body must be valid JSON")
      }
      decoded = try JSONDecoder().decode(BatchBody.self, from: Data(body.readableBytesView))
    } catch let error as SwitchboardError {
      throw error
    } catch {
      throw .invalid("request body must be valid JSON")
    }
    return Decoded(options: decoded.options) { agentID, now throws(SwitchboardError) in
      guard let rows = decoded.recipients else { throw .invalid("recipients is required") }
      guard !rows.isEmpty else { throw .invalid("recipients must not be empty") }
      guard rows.count <= BatchContract.maxRecipients else {
        throw SwitchboardError(
          .payloadTooLarge, "recipients must have at most \(BatchContract.maxRecipients) items")
      }
      var recipients = BatchRecipients()
      for (index, row) in rows.enumerated() {
        switch row.input {
        case .success(let input):
          recipients.add(
            BatchRecipientInput(
              line: index + 1, parameters: input.parameters ?? [], metadata: input.metadata,
              retryContext: input.retryContext), agentID: agentID, now: now)
        case .failure(let error):
          recipients.reject(index + 1, error.message)
        }
      }
      return recipients
    }
  }
}

/// `{agent_id, name, recipients: [{parameters, metadata?, retry_context?}], scheduled_for?,
/// max_concurrency?, idempotency_key?}`. A recipient that is not a call's shape is a rejected
/// row, not a failed upload.
private struct BatchBody: Decodable {
  var options = BatchOptionsInput()
  var recipients: [Recipient]?

  private enum Field: String, CodingKey {
    case agentID = "agent_id"
    case name, recipients
    case scheduledFor = "scheduled_for"
    case maxConcurrency = "max_concurrency"
    case idempotencyKey = "idempotency_key"
  }

  struct Recipient: Decodable {
    var input: Result<MakeCallInput, SwitchboardError>

    init(from decoder: any Decoder) throws {
      do {
        input = .success(try MakeCallBody(from: decoder).input)
      } catch let error as SwitchboardError {
        input = .failure(error)
      } catch {
        input = .failure(.invalid("recipient must be an object with parameters"))
      }
    }
  }

  init(from decoder: any Decoder) throws {
    guard let body = try? decoder.container(keyedBy: Field.self) else {
      throw SwitchboardError.invalid("request body must be a JSON object")
    }
    func present(_ key: Field) -> Bool { body.contains(key) && !((try? body.decodeNil(forKey: key)) ?? false) }
    if present(.agentID) {
      guard let id = try? body.decode(Int64.self, forKey: .agentID) else {
        throw SwitchboardError.invalid("agent_id must be an integer")
      }
      options.agentID = id
    }
    for (key, keyPath) in [(Field.name, \BatchOptionsInput.name), (.idempotencyKey, \.idempotencyKey)]
    where present(key) {
      guard let text = try? body.decode(String.self, forKey: key) else {
        throw SwitchboardError.invalid("\(key.stringValue) must be a string")
      }
      options[keyPath: keyPath] = text
    }
    if present(.maxConcurrency) {
      guard let cap = try? body.decode(Int.self, forKey: .maxConcurrency) else {
        throw SwitchboardError.invalid("max_concurrency must be an integer")
      }
      options.maxConcurrency = cap
    }
    if present(.scheduledFor) {
      guard let text = try? body.decode(String.self, forKey: .scheduledFor), let date = Timestamp.parse(text) else {
        throw SwitchboardError.invalid("scheduled_for must be an ISO 8601 date-time with a UTC offset")
      }
      options.scheduledFor = date
    }
    if present(.recipients) {
      guard let rows = try? body.decode([Recipient].self, forKey: .recipients) else {
        throw SwitchboardError.invalid("recipients must be an array of objects")
      }
      recipients = rows
    }
  }
}
