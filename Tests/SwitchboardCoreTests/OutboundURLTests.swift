import Foundation
import Testing

@testable import SwitchboardCore

/// Issue #20, finding 7: every URL a tenant sets is checked before it is stored, and every
/// address it resolves to before each send.
@Suite("Outbound URL policy")
struct OutboundURLTests {
  let strict = OutboundURLPolicy()
  let permissive = OutboundURLPolicy(allowPrivateAddresses: true)

  func refusal(_ url: String, _ policy: OutboundURLPolicy) -> String? {
    do {
      _ = try policy.check(url)
      return nil
    } catch {
      return error.message
    }
  }

  /// The issue's list, every one refused by default.
  static let internalURLs = [
    "http://127.0.0.1/hook", "http://localhost/hook", "http://[::1]/hook", "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data", "http://[::ffff:169.254.169.254]/", "http://10.0.0.5/hook",
    "http://172.16.0.1/hook", "http://172.31.255.255/", "http://192.168.1.1/hook", "http://[fd00::1]/hook",
    "http://2130706433/hook", "http://0x7f000001/hook", "http://0177.0.0.1/", "http://127.1/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://localhost.:8080/", "http://printer.local/",
    "http://[fe80::1]/", "http://224.0.0.1/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:7f00:1::]/", "http://intranet/hook",
  ]

  @Test("internal hosts, literals in any spelling, and internal names are refused", arguments: internalURLs)
  func internalHosts(url: String) {
    #expect(refusal(url, strict) != nil, "\(url)")
    // The operator may allow them for receivers on its own network.
    #expect(refusal(url, permissive) == nil, "\(url)")
  }

  @Test(
    "what is not a plain http(s) URL is refused whatever the policy",
    arguments: [
      ("https://user:pass@hooks.example.com/", "must not carry a user name or password"),
      ("https://user@hooks.example.com/", "must not carry a user name or password"),
      ("https://hooks.example.com:99999/", ""),
      ("https://hooks.example.com:0/", "must have a port between 1 and 65535"),
      ("https://hooks.example.com/a\r\nX-Injected: 1", "must not contain spaces, control or non-ASCII characters"),
      ("https://hooks.example.com/a b", "must not contain spaces, control or non-ASCII characters"),
      ("https://hooks.example.com/\u{2028}", "must not contain spaces, control or non-ASCII characters"),
      ("ftp://hooks.example.com/", "must be an http or https URL"),
      ("file:///etc/passwd", "must be an http or https URL"),
      ("https://%31%32%37.0.0.1/", ""),
      ("https:///nohost", ""),
    ])
  func malformed(url: String, expected: String) {
    for policy in [strict, permissive] {
      let message = refusal(url, policy)
      #expect(message != nil, "\(url)")
      if !expected.isEmpty { #expect(message?.hasSuffix(expected) == true, "\(url): \(message ?? "")") }
    }
  }

  @Test("public hosts and addresses pass, with their port and host as the HTTP client reads them")
  func publicHosts() throws {
    let named = try strict.check("https://hooks.example.com/switchboard?x=1")
    #expect(named.host == "hooks.example.com" && named.port == 443 && named.isHTTPS && named.address == nil)
    let literal = try strict.check("http://93.184.216.34:8080/hook")
    #expect(literal.address == .v4(0x5DB8_D822) && literal.port == 8080)
    let v6 = try strict.check("https://[2606:4700:4700::1111]/hook")
    #expect(v6.host == "2606:4700:4700::1111" && v6.address?.isPublic == true)
  }

  @Test("addresses: private, loopback, link-local, unique-local, multicast and embedded ones are not public")
  func addresses() throws {
    let notPublic = [
      "0.0.0.0", "10.1.2.3", "100.127.255.255", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.168.0.1",
      "224.0.0.251", "255.255.255.255", "::", "::1", "::ffff:10.0.0.1", "fc00::1", "fd00:ec2::254", "fe80::1",
      "ff02::1", "2001:db8::1", "64:ff9b::7f00:1", "2002:c0a8:101::",
    ]
    for text in notPublic {
      let address = try #require(IPAddress(literal: text), "\(text)")
      #expect(!address.isPublic, "\(text)")
    }
    for text in ["8.8.8.8", "93.184.216.34", "172.32.0.1", "2606:4700:4700::1111", "64:ff9b::808:808"] {
      let address = try #require(IPAddress(literal: text), "\(text)")
      #expect(address.isPublic, "\(text)")
    }
    #expect(IPAddress(literal: "2130706433") == .v4(0x7F00_0001))
    #expect(IPAddress(literal: "hooks.example.com") == nil)
    #expect(IPAddress(literal: "::ffff:169.254.169.254")?.description == "::ffff:169.254.169.254")
  }
}

/// Issue #20, finding 9: a recording's URL goes out in a header, JSON, gRPC and webhooks.
@Suite("Recording URLs")
struct RecordingURLTests {
  @Test(
    "control characters, spaces and non-ASCII are refused",
    arguments: [
      "https://r.example/a\r\nb", "https://r.example/a\tb", "https://r.example/a\u{1}", "https://r.example/a\u{7f}",
      "https://r.example/\u{2028}", "https://r.example/\u{85}", "https://r.example/a b", "https://r.example/é",
    ])
  func refused(url: String) {
    #expect(throws: SwitchboardError.self) { try RecordContract.recordingURL(url) }
  }

