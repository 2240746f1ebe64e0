import GRPCNIOTransportHTTP2
import NIOCore

// The one use of a library surface not meant for production in this module.
//
// `HTTP2ServerTransport.Posix.Config.channelDebuggingCallbacks.onAcceptHTTP2Stream`
// (grpc-swift-nio-transport 2.9.2) is documented as a debugging hook; it is the only way to put
// a handler in front of the transport's stream handler, which MessageSizeGuard needs: the
// transport resets an oversized message's stream (RST_STREAM CANCEL) rather than answering a
// status, and bounds neither a request stream's total nor its duration. Upstream has no public
// per-stream hook (grpc/grpc-swift-nio-transport: no issue tracks one as of 2.9.2). If a release
// stops calling it, or calls it after the stream handler, `StreamBoundsTests` and the oversize
// cases of `GRPCTests` fail: they expect RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED statuses with
// messages, which only the guard sends.
extension HTTP2ServerTransport.Posix.Config {
  mutating func installMessageSizeGuard(limit: Int, streamLimit: Int, deadline: Duration) {
    channelDebuggingCallbacks.onAcceptHTTP2Stream = MessageSizeGuard.install(
      limit: limit, streamLimit: streamLimit, deadline: deadline)
  }
}
