import GRPCCore
import Instrumentation
import ServiceContextModule
import Tracing

/// A server span per RPC, a child of the caller's `traceparent` (from its metadata), ended when
/// the RPC's status is known. Spans go wherever the process's tracer sends them (`--otel-endpoint`);
/// with none bootstrapped they cost nothing.
public struct TracingInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var parent = ServiceContext.current ?? .topLevel
    InstrumentationSystem.instrument.extract(request.metadata, into: &parent, using: MetadataExtractor())
    let method = context.descriptor.fullyQualifiedMethod
    let span = startSpan(method, context: parent, ofKind: .server)
    span.attributes["rpc.system"] = "grpc"
    span.attributes["rpc.service"] = context.descriptor.service.fullyQualifiedService
    span.attributes["rpc.method"] = context.descriptor.method
    @Sendable func end(_ error: RPCError?) {
      span.attributes["rpc.grpc.status_code"] = error?.code.rawValue ?? 0
      if let error { span.setStatus(SpanStatus(code: .error, message: error.message)) }
      span.end()
    }
    do {
      return try await ServiceContext.withValue(span.context) { try await next(request, context) }.onEnd(end)
    } catch {
      end(RPCError.from(error))
      throw error
    }
  }
}

/// Reads trace context (`traceparent`, `tracestate`) from gRPC metadata.
struct MetadataExtractor: Extractor {
  func extract(key: String, from carrier: Metadata) -> String? {
    carrier[stringValues: key].first { _ in true }
  }
}
