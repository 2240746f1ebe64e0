import Foundation
import GRPCCore
import SwiftProtobuf
import SwitchboardCore

/// `switchboard.v1.ComplianceService`: suppression lists and the compliance check over gRPC,
/// through ``ComplianceOperations`` as on the gateway. `ImportSuppressions` checks numbers as
/// they stream in.
public struct ComplianceService: Switchboard_V1_ComplianceService.ServiceProtocol {
  let operations: ComplianceOperations

  public init(operations: ComplianceOperations) {
    self.operations = operations
  }

  public func addSuppressions(
    request: ServerRequest<Switchboard_V1_AddSuppressionsRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_AddSuppressionsResponse> {
    let tenant = try await tenant(request.metadata)
    let inputs = request.message.entries.map { entry in
      SuppressionInput(
        phoneNumber: entry.phoneNumber.isEmpty ? nil : entry.phoneNumber,
        scope: entry.scope.isEmpty ? nil : entry.scope,
        agentID: entry.hasAgentID ? entry.agentID : nil, reason: entry.hasReason ? entry.reason : nil,
        expiresAt: entry.hasExpiresAt ? entry.expiresAt.checkedDate : nil)
    }
    for (index, entry) in request.message.entries.enumerated() where entry.hasExpiresAt && !entry.expiresAt.isValid {
      throw SwitchboardError.invalid("entries[\(index)].expires_at is out of range")
    }
    let counts = try await operations.add(inputs, tenant: tenant)
    var response = Switchboard_V1_AddSuppressionsResponse()
    response.added = Int64(counts.entries)
    response.endedAttempts = Int64(counts.endedAttempts)
    return ServerResponse(message: response)
  }

  public func listSuppressions(
    request: ServerRequest<Switchboard_V1_ListSuppressionsRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_ListSuppressionsResponse> {
    let tenant = try await tenant(request.metadata)
    let message = request.message
    let filter = try SuppressionFilter.parse(
      phoneNumber: message.phoneNumber.isEmpty ? nil : message.phoneNumber,
      source: message.source.isEmpty ? nil : message.source,
      agentID: message.agentID == 0 ? nil : String(message.agentID),
      limit: message.limit == 0 ? nil : String(message.limit), cursor: message.cursor.isEmpty ? nil : message.cursor)
    let page = try await operations.list(filter, tenant: tenant)
    var response = Switchboard_V1_ListSuppressionsResponse()
    response.data = page.entries.map(Switchboard_V1_Suppression.init)
    response.hasMore_p = page.nextCursor != nil
    response.nextCursor = page.nextCursor ?? ""
    return ServerResponse(message: response)
  }

  public func removeSuppression(
    request: ServerRequest<Switchboard_V1_RemoveSuppressionRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_RemoveSuppressionResponse> {
    let tenant = try await tenant(request.metadata)
    let message = request.message
    try await operations.remove(
      phoneNumber: message.phoneNumber, agentID: message.agentID == 0 ? nil : String(message.agentID), tenant: tenant)
    var response = Switchboard_V1_RemoveSuppressionResponse()
    response.removed = true
    return ServerResponse(message: response)
  }

  public func importSuppressions(
    request: StreamingServerRequest<Switchboard_V1_ImportSuppressionsRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_ImportSuppressionsResponse> {
    let tenant = try await tenant(request.metadata)
    var numbers: SuppressionImport?
    var line = 0
    for try await message in request.messages {
      if numbers == nil {
        numbers = try SuppressionImport(
          scope: message.scope.isEmpty ? nil : message.scope, agentID: message.hasAgentID ? message.agentID : nil,
          reason: message.hasReason ? message.reason : nil, now: Date())
      }
      for phone in message.phoneNumbers {
        line += 1
        try numbers?.add(phone, line: line)
      }
    }
    guard let numbers, numbers.count > 0 else { throw SwitchboardError.invalid("phone_numbers must not be empty") }
    let counts = try await operations.import(numbers.entries, tenant: tenant)
    var response = Switchboard_V1_ImportSuppressionsResponse()
    response.imported = Int64(counts.entries)
    response.endedAttempts = Int64(counts.endedAttempts)
    response.totalRejected = Int64(numbers.totalRejected)
    response.rejected = numbers.rejected.map { "\($0.line): \($0.message)" }
    return ServerResponse(message: response)
  }

  public func checkCompliance(
    request: ServerRequest<Switchboard_V1_CheckComplianceRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_CheckComplianceResponse> {
    let tenant = try await tenant(request.metadata)
    let message = request.message
    if message.hasAt && !message.at.isValid { throw SwitchboardError.invalid("at is out of range") }
    let verdict = try await operations.check(
      customerPhone: message.customerPhone.isEmpty ? nil : message.customerPhone,
      agentID: message.agentID == 0 ? nil : message.agentID, at: message.hasAt ? message.at.checkedDate : nil,
      tenant: tenant)
    var response = Switchboard_V1_CheckComplianceResponse()
    response.allowed = verdict.allowed
    response.reasons = verdict.reasons.map(\.rawValue)
    if let next = verdict.nextAllowedAt { response.nextAllowedAt = Google_Protobuf_Timestamp(date: next) }
    response.recipientTimezones = verdict.recipientTimezones
    return ServerResponse(message: response)
  }

  private func tenant(_ metadata: Metadata) async throws(SwitchboardError) -> Tenant {
    try await operations.authenticate(authorization: metadata.authorization)
  }
}

extension Switchboard_V1_Suppression {
  init(_ entry: Suppression) {
    self.init()
    phoneNumber = entry.phoneNumber
    scope = entry.scope
    if let agent = entry.agentID { agentID = agent }
    if let reason = entry.reason { self.reason = reason }
    source = entry.source.rawValue
    if let trace = entry.traceID { traceID = trace.lowercased }
    createdAt = Google_Protobuf_Timestamp(date: entry.createdAt)
    if let expires = entry.expiresAt { expiresAt = Google_Protobuf_Timestamp(date: expires) }
  }
}

extension Google_Protobuf_Timestamp {
  /// Within the years the service stores; out of range is nil (its caller answers a 400).
  fileprivate var isValid: Bool {
    (0..<1_000_000_000).contains(nanos) && Timestamp.supported.contains(Date(timeIntervalSince1970: Double(seconds)))
  }

  fileprivate var checkedDate: Date? { isValid ? date : nil }
}