  @Test("a plain https URL is kept as sent")
  func kept() throws {
    #expect(try RecordContract.recordingURL("https://r.example/a%20b.mp3?sig=x") == "https://r.example/a%20b.mp3?sig=x")
  }
}

/// Issue #20, findings 1, 2 and 6: values are in range before they are bound.
@Suite("Values in range")
struct ValueRangeTests {
  @Test("times outside years 1 to 9999 are a 400 naming the field")
  func times() throws {
    for seconds in [1e13, -1e13, 253_402_300_800, -62_135_596_801] {
      var filter = ConversationFilter(createdAfter: Date(timeIntervalSince1970: seconds))
      #expect(throws: SwitchboardError.self) { try filter.validated() }
      do {
        _ = try filter.validated()
      } catch {
        #expect(error.message.hasPrefix("created_after must be between"))
      }
      filter = ConversationFilter(createdBefore: Date(timeIntervalSince1970: seconds))
      #expect(throws: SwitchboardError.self) { try filter.validated() }
    }
    _ = try ConversationFilter(createdAfter: Date(timeIntervalSince1970: 0)).validated()
  }

  @Test("a forged cursor past year 9999 is a 400")
  func cursor() {
    let forged = Data("c1.9223372036854775807.0190a8b4-2c3d-7e4f-8a9b-0c1d2e3f4a5b".utf8).base64EncodedString()
      .replacingOccurrences(of: "=", with: "")
    #expect(throws: SwitchboardError.self) { try ConversationCursor(encoded: forged) }
  }

  @Test("durations over a week, NaN and infinite numbers are refused in reports")
  func reports() {
    for duration in [1e200, 1e308, 604_800.5, -1, .nan, .infinity] {
      let input = CallEventInput(eventID: "e", status: "completed", durationSeconds: duration)
      #expect(throws: SwitchboardError.self) { try CallEvent.validate(input) }
    }
    #expect(
      (try? CallEvent.validate(CallEventInput(eventID: "e", status: "completed", durationSeconds: 604_800))) != nil)
    for number in [Double.nan, .infinity, -.infinity] {
      let input = CallEventInput(eventID: "e", status: "completed", collectedData: ["x": .double(number)])
      #expect(throws: SwitchboardError.self) { try CallEvent.validate(input) }
      var call = MakeCallInput(agentID: 1, parameters: [CallParameter(name: "customer_phone", value: "+14155550100")])
      call.retryContext = RetryContext(collectedData: ["x": ["nested": .double(number)]])
      #expect(throws: SwitchboardError.self) { try CallRequest.validate(call, now: Date()) }
    }
  }
}

/// The shared sweeps' bookkeeping of failed rows.
@Suite("Sweep quarantine")
struct SweepQuarantineTests {
  @Test("a failed key is left out until its wait passes, the wait doubles, a success forgets it")
  func backoff() {
    var quarantine = SweepQuarantine<Int>(initialWait: .seconds(30), maximumWait: .seconds(100))
    let start = ContinuousClock.now
    quarantine.failed(1, now: start)
    #expect(quarantine.excluded(now: start) == [1])
    #expect(quarantine.excluded(now: start + .seconds(31)).isEmpty)
    quarantine.failed(1, now: start + .seconds(31))
    #expect(quarantine.excluded(now: start + .seconds(90)) == [1])
    #expect(quarantine.excluded(now: start + .seconds(92)).isEmpty)
    quarantine.failed(1, now: start + .seconds(92))  // 120 s, capped at 100
    #expect(quarantine.excluded(now: start + .seconds(191)) == [1])
    #expect(quarantine.excluded(now: start + .seconds(193)).isEmpty)
    quarantine.succeeded(1)
    #expect(quarantine.count == 0)
  }

  @Test("past its capacity it forgets the key released soonest")
  func capacity() {
    var quarantine = SweepQuarantine<Int>(capacity: 3)
    let start = ContinuousClock.now
    for key in 0..<4 { quarantine.failed(key, now: start + .seconds(key)) }
    #expect(quarantine.count == 3)
    #expect(Set(quarantine.excluded(now: start + .seconds(4))) == [1, 2, 3])
  }
}

@Suite("Deadline")
struct DeadlineTests {
  @Test("work that never ends is cancelled at the deadline; work that ends first answers")
  func race() async throws {
    await #expect(throws: Deadline.Exceeded.self) {
      try await Deadline.run(within: .milliseconds(50)) {
        try await Task.sleep(for: .seconds(3600))
        return 1
      }
    }
    let answer = try await Deadline.run(within: .seconds(3600)) { 42 }
    #expect(answer == 42)
  }
}
