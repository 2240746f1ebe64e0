import Foundation
import Logging
import SwitchboardCore

/// Logs one JSON object per line: `timestamp` (ISO 8601, UTC, milliseconds), `level`, `message`,
/// `label`, then the metadata (`trace_id`, `tenant_id`, `conversation_id` where known) as
/// top-level keys. Written by hand: swift-log ships only a text handler, and no JSON handler is
/// among the packages this project may use.
public struct JSONLogHandler: LogHandler {
  public var logLevel: Logger.Level = .info
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?
  let label: String
  let write: @Sendable (String) -> Void

  /// - Parameter write: takes each line, newline included (standard error by default).
  public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
    self.label = label
    self.write = write
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields: [String: JSONValue] = [:]
    var merged = metadata
    if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
    if let extra = event.metadata { merged.merge(extra) { _, new in new } }
    for (key, value) in merged { fields[key] = Self.json(value) }
    fields["timestamp"] = .string(Self.timestamp(Date()))
    fields["level"] = .string(event.level.rawValue)
    fields["message"] = .string(event.message.description)
    fields["label"] = .string(label)
    if event.level >= .error {
      fields["source"] = .string("\(event.file):\(event.line)")
    }
    write(JSONValue.object(fields).encoded() + "\n")
  }

  static func json(_ value: Logger.Metadata.Value) -> JSONValue {
    switch value {
    case .string(let text): .string(text)
    case .stringConvertible(let convertible): .string(convertible.description)
    case .array(let values): .array(values.map(json))
    case .dictionary(let members): .object(members.mapValues(json))
    }
  }

  private static let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
  static func timestamp(_ date: Date) -> String { format.format(date) }

  public static let standardError: @Sendable (String) -> Void = { line in
    FileHandle.standardError.write(Data(line.utf8))
  }
}
