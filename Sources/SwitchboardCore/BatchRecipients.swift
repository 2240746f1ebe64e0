import Foundation

/// The limits of a batch upload (issue #10). Rows beyond them reject the whole upload; a row that
/// breaks the call contract is reported and left out.
public enum BatchContract {
  public static let maxRecipients = 100_000
  public static let maxBodyBytes = 50 * 1024 * 1024
  /// Columns of a CSV row, the phone included: a parameter each.
  public static let maxColumns = 50
  /// Rejected rows listed in the answer; `total_rejected` counts them all.
  public static let maxRejectedListed = 100
}

/// One recipient as a transport decoded it: a CSV row, a JSON array element or a gRPC message.
public struct BatchRecipientInput: Sendable {
  /// Where the row was, for the rejection report: a CSV row's number as a spreadsheet shows it
  /// (the header is 1), or a position counted from 1.
  public var line: Int
  public var parameters: [CallParameter]
  public var metadata: String?
  public var retryContext: RetryContext?

  public init(line: Int, parameters: [CallParameter], metadata: String? = nil, retryContext: RetryContext? = nil) {
    self.line = line
    self.parameters = parameters
    self.metadata = metadata
    self.retryContext = retryContext
  }
}

/// A row left out of a batch, and why.
public struct RejectedRecipient: Sendable, Hashable {
  public var line: Int
  public var message: String

  public init(line: Int, message: String) {
    self.line = line
    self.message = message
  }
}

/// A batch's recipients once each row met the call contract: the calls to place, one per
/// contact, and what was left out.
public struct BatchRecipients: Sendable {
  public var calls: [CallRequest] = []
  /// Each call's row (its line, as rejections name it).
  public private(set) var lines: [Int] = []
  /// The first ``BatchContract/maxRejectedListed`` rejections, in row order.
  public var rejected: [RejectedRecipient] = []
  public var totalRejected = 0
  private var phones: Set<String> = []

  public init() {}

  /// Checks one row as `MakeCall` would check it (for `agentID`), and that its number is new to
  /// the batch; keeps it as a call or reports it.
  public mutating func add(_ row: BatchRecipientInput, agentID: Int64, now: Date) {
    let input = MakeCallInput(
      agentID: agentID, parameters: row.parameters, metadata: row.metadata, retryContext: row.retryContext)
    let call: CallRequest
    do {
      call = try CallRequest.validate(input, now: now)
    } catch {
      reject(row.line, error.message)
      return
    }
    guard phones.insert(call.customerPhone).inserted else {
      reject(row.line, "customer_phone \(call.customerPhone) appears earlier in this batch")
      return
    }
    calls.append(call)
    lines.append(row.line)
  }

  /// Drops the calls to these numbers, each reported with `message` on its line.
  public mutating func drop(numbers: Set<String>, message: String) {
    guard !numbers.isEmpty else { return }
    var kept: [CallRequest] = []
    var keptLines: [Int] = []
    var dropped: [Int] = []
    for (call, line) in zip(calls, lines) {
      if numbers.contains(call.customerPhone) {
        dropped.append(line)
      } else {
        kept.append(call)
        keptLines.append(line)
      }
    }
    (calls, lines) = (kept, keptLines)
    for line in dropped { reject(line, message) }
    rejected.sort { $0.line < $1.line }
  }

  /// Reports a row the transport could not read as a recipient (too many columns, bad encoding).
  public mutating func reject(_ line: Int, _ message: String) {
    totalRejected += 1
    if rejected.count < BatchContract.maxRejectedListed {
      rejected.append(RejectedRecipient(line: line, message: message))
    }
  }

  /// Rows seen so far, kept or not.
  public var count: Int { calls.count + totalRejected }
}
