import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore

/// The development dialer: takes every call and plays it out as a voice runtime would, reporting
/// ringing → in_progress → an outcome through the same event path. Call parameters drive it:
/// `sim_outcome` (completed, no_answer, busy, failed, unreachable, voicemail; default completed),
/// `sim_collected` (a JSON object reported as collected data), `sim_stage`, `sim_duration_ms`
/// (default 200).
///
/// The calls it plays are its own tasks, run by ``run()`` as a lifecycle service: on graceful
/// shutdown it takes no new call and lets the calls in flight play to their end.
public final class SimulatedDialer: Dialer, Service {
  public typealias Reporter = @Sendable (_ tenantID: Int64, _ traceID: UUID, _ event: CallEventInput) async -> Void

  let report: Reporter
  let logger: Logger
  private let plays: AsyncStream<@Sendable () async -> Void>
  private let newPlays: AsyncStream<@Sendable () async -> Void>.Continuation

  public init(logger: Logger, report: @escaping Reporter) {
    self.report = report
    self.logger = logger
    (plays, newPlays) = AsyncStream.makeStream()
  }

  public func run() async {
    await withDiscardingTaskGroup { group in
      await withGracefulShutdownHandler {
        for await play in plays { group.addTask { await play() } }
      } onGracefulShutdown: {
        self.newPlays.finish()
      }
    }
  }

  /// Reports through ``CallOperations``'s event path, as a real runtime's reports arrive.
  public convenience init(operations: CallOperations, logger: Logger) {
    self.init(logger: logger) { tenantID, traceID, event in
      do {
        _ = try await operations.recordInternally(event, traceID: traceID, tenantID: tenantID)
      } catch {
        logger.warning("simulated event not recorded", metadata: ["error": "\(error)"])
      }
    }
  }

  public func dial(_ request: DialRequest) async -> DialResult {
    let outcome = request.parameter("sim_outcome") ?? "completed"
    guard let status = CallStatus(rawValue: outcome), status.isTerminal, status != .canceled else {
      return .failed(reason: "sim_outcome must be completed, no_answer, busy, failed, unreachable or voicemail")
    }
    let collected = request.parameter("sim_collected").flatMap { try? JSONValue.decode($0).objectValue }
    let stage = request.parameter("sim_stage")
    let duration = max(0, request.parameter("sim_duration_ms").flatMap(Int.init) ?? 200)
    let report = self.report
    let id = request.traceID.lowercased
    let queued = newPlays.yield {
      let step = Duration.milliseconds(duration / 3)
      try? await Task.sleep(for: step)
      await report(request.tenantID, request.traceID, CallEventInput(eventID: "\(id)-ringing", status: "ringing"))
      guard status != .noAnswer, status != .busy, status != .unreachable else {
        try? await Task.sleep(for: step * 2)
        await report(
          request.tenantID, request.traceID, CallEventInput(eventID: "\(id)-\(outcome)", status: outcome))
        return
      }
      try? await Task.sleep(for: step)
      await report(
        request.tenantID, request.traceID,
        CallEventInput(eventID: "\(id)-in_progress", status: "in_progress", stageID: stage))
      try? await Task.sleep(for: step)
      var final = CallEventInput(
        eventID: "\(id)-\(outcome)", status: outcome, collectedData: collected, stageID: stage,
        results: ["simulated": true, "outcome": .string(outcome)], durationSeconds: Double(duration) / 1000,
        failureReason: status == .failed ? "simulated failure" : nil)
      final.answeredBy = status == .voicemail ? AnsweredBy.machine.rawValue : AnsweredBy.human.rawValue
      await report(request.tenantID, request.traceID, final)
    }
    guard case .enqueued = queued else { return .failed(reason: "the simulated dialer has stopped") }
    return .accepted
  }
}
