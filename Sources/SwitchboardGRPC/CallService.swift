import Foundation
import GRPCCore
import Logging
import ServiceLifecycle
import SwitchboardCore

/// `switchboard.v1.CallService`: authenticates from `authorization` metadata and hands the
/// request to ``CallOperations``. A ``SwitchboardError`` thrown here is answered with its gRPC status
/// (``SwitchboardError/rpcErrorCode``); anything else by ``ErrorInterceptor``.
public struct CallService: Switchboard_V1_CallService.ServiceProtocol {
  let operations: CallOperations

  public init(operations: CallOperations) {
    self.operations = operations
  }

  public func makeCall(
    request: ServerRequest<Switchboard_V1_MakeCallRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_MakeCallResponse> {
    let caller = try await operations.authenticateCaller(authorization: request.metadata.authorization)
    var input = MakeCallInput(request.message)
    try input.adoptIdempotencyKeyHeader(Array(request.metadata[stringValues: "idempotency-key"]))
    input.traceparent = request.metadata[stringValues: "traceparent"].first { _ in true }
    let accepted = try await operations.makeCall(input, caller: caller)
    var response = Switchboard_V1_MakeCallResponse()
    response.data = Switchboard_V1_CallReceipt(accepted.receipt)
    var metadata = Metadata()
    if let rate = accepted.rateLimit {
      metadata.addString(String(rate.limit), forKey: "x-ratelimit-limit")
      metadata.addString(String(rate.remaining), forKey: "x-ratelimit-remaining")
      metadata.addString(String(rate.resetSeconds), forKey: "x-ratelimit-reset")
    }
    return ServerResponse(message: response, metadata: metadata)
  }

  public func getCall(
    request: ServerRequest<Switchboard_V1_GetCallRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_GetCallResponse> {
    let tenant = try await tenant(request.metadata)
    var response = Switchboard_V1_GetCallResponse()
    response.data = Switchboard_V1_CallAttempt(
      try await operations.call(traceID: request.message.traceID, tenant: tenant))
    return ServerResponse(message: response)
  }

  public func cancelCall(
    request: ServerRequest<Switchboard_V1_CancelCallRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_GetCallResponse> {
    let tenant = try await tenant(request.metadata)
    var response = Switchboard_V1_GetCallResponse()
    response.data = Switchboard_V1_CallAttempt(
      try await operations.cancelCall(traceID: request.message.traceID, tenant: tenant))
    return ServerResponse(message: response)
  }

  public func getConversation(
    request: ServerRequest<Switchboard_V1_GetConversationRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_GetConversationResponse> {
    let tenant = try await tenant(request.metadata)
    let id = request.message.conversationID
    let chain = try await operations.conversation(id, tenant: tenant)
    var response = Switchboard_V1_GetConversationResponse()
    response.data = Switchboard_V1_Conversation(chain)
    if let reference = ConversationReference(id), reference.attemptNumber != nil,
      let attempt = chain.attempt(reference)
    {
      response.attempt = Switchboard_V1_CallAttempt(attempt)
    }
    return ServerResponse(message: response)
  }

  public func listConversations(
    request: ServerRequest<Switchboard_V1_ListConversationsRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_ListConversationsResponse> {
    let tenant = try await tenant(request.metadata)
    let message = request.message
    var filter = ConversationFilter(
      agentID: message.agentID == 0 ? nil : message.agentID, batchID: message.batchID == 0 ? nil : message.batchID,
      customerPhone: message.customerPhone.isEmpty ? nil : message.customerPhone,
      createdAfter: message.hasCreatedAfter ? message.createdAfter.date : nil,
      createdBefore: message.hasCreatedBefore ? message.createdBefore.date : nil)
    if message.status != .unspecified {
      guard let status = CallStatus(message.status) else { throw ConversationFilter.unknownStatus }
      filter.status = status
    }
    let paging = try ConversationPaging.checked(
      limit: message.limit == 0 ? nil : Int(message.limit), offset: Int(message.offset),
      cursor: message.cursor.isEmpty ? nil : message.cursor, includeTotal: message.includeTotal)
    let page = try await operations.conversations(filter, paging: paging, tenant: tenant)
    var response = Switchboard_V1_ListConversationsResponse()
    response.data = page.conversations.map(Switchboard_V1_Conversation.init)
    response.hasMore_p = page.hasMore
    if let total = page.total { response.total = Int64(total) }
    if let cursor = page.nextCursor { response.nextCursor = cursor.encoded }
    return ServerResponse(message: response)
  }

  public func reportCallEvent(
    request: ServerRequest<Switchboard_V1_ReportCallEventRequest>, context: ServerContext
  ) async throws -> ServerResponse<Switchboard_V1_ReportCallEventResponse> {
    let tenant = try await reporter(request.metadata)
    let message = request.message
    var input = CallEventInput(
      eventID: message.eventID.isEmpty ? nil : message.eventID,
      status: message.status == .unspecified ? nil : CallStatus(message.status)?.rawValue,
      collectedData: message.hasCollectedData ? [String: JSONValue](message.collectedData) : nil,
      stageID: message.hasStageID ? message.stageID : nil,
      results: message.hasResults ? [String: JSONValue](message.results) : nil,
      durationSeconds: message.hasDurationSeconds ? message.durationSeconds : nil,
      failureReason: message.hasFailureReason ? message.failureReason : nil)
    if !message.transcript.isEmpty {
      input.transcript = .array(
        message.transcript.map { ["role": .string($0.role), "message": .string($0.message)] })
    }
    input.recordingURL = message.hasRecordingURL ? message.recordingURL : nil
    input.answeredBy = message.hasAnsweredBy ? message.answeredBy : nil
    input.failureType = message.hasFailureType ? message.failureType : nil
    input.optOut = message.optOut
    let (attempt, duplicate) = try await operations.reportEvent(traceID: message.traceID, input, tenant: tenant)
    var response = Switchboard_V1_ReportCallEventResponse()
    response.data = Switchboard_V1_CallAttempt(attempt)
    response.duplicate = duplicate
    return ServerResponse(message: response)
  }

  /// Sends every attempt of the chain, then each attempt again whenever it changes, until the
  /// client goes away or the server shuts down. Changes come from this replica's
  /// ``ConversationWatchers``: an idle watch costs no database query.
  public func watchConversation(
    request: ServerRequest<Switchboard_V1_WatchConversationRequest>, context: ServerContext
  ) async throws -> StreamingServerResponse<Switchboard_V1_ConversationUpdate> {
    let tenant = try await tenant(request.metadata)
    let attempts = try await operations.watchConversation(request.message.conversationID, tenant: tenant)
    return StreamingServerResponse { writer in
      try? await cancelWhenGracefulShutdown {
        for await attempt in attempts {
          var update = Switchboard_V1_ConversationUpdate()
          update.attempt = Switchboard_V1_CallAttempt(attempt)
          try await writer.write(update)
        }
      }
      return [:]
    }
  }

  /// The tenant whose API key the metadata carries.
  private func tenant(_ metadata: Metadata) async throws(SwitchboardError) -> Tenant {
    try await operations.authenticate(authorization: metadata.authorization)
  }

  /// Who reports an event: a tenant's key, or the dialer secret naming the tenant.
  private func reporter(_ metadata: Metadata) async throws(SwitchboardError) -> Tenant {
    try await operations.authenticateReporter(
      authorization: metadata.authorization,
      tenantHeader: metadata[stringValues: "switchboard-tenant"].first { _ in true })
  }
}

extension Metadata {
  /// The `authorization` value; `nil` (so 401) when absent or given more than once, as on HTTP.
  var authorization: String? {
    var values = self[stringValues: "authorization"].makeIterator()
    guard let first = values.next(), values.next() == nil else { return nil }
    return first
  }
}
