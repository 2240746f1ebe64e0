import CSV
import Foundation
import Hummingbird
import SwitchboardCore

/// Do-not-call lists (`/v1/suppressions`) and the compliance check (`POST /v1/compliance/check`).
extension Gateway {
  func addComplianceRoutes(to router: Router<Context>, _ compliance: ComplianceOperations) {
    router.post("/v1/suppressions") { request, _ in
      let tenant = try await tenant(request)
      var request = request
      let body = try await Self.jsonBody(&request)
      let inputs: [SuppressionInput]
      if let entries = body["entries"] {
        guard body.count == 1 else { throw SwitchboardError.invalid("entries is sent alone, without other members") }
        guard let items = entries.arrayValue else { throw SwitchboardError.invalid("entries must be an array") }
        inputs = try items.enumerated().map { index, item throws(SwitchboardError) in
          guard let object = item.objectValue else { throw .invalid("entries[\(index)] must be an object") }
          return try Self.suppressionInput(object, field: "entries[\(index)].")
        }
      } else {
        inputs = [try Self.suppressionInput(body, field: "")]
      }
      return JSONResponse.ok(["data": try await compliance.add(inputs, tenant: tenant).json])
    }
    router.get("/v1/suppressions") { request, _ in
      let tenant = try await tenant(request)
      let query = request.uri.queryParameters
      let filter = try SuppressionFilter.parse(
        phoneNumber: query["phone_number"].map(String.init), source: query["source"].map(String.init),
        agentID: query["agent_id"].map(String.init), limit: query["limit"].map(String.init),
        cursor: query["cursor"].map(String.init))
      let page = try await compliance.list(filter, tenant: tenant)
      return JSONResponse.ok([
        "data": .array(page.entries.map(\.json)), "has_more": .bool(page.nextCursor != nil),
        "next_cursor": page.nextCursor.map(JSONValue.string) ?? .null,
      ])
    }
    router.delete("/v1/suppressions/:phone_number") { request, context in
      let tenant = try await tenant(request)
      let phone = context.parameters.get("phone_number") ?? ""
      try await compliance.remove(
        phoneNumber: phone.removingPercentEncoding ?? phone,
        agentID: request.uri.queryParameters["agent_id"].map(String.init), tenant: tenant)
      return JSONResponse.ok([
        "data": ["phone_number": .string(phone.removingPercentEncoding ?? phone), "removed": true]
      ])
    }
    router.post("/v1/suppressions/import") { request, _ in
      let tenant = try await tenant(request)
      var request = request
      let body = try await Self.body(&request, upTo: BatchContract.maxBodyBytes)
      let numbers = try Self.suppressionImport(body, contentType: request.headers[.contentType], now: Date())
      let counts = try await compliance.import(numbers.entries, tenant: tenant)
      return JSONResponse.ok(["data": numbers.json(counts)])
    }
    router.post("/v1/compliance/check") { request, _ in
      let tenant = try await tenant(request)
      var request = request
      let body = try await Self.jsonBody(&request)
      let known: Set<String> = ["customer_phone", "agent_id", "at"]
      if let unknown = body.keys.sorted().first(where: { !known.contains($0) }) {
        throw SwitchboardError.invalid("unknown field \(unknown)")
      }
      guard body["customer_phone"] == nil || body["customer_phone"]?.stringValue != nil else {
        throw SwitchboardError.invalid("customer_phone must be a string")
      }
      guard body["agent_id"] == nil || body["agent_id"]?.integerValue != nil else {
        throw SwitchboardError.invalid("agent_id must be an integer")
      }
      let verdict = try await compliance.check(
        customerPhone: body["customer_phone"]?.stringValue, agentID: body["agent_id"]?.integerValue,
        at: try Self.time(body["at"], "at"), tenant: tenant)
      return JSONResponse.ok(["data": verdict.json])
    }
  }

  /// One entry's members; an unknown member or a wrong type is a 400 naming it.
  static func suppressionInput(
    _ object: [String: JSONValue], field: String
  ) throws(SwitchboardError) -> SuppressionInput {
    let known: Set<String> = ["phone_number", "scope", "agent_id", "reason", "expires_at"]
    if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
      throw .invalid("unknown field \(field)\(unknown)")
    }
    func text(_ key: String) throws(SwitchboardError) -> String? {
      switch object[key] {
      case nil, .null?: return nil
      case .string(let value)?: return value
      default: throw .invalid("\(field)\(key) must be a string")
      }
    }
    var input = SuppressionInput(
      phoneNumber: try text("phone_number"), scope: try text("scope"), reason: try text("reason"))
    switch object["agent_id"] {
    case nil, .null?: break
    case .integer(let id)?: input.agentID = id
    default: throw .invalid("\(field)agent_id must be an integer")
    }
    input.expiresAt = try time(object["expires_at"], "\(field)expires_at")
    return input
  }

  /// An ISO 8601 time member, or nil.
  static func time(_ value: JSONValue?, _ name: String) throws(SwitchboardError) -> Date? {
    switch value {
    case nil, .null?: return nil
    case .string(let text)?:
      guard let date = Timestamp.parse(text) else {
        throw .invalid("\(name) must be an ISO 8601 date-time with a UTC offset")
      }
      return date
    default: throw .invalid("\(name) must be an ISO 8601 date-time with a UTC offset")
    }
  }

  /// `multipart/form-data` with a CSV `file` whose header names `phone_number` (other columns are
  /// ignored), and optional fields `scope`, `agent_id`, `reason` for every number.
  static func suppressionImport(
    _ body: ByteBuffer, contentType: String?, now: Date
  ) throws(SwitchboardError) -> SuppressionImport {
    guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
      let boundary = BatchUpload.boundary(contentType)
    else { throw .invalid("Content-Type must be multipart/form-data with a boundary") }
    let parts: [String: ByteBuffer]
    do {
      parts = try BatchUpload.parts(body, boundary: boundary)
    } catch {
      throw SwitchboardError(.invalidRequest, "request body is not valid multipart/form-data", cause: error)
    }
    func text(_ name: String) -> String? {
      parts[name].map { String(decoding: $0.readableBytesView, as: UTF8.self) }.flatMap { $0.isEmpty ? nil : $0 }
    }
    var agentID: Int64?
    if let agent = text("agent_id") {
      guard let id = Int64(agent.trimmingCharacters(in: .whitespaces)) else {
        throw .invalid("agent_id must be an integer")
      }
      agentID = id
    }
    var numbers = try SuppressionImport(scope: text("scope"), agentID: agentID, reason: text("reason"), now: now)
    guard let file = parts["file"] else { throw .invalid("file is required") }
    var csv = String(decoding: file.readableBytesView, as: UTF8.self)
    if csv.unicodeScalars.first == "\u{FEFF}" { csv.unicodeScalars.removeFirst() }
    let reader: CSVReader
    do {
      reader = try CSVReader(string: csv, hasHeaderRow: true)
    } catch {
      throw .invalid("file must be a CSV file whose first row names its columns, phone_number among them")
    }
    let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
    guard let column = header.firstIndex(of: "phone_number") else {
      throw .invalid("file must be a CSV file whose first row names its columns, phone_number among them")
    }
    var line = 1
    while let row = reader.next() {
      line += 1
      if row.count == 1 && row[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
      guard column < row.count else {
        numbers.reject(line, "row has no phone_number field")
        continue
      }
      try numbers.add(row[column], line: line)
    }
    if let error = reader.error {
      throw SwitchboardError(.invalidRequest, "file is not a valid CSV file", cause: error)
    }
    guard numbers.count > 0 else { throw .invalid("file has no rows besides the header") }
    return numbers
  }
}
