import CSV
import Foundation
import SwitchboardCore

/// A batch upload's file (`POST /v1/batch-call`, field `file`): a CSV whose header names
/// `customer_phone`; every other column becomes a call parameter of its row. Parsed by CSV.swift
/// (quotes, delimiters and line breaks inside quotes, CRLF). What rejects the whole upload throws;
/// a row that breaks the call contract is reported in the result and left out.
enum BatchCSV {
  static func recipients(
    _ bytes: some Collection<UInt8>, agentID: Int64, now: Date
  ) throws(SwitchboardError) -> BatchRecipients {
    // Invalid UTF-8 becomes U+FFFD here, and the rows holding it are reported; a byte-order mark
    // is not part of the first column's name.
    var text = String(decoding: bytes, as: UTF8.self)
    if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
    let reader: CSVReader
    do {
      reader = try CSVReader(string: text, hasHeaderRow: true)
    } catch {
      throw .invalid("file must be a CSV file whose first row names its columns, customer_phone among them")
    }
    let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
    try check(header)

    var recipients = BatchRecipients()
    var line = 1
    while let row = reader.next() {
      line += 1
      // A blank line (the file's last newline, or spacing) is no recipient.
      if row.count == 1 && row[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
      guard recipients.count < BatchContract.maxRecipients else {
        throw SwitchboardError(
          .payloadTooLarge, "file must have at most \(BatchContract.maxRecipients) rows besides the header")
      }
      guard row.count <= header.count else {
        recipients.reject(line, "row has \(row.count) fields; the header names \(header.count) columns")
        continue
      }
      guard !row.contains(where: { $0.unicodeScalars.contains("\u{FFFD}") }) else {
        recipients.reject(line, "row is not valid UTF-8")
        continue
      }
      let parameters = zip(header, row).map { CallParameter(name: $0, value: $1) }
      recipients.add(BatchRecipientInput(line: line, parameters: parameters), agentID: agentID, now: now)
    }
    if let error = reader.error {
      throw SwitchboardError(.invalidRequest, "file is not a valid CSV file", cause: error)
    }
    guard recipients.count > 0 else { throw .invalid("file has no rows besides the header") }
    return recipients
  }

  /// The header: `customer_phone` once, no column unnamed or named twice, not too many.
  private static func check(_ header: [String]) throws(SwitchboardError) {
    guard header.contains("customer_phone") else {
      throw .invalid("file must be a CSV file whose first row names its columns, customer_phone among them")
    }
    guard header.count <= BatchContract.maxColumns else {
      throw .invalid("file must have at most \(BatchContract.maxColumns) columns")
    }
    if header.contains(where: \.isEmpty) { throw .invalid("every column of the header must have a name") }
    var seen: Set<String> = []
    for name in header where !seen.insert(name).inserted {
      throw .invalid("column \(name) appears twice in the header")
    }
  }
}
