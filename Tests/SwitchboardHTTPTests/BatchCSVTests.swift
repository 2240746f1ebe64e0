import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardHTTP

@Suite("Batch CSV files")
struct BatchCSVTests {
  func read(_ text: String) throws(SwitchboardError) -> BatchRecipients {
    try BatchCSV.recipients(Array(text.utf8), agentID: 7, now: Date())
  }

  func refusal(_ bytes: [UInt8]) -> SwitchboardError? {
    do {
      _ = try BatchCSV.recipients(bytes, agentID: 7, now: Date())
      return nil
    } catch {
      return error
    }
  }

  @Test("every column besides the phone becomes a parameter of its row, in the header's order")
  func columns() throws {
    let file =
      "customer_phone,customer_name,loan_id,due_amount\n+919876543210,Rahul,L-1,1200\n+14155550123,Asha,L-2,80\n"
    let recipients = try read(file)
    #expect(recipients.calls.count == 2 && recipients.totalRejected == 0)
    #expect(
      recipients.calls[0].parameters == [
        CallParameter(name: "customer_phone", value: "+919876543210"),
        CallParameter(name: "customer_name", value: "Rahul"), CallParameter(name: "loan_id", value: "L-1"),
        CallParameter(name: "due_amount", value: "1200"),
      ])
  }

  @Test("quotes, commas and line breaks inside quotes, CRLF and a byte-order mark")
  func quoting() throws {
    let file =
      "\u{FEFF}customer_name,customer_phone,address\r\n\"Rao, Asha\",+919876543210,\"12 Main St\r\nPune\"\r\n"
      + "\"He said \"\"hi\"\"\",+14155550123,\"\"\r\n"
    let recipients = try read(file)
    #expect(recipients.totalRejected == 0)
    #expect(recipients.calls.map(\.customerPhone) == ["+919876543210", "+14155550123"])
    #expect(recipients.calls[0].parameters[0].value == "Rao, Asha")
    #expect(recipients.calls[0].parameters[2].value == "12 Main St\r\nPune")
    #expect(recipients.calls[1].parameters[0].value == "He said \"hi\"")
  }

  @Test("a row with bytes that are not UTF-8, or more fields than the header, is reported, not fatal")
  func badRows() throws {
    var bytes = Array("customer_phone,customer_name\n+919876543210,Rahul\n+14155550123,".utf8)
    bytes += [0xC3, 0x28]  // an invalid sequence
    bytes += Array("\n+14155550124,Asha,extra\n+14155550125,Ravi\n\n".utf8)
    let recipients = try BatchCSV.recipients(bytes, agentID: 7, now: Date())
    #expect(recipients.calls.map(\.customerPhone) == ["+919876543210", "+14155550125"])
    #expect(
      recipients.rejected == [
        RejectedRecipient(line: 3, message: "row is not valid UTF-8"),
        RejectedRecipient(line: 4, message: "row has 3 fields; the header names 2 columns"),
      ])
  }

  @Test(
    "what rejects the whole upload: no header, no customer_phone column, no rows, a bad header",
    arguments: [
      ("", "file must be a CSV file whose first row names its columns, customer_phone among them"),
      (
        "name,phone\nRahul,+919876543210\n",
        "file must be a CSV file whose first row names its columns, customer_phone among them"
      ),
      (
        "\u{00}\u{01}PK\u{03}\u{04} binary",
        "file must be a CSV file whose first row names its columns, customer_phone among them"
      ),
      ("customer_phone,customer_name\n", "file has no rows besides the header"),
      ("customer_phone,customer_name\n\n\n", "file has no rows besides the header"),
      ("customer_phone,,x\n+919876543210,a,b\n", "every column of the header must have a name"),
      ("customer_phone,a,a\n+919876543210,1,2\n", "column a appears twice in the header"),
    ])
  func wholeUpload(_ file: String, _ message: String) {
    let error = refusal(Array(file.utf8))
    #expect(error?.message == message, "\(file.debugDescription)")
  }

  @Test("more than 50 columns, or more than 100,000 rows, is refused whole")
  func limits() {
    let wide = (["customer_phone"] + (1...50).map { "c\($0)" }).joined(separator: ",") + "\n+919876543210\n"
    #expect(refusal(Array(wide.utf8))?.message == "file must have at most 50 columns")
    var long = "customer_phone\n"
    long.reserveCapacity(1_800_000)
    for index in 0...BatchContract.maxRecipients { long += "+9198\(String(format: "%08d", index))\n" }
    let error = refusal(Array(long.utf8))
    #expect(error?.message == "file must have at most 100000 rows besides the header")
    if case .payloadTooLarge? = error?.kind {} else { Issue.record("expected 413, got \(String(describing: error))") }
  }
}
