import Foundation
import SwitchboardCore
import Testing

@Suite("Phone number time zones")
struct PhoneTimeZonesTests {
  /// `Fixtures/phone-timezones.tsv`: phonenumbers' own answers for valid numbers of every calling
  /// code, written by `scripts/generate-phone-timezones` with the table.
  struct Sample {
    var sets: [Int: [String]] = [:]
    var rows: [(number: String, region: String, zones: [String])] = []

    init() throws {
      let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appending(path: "Fixtures/phone-timezones.tsv")
      for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if fields[0] == "set", let index = Int(fields[1]) {
          sets[index] = fields[2] == "Etc/Unknown" ? [] : fields[2].split(separator: " ").map(String.init)
        } else if fields.count == 3, let index = Int(fields[2]), let zones = sets[index] {
          rows.append((fields[0], fields[1], zones))
        }
      }
    }
  }

  @Test("answers as libphonenumber (Python phonenumbers) does for 12,000+ numbers of every calling code")
  func matchesPhonenumbers() throws {
    let sample = try Sample()
    #expect(sample.rows.count >= 10_000)
    var codes: Set<Int> = []
    var mismatches: [String] = []
    for row in sample.rows {
      guard let location = PhoneTimeZones.locate(row.number) else {
        mismatches.append("\(row.number): not located")
        continue
      }
      codes.insert(location.callingCode)
      if location.timeZones != row.zones || location.region != row.region {
        mismatches.append(
          "\(row.number): \(location.region) \(location.timeZones), phonenumbers \(row.region) \(row.zones)")
      }
    }
    #expect(mismatches.isEmpty, "\(mismatches.count) differ, e.g. \(mismatches.prefix(5))")
    // Every assigned calling code is in the sample (215 in phonenumbers 9.0.43).
    #expect(codes.count >= 215)
  }

  @Test(
    "known numbers: a fixed line by its area, a mobile where mobiles roam the whole country",
    arguments: [
      ("+919876543210", 91, "IN", ["Asia/Calcutta"]),
      ("+12125551234", 1, "US", ["America/New_York"]),
      ("+14155550123", 1, "US", ["America/Los_Angeles"]),
      ("+442071234567", 44, "GB", ["Europe/London"]),
      ("+61212345678", 61, "AU", ["Australia/Sydney"]),
      ("+9771234567", 977, "NP", ["Asia/Katmandu"]),
    ])
  func known(_ number: String, _ code: Int, _ region: String, _ zones: [String]) {
    #expect(PhoneTimeZones.locate(number) == NumberLocation(callingCode: code, region: region, timeZones: zones))
  }

  @Test("a Russian mobile may be in any of Russia's zones; a landline in Moscow is in one")
  func kinds() throws {
    let mobile = try #require(PhoneTimeZones.locate("+79161234567"))
    #expect(mobile.timeZones.count > 10 && mobile.timeZones.contains("Asia/Vladivostok"))
    #expect(PhoneTimeZones.locate("+74951234567")?.timeZones == ["Europe/Moscow"])
  }

  @Test(
    "not E.164, or a calling code nobody has: no location",
    arguments: ["", "+", "919876543210", "+91 98765", "+9991234567", "+1234567890123456", "+٩١٩٨٧٦٥٤٣٢١٠"])
  func unlocated(_ text: String) {
    #expect(PhoneTimeZones.locate(text) == nil)
  }

  @Test("every zone in the table is one this machine's time-zone database knows")
  func zonesExist() {
    let unknown = PhoneTimeZones.allTimeZones.filter { TimeZone(identifier: $0) == nil }
    #expect(unknown.isEmpty, "\(unknown.sorted())")
    #expect(PhoneTimeZones.allTimeZones.count > 250)
  }
}
