import HTTPTypes
import SwitchboardCore

// The headers of the call contract.

extension HTTPField.Name {
  static let idempotencyKey = Self("Idempotency-Key")!
  static let traceparent = Self("traceparent")!
  static let switchboardTenant = Self("Switchboard-Tenant")!
  static let retryAfter = Self("Retry-After")!
  static let rateLimitLimit = Self("X-RateLimit-Limit")!
  static let rateLimitRemaining = Self("X-RateLimit-Remaining")!
  static let rateLimitReset = Self("X-RateLimit-Reset")!
}

extension RateLimitStatus {
  var headers: HTTPFields {
    [
      .rateLimitLimit: String(limit), .rateLimitRemaining: String(remaining), .rateLimitReset: String(resetSeconds),
    ]
  }
}
