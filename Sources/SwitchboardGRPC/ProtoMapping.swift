import Foundation
import SwiftProtobuf
import SwitchboardCore

// Translations between the generated messages and the domain. Nothing else lives here.

extension MakeCallInput {
  init(_ message: Switchboard_V1_MakeCallRequest) {
    self.init(
      agentID: message.agentID == 0 ? nil : message.agentID,
      parameters: message.parameters.isEmpty
        ? nil : message.parameters.map { CallParameter(name: $0.name, value: $0.value) },
      conversationID: message.conversationID.isEmpty ? nil : message.conversationID,
      idempotencyKey: message.idempotencyKey.isEmpty ? nil : message.idempotencyKey,
      metadata: message.hasMetadata ? message.metadata : nil,
      retryContext: message.hasRetryContext ? RetryContext(message.retryContext) : nil,
      scheduledFor: message.hasScheduledFor ? message.scheduledFor.date : nil)
    recipientTimezone = message.recipientTimezone.isEmpty ? nil : message.recipientTimezone
  }
}

extension RetryContext {
  init(_ message: Switchboard_V1_RetryContext) {
    self.init(
      collectedData: message.hasCollectedData ? [String: JSONValue](message.collectedData) : nil,
      initialMessage: message.hasRetryInitialMessage ? message.retryInitialMessage : nil,
      language: message.hasRetryLanguage ? message.retryLanguage : nil,
      stageID: message.hasRetryStageID ? message.retryStageID : nil)
  }

  var proto: Switchboard_V1_RetryContext {
    var message = Switchboard_V1_RetryContext()
    if let collectedData { message.collectedData = Google_Protobuf_Struct(collectedData) }
    if let initialMessage { message.retryInitialMessage = initialMessage }
    if let language { message.retryLanguage = language }
    if let stageID { message.retryStageID = stageID }
    return message
  }
}

extension Switchboard_V1_CallReceipt {
  init(_ receipt: CallReceipt) {
    self.init()
    agentID = receipt.agentID
    conversationID = receipt.conversationID.lowercased
    if let scheduledFor = receipt.scheduledFor { self.scheduledFor = Google_Protobuf_Timestamp(date: scheduledFor) }
    status = receipt.status.rawValue
    traceID = receipt.traceID.lowercased
    attemptNumber = Int32(clamping: receipt.attemptNumber)
  }
}

extension Switchboard_V1_CallStatus {
  init(_ status: CallStatus) {
    self =
      switch status {
      case .scheduled: .scheduled
      case .initiated: .initiated
      case .dispatching: .dispatching
      case .dispatched: .dispatched
      case .ringing: .ringing
      case .inProgress: .inProgress
      case .completed: .completed
      case .noAnswer: .noAnswer
      case .busy: .busy
      case .failed: .failed
      case .unreachable: .unreachable
      case .voicemail: .voicemail
      case .canceled: .canceled
      case .suppressed: .suppressed
      }
  }
}

extension CallStatus {
  init?(_ status: Switchboard_V1_CallStatus) {
    guard let match = CallStatus.allCases.first(where: { Switchboard_V1_CallStatus($0) == status }) else { return nil }
    self = match
  }
}

