import GRPCNIOTransportHTTP2
import NIOSSL

/// PEM files that put both listeners behind TLS; with `clientCA`, mutual TLS: gRPC and HTTP
/// clients must present a certificate that CA signed.
public struct TLSFiles: Sendable, Hashable {
  public var certificateChain: String
  public var privateKey: String
  public var clientCA: String?

  public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
    self.certificateChain = certificateChain
    self.privateKey = privateKey
    self.clientCA = clientCA
  }

  /// Reads every file, so that a missing or malformed one stops start-up with a line that names
  /// its setting, rather than failing the first handshake.
  public func validate() throws {
    _ = try httpConfiguration()
  }

  /// The HTTP listener's TLS (HTTP/1.1 by ALPN).
  func httpConfiguration() throws -> TLSConfiguration {
    let chain = try Self.read("--tls-certificate-chain", certificateChain) {
      try NIOSSLCertificate.fromPEMFile($0).map(NIOSSLCertificateSource.certificate)
    }
    guard !chain.isEmpty else {
      throw ConfigurationError("--tls-certificate-chain: no certificate in \(certificateChain)")
    }
    let key = try Self.read("--tls-private-key", privateKey) { try NIOSSLPrivateKey(file: $0, format: .pem) }
    var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    configuration.applicationProtocols = ["http/1.1"]
    // NIOSSL's server default still takes TLS 1.0 and 1.1; the gRPC listener (the transport's
    // own configuration) already starts at 1.2.
    configuration.minimumTLSVersion = .tlsv12
    if let clientCA {
      let roots = try Self.read("--tls-client-ca", clientCA) { try NIOSSLCertificate.fromPEMFile($0) }
      guard !roots.isEmpty else { throw ConfigurationError("--tls-client-ca: no certificate in \(clientCA)") }
      configuration.trustRoots = .certificates(roots)
      configuration.certificateVerification = .noHostnameVerification
    }
    return configuration
  }

  /// The gRPC listener's TLS: grpc-swift-nio-transport sets TLS 1.2 as the minimum itself.
  var grpcSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
    let chain: [TLSConfig.CertificateSource] = [.file(path: certificateChain, format: .pem)]
    let key: TLSConfig.PrivateKeySource = .file(path: privateKey, format: .pem)
    guard let clientCA else { return .tls(certificateChain: chain, privateKey: key) }
    return .mTLS(certificateChain: chain, privateKey: key) { tls in
      tls.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
      tls.clientCertificateVerification = .noHostnameVerification
    }
  }

  private static func read<T>(_ setting: String, _ path: String, _ load: (String) throws -> T) throws -> T {
    do {
      return try load(path)
    } catch {
      throw ConfigurationError("\(setting): cannot read \(path) as PEM (\(error))")
    }
  }
}
