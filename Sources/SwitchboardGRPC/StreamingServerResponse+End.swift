import GRPCCore

extension StreamingServerResponse {
  /// The same response, calling `onEnd` once when its status is known: at once when it is
  /// refused, else when its messages are all written (for a stream, when the stream ends), with
  /// the error if it ended with one.
  func onEnd(_ onEnd: @escaping @Sendable (RPCError?) -> Void) -> Self {
    var response = self
    switch response.accepted {
    case .failure(let error):
      onEnd(error)
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await producer(writer)
          onEnd(nil)
          return trailers
        } catch {
          onEnd(RPCError.from(error))
          throw error
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }
}

extension RPCError {
  /// The status `error` is answered with: its own when it has one (an `RPCError`, or a
  /// ``SwitchboardError``), else UNKNOWN naming its type.
  static func from(_ error: any Error) -> RPCError {
    if let convertible = error as? any RPCErrorConvertible { return RPCError(convertible) }
    return RPCError(code: .unknown, message: "\(type(of: error))")
  }
}
