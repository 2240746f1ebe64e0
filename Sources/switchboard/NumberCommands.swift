import ArgumentParser
import Foundation
import SwitchboardCore

/// `switchboard numbers locate`: where a number is, from the table recipient hours use.
struct Numbers: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Where phone numbers are.", subcommands: [Locate.self])

  struct Locate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print each number's calling code, region and candidate time zones (libphonenumber's data).",
      discussion: """
        One line a number: the number, its calling code, the calling code's main region, and its \
        candidate IANA zones separated by commas (`-` when the data places it nowhere). With \
        --benchmark N, looks the numbers up N times over and prints the rate and the table's memory.
        """)

    @Argument(help: "E.164 numbers; read from standard input, one a line, when none are given.")
    var numbers: [String] = []

    @Option(help: .hidden) var benchmark: Int?

    func run() throws {
      var numbers = numbers
      if numbers.isEmpty {
        while let line = readLine() {
          let number = line.trimmingCharacters(in: .whitespaces)
          if !number.isEmpty { numbers.append(number) }
        }
      }
      if let benchmark {
        try Self.benchmark(numbers, lookups: benchmark)
        return
      }
      var unknown = false
      for number in numbers {
        guard let location = PhoneTimeZones.locate(number) else {
          print("\(number) not an E.164 number with an assigned calling code")
          unknown = true
          continue
        }
        let zones = location.timeZones.isEmpty ? "-" : location.timeZones.joined(separator: ",")
        print("\(number) +\(location.callingCode) \(location.region) \(zones)")
      }
      if unknown { throw ExitCode(1) }
    }

    /// Lookups per second over `numbers`, round after round, and the resident memory the table
    /// added when it was parsed.
    static func benchmark(_ numbers: [String], lookups: Int) throws {
      guard !numbers.isEmpty, lookups > 0 else { throw ValidationError("give numbers and --benchmark N > 0") }
      let before = residentKilobytes()
      _ = PhoneTimeZones.locate(numbers[0])
      let after = residentKilobytes()
      var zones = 0
      let clock = ContinuousClock()
      let elapsed = clock.measure {
        for index in 0..<lookups {
          zones &+= PhoneTimeZones.locate(numbers[index % numbers.count])?.timeZones.count ?? 0
        }
      }
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      print(
        "lookups: \(lookups) over \(numbers.count) numbers in \(String(format: "%.2f", seconds)) s: "
          + "\(Int(Double(lookups) / seconds)) lookups/s (zones seen \(zones))")
      print("table: RSS \(before) kB before its first use, \(after) kB after (+\(after - before) kB)")
    }

    /// VmRSS from /proc/self/status (0 where there is none).
    static func residentKilobytes() -> Int {
      guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
      for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
      }
      return 0
    }
  }
}
