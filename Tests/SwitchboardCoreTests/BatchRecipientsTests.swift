import Foundation
import Testing

@testable import SwitchboardCore

@Suite("Batch recipients")
struct BatchRecipientsTests {
  func row(_ line: Int, _ phone: String, _ extra: [(String, String)] = []) -> BatchRecipientInput {
    BatchRecipientInput(
      line: line,
      parameters: [CallParameter(name: "customer_phone", value: phone)]
        + extra.map { CallParameter(name: $0, value: $1) })
  }

  @Test("each row meets the call contract and names a number new to the batch; the rest are reported")
  func rows() {
    var recipients = BatchRecipients()
    let now = Date()
    recipients.add(row(2, "+919876543210", [("customer_name", "Rahul")]), agentID: 7, now: now)
    recipients.add(row(3, "98765"), agentID: 7, now: now)
    recipients.add(row(4, "+919876543210"), agentID: 7, now: now)
    recipients.add(
      row(5, "+14155550123", [("note", String(repeating: "x", count: CallContract.maxParameterValueLength + 1))]),
      agentID: 7, now: now)
    recipients.add(row(6, "+14155550124"), agentID: 7, now: now)
    #expect(recipients.calls.map(\.customerPhone) == ["+919876543210", "+14155550124"])
    #expect(recipients.calls.first?.parameters.last == CallParameter(name: "customer_name", value: "Rahul"))
    #expect(recipients.calls.allSatisfy { $0.agentID == 7 })
    #expect(recipients.rejected.map(\.line) == [3, 4, 5])
    #expect(recipients.rejected[0].message == "customer_phone must be an E.164 phone number")
    #expect(recipients.rejected[1].message == "customer_phone +919876543210 appears earlier in this batch")
    #expect(recipients.rejected[2].message.contains("at most \(CallContract.maxParameterValueLength)"))
    #expect(recipients.totalRejected == 3 && recipients.count == 5)
  }

  @Test("the answer lists the first 100 rejections and counts them all")
  func rejectionsCapped() {
    var recipients = BatchRecipients()
    for line in 2...251 { recipients.add(row(line, "not a phone"), agentID: 7, now: Date()) }
    #expect(recipients.totalRejected == 250)
    #expect(recipients.rejected.count == BatchContract.maxRejectedListed)
    #expect(recipients.rejected.last?.line == 101)
    #expect(recipients.calls.isEmpty)
  }
}