extension Switchboard_V1_CallAttempt {
  init(_ attempt: CallAttempt) {
    self.init()
    traceID = attempt.traceID.lowercased
    conversationID = attempt.conversationID.lowercased
    attemptNumber = Int32(clamping: attempt.attemptNumber)
    agentID = attempt.agentID
    status = .init(attempt.status)
    customerPhone = attempt.customerPhone
    parameters = attempt.parameters.map { parameter in
      var message = Switchboard_V1_Parameter()
      message.name = parameter.name
      message.value = parameter.value
      return message
    }
    if let metadata = attempt.metadata { self.metadata = metadata }
    if let idempotencyKey = attempt.idempotencyKey { self.idempotencyKey = idempotencyKey }
    if let retryContext = attempt.retryContext { self.retryContext = retryContext.proto }
    effectiveRetryContext = attempt.effectiveRetryContext.proto
    if let date = attempt.scheduledFor { scheduledFor = Google_Protobuf_Timestamp(date: date) }
    createdAt = Google_Protobuf_Timestamp(date: attempt.createdAt)
    updatedAt = Google_Protobuf_Timestamp(date: attempt.updatedAt)
    if let date = attempt.dispatchedAt { dispatchedAt = Google_Protobuf_Timestamp(date: date) }
    if let date = attempt.endedAt { endedAt = Google_Protobuf_Timestamp(date: date) }
    if let failureReason = attempt.failureReason { self.failureReason = failureReason }
    if let results = attempt.results { self.results = Google_Protobuf_Struct(results) }
    if let durationSeconds = attempt.durationSeconds { self.durationSeconds = durationSeconds }
    if let batchID = attempt.batchID { self.batchID = batchID }
    transcript = (attempt.transcript ?? []).map(Switchboard_V1_TranscriptTurn.init)
    if let url = attempt.recordingURL { recordingURL = url }
    if let answeredBy = attempt.answeredBy { self.answeredBy = answeredBy.rawValue }
    if let failureType = attempt.failureType { self.failureType = failureType.rawValue }
    if let blockedReason = attempt.blockedReason { self.blockedReason = blockedReason.rawValue }
    contactNumber = attempt.customerPhone
    if let milliseconds = attempt.startTimestamp { startTimestamp = milliseconds }
    if let milliseconds = attempt.endTimestamp { endTimestamp = milliseconds }
  }
}

extension Switchboard_V1_Conversation {
  init(_ chain: ConversationChain) {
    self.init()
    conversationID = chain.conversationID.lowercased
    agentID = chain.agentID
    customerPhone = chain.customerPhone
    attemptCount = Int32(clamping: chain.attemptCount)
    var state = Switchboard_V1_ThreadedState()
    state.collectedData = Google_Protobuf_Struct(chain.state.collectedData)
    if let language = chain.state.language { state.language = language }
    if let stageID = chain.state.stageID { state.stageID = stageID }
    self.state = state
    latestStatus = .init(chain.latestStatus)
    createdAt = Google_Protobuf_Timestamp(date: chain.createdAt)
    updatedAt = Google_Protobuf_Timestamp(date: chain.updatedAt)
    attempts = chain.attempts.map(Switchboard_V1_CallAttempt.init)
    if let batchID = chain.batchID { self.batchID = batchID }
    if let latest = chain.latest {
      contactNumber = latest.customerPhone
      if let milliseconds = latest.startTimestamp { startTimestamp = milliseconds }
      if let milliseconds = latest.endTimestamp { endTimestamp = milliseconds }
      if let durationSeconds = latest.durationSeconds { self.durationSeconds = durationSeconds }
      if let failureReason = latest.failureReason { self.failureReason = failureReason }
      if let results = latest.results { self.results = Google_Protobuf_Struct(results) }
      transcript = (latest.transcript ?? []).map(Switchboard_V1_TranscriptTurn.init)
      traceID = latest.traceID.lowercased
      if let url = latest.recordingURL { recordingURL = url }
    }
  }
}

extension BatchOptionsInput {
  init(_ header: Switchboard_V1_BatchHeader) {
    self.init(
      agentID: header.agentID == 0 ? nil : header.agentID, name: header.name,
      scheduledFor: header.hasScheduledFor ? header.scheduledFor.date : nil,
      maxConcurrency: header.maxConcurrency == 0 ? nil : Int(header.maxConcurrency),
      idempotencyKey: header.idempotencyKey.isEmpty ? nil : header.idempotencyKey)
  }
}

extension BatchRecipientInput {
  init(_ message: Switchboard_V1_BatchRecipient, line: Int) {
    self.init(
      line: line, parameters: message.parameters.map { CallParameter(name: $0.name, value: $0.value) },
      metadata: message.hasMetadata ? message.metadata : nil,
      retryContext: message.hasRetryContext ? RetryContext(message.retryContext) : nil)
  }
}

extension Switchboard_V1_Batch {
  init(_ batch: Batch) {
    self.init()
    id = batch.id
    name = batch.name
    agentID = batch.agentID
    status =
      switch batch.status {
      case .pending: .pending
      case .running: .running
      case .paused: .paused
      case .completed: .completed
      case .canceled: .canceled
      }
    totalRecipients = Int32(clamping: batch.totalRecipients)
    createdAt = Google_Protobuf_Timestamp(date: batch.createdAt)
    if let date = batch.scheduledFor { scheduledFor = Google_Protobuf_Timestamp(date: date) }
    if let cap = batch.maxConcurrency { maxConcurrency = Int32(clamping: cap) }
    if let date = batch.completedAt { completedAt = Google_Protobuf_Timestamp(date: date) }
  }
}

extension Switchboard_V1_BatchMetrics {
  init(_ metrics: BatchMetrics) {
    self.init()
    avgDurationSeconds = metrics.averageDurationSeconds ?? 0
    busyCount = Int32(clamping: metrics.busyCount)
    completedCount = Int32(clamping: metrics.completedCount)
    failedCount = Int32(clamping: metrics.failedCount)
    inProgressCount = Int32(clamping: metrics.inProgressCount)
    noAnswerCount = Int32(clamping: metrics.noAnswerCount)
    pendingRetryCount = Int32(clamping: metrics.pendingRetryCount)
    socketFailureCount = Int32(clamping: metrics.socketFailureCount)
    successCount = Int32(clamping: metrics.successCount)
    successRate = metrics.successRate
    totalProcessed = Int32(clamping: metrics.totalProcessed)
    unreachableCount = Int32(clamping: metrics.unreachableCount)
    canceledCount = Int32(clamping: metrics.canceledCount)
    waitingCount = Int32(clamping: metrics.waitingCount)
    totalRecipients = Int32(clamping: metrics.totalRecipients)
    voicemailCount = Int32(clamping: metrics.voicemailCount)
    suppressedCount = Int32(clamping: metrics.suppressedCount)
    deferredContactLimitCount = Int32(clamping: metrics.deferredContactLimitCount)
    deferredOutsideHoursCount = Int32(clamping: metrics.deferredOutsideHoursCount)
  }
}

extension Dictionary where Key == String, Value == JSONValue {
  init(_ message: Google_Protobuf_Struct) {
    self = message.fields.mapValues(JSONValue.init)
  }
}

extension JSONValue {
  init(_ value: Google_Protobuf_Value) {
    switch value.kind {
    case .nullValue, nil: self = .null
    case .boolValue(let flag): self = .bool(flag)
    case .numberValue(let number):
      // Struct numbers are doubles; whole ones read back as integers, as JSON clients wrote them.
      if number.rounded() == number, abs(number) < 9e15 {
        self = .integer(Int64(number))
      } else {
        self = .double(number)
      }
    case .stringValue(let text): self = .string(text)
    case .listValue(let list): self = .array(list.values.map(JSONValue.init))
    case .structValue(let object): self = .object([String: JSONValue](object))
    }
  }
}

extension Google_Protobuf_Struct {
  init(_ members: [String: JSONValue]) {
    self.init()
    fields = members.mapValues(Google_Protobuf_Value.init)
  }
}

extension Google_Protobuf_Value {
  init(_ value: JSONValue) {
    self.init()
    switch value {
    case .null: kind = .nullValue(.nullValue)
    case .bool(let flag): kind = .boolValue(flag)
    case .integer(let number): kind = .numberValue(Double(number))
    case .double(let number): kind = .numberValue(number)
    case .string(let text): kind = .stringValue(text)
    case .array(let items):
      var list = Google_Protobuf_ListValue()
      list.values = items.map(Google_Protobuf_Value.init)
      kind = .listValue(list)
    case .object(let members): kind = .structValue(Google_Protobuf_Struct(members))
    }
  }
}

extension Switchboard_V1_TranscriptTurn {
  init(_ turn: TranscriptTurn) {
    self.init()
    role = turn.role.rawValue
    message = turn.message
  }
}
