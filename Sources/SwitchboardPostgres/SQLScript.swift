import Foundation

/// Splits a SQL script into statements at top-level semicolons, so a migration file can run
/// statement by statement over the extended protocol (which takes one statement at a time).
/// Understands quoted strings and identifiers, `--` and `/* */` comments, and `$tag$` bodies.
/// Written by hand: postgres-nio has no simple-query API for multi-statement scripts.
enum SQLScript {
  static func statements(in script: String) -> [String] {
    var statements: [String] = []
    var current = ""
    var index = script.startIndex

    func flush() {
      let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
      if !statement.isEmpty, !isOnlyComments(statement) { statements.append(statement) }
      current = ""
    }

    while index < script.endIndex {
      let character = script[index]
      let rest = script[index...]
      if character == "'" || character == "\"" {
        let end = closingQuote(character, in: script, after: index)
        current += script[index..<end]
        index = end
      } else if rest.hasPrefix("--") {
        let end = script[index...].firstIndex(of: "\n") ?? script.endIndex
        current += script[index..<end]
        index = end
      } else if rest.hasPrefix("/*") {
        let end = script[index...].range(of: "*/")?.upperBound ?? script.endIndex
        current += script[index..<end]
        index = end
      } else if character == "$", let tag = dollarTag(at: index, in: script) {
        let bodyStart = script.index(index, offsetBy: tag.count)
        let end = script[bodyStart...].range(of: tag)?.upperBound ?? script.endIndex
        current += script[index..<end]
        index = end
      } else if character == ";" {
        flush()
        index = script.index(after: index)
      } else {
        current.append(character)
        index = script.index(after: index)
      }
    }
    flush()
    return statements
  }

  /// The index after the quote closing the one at `start`; doubled quotes are escapes.
  private static func closingQuote(_ quote: Character, in script: String, after start: String.Index) -> String.Index {
    var index = script.index(after: start)
    while index < script.endIndex {
      if script[index] == quote {
        let next = script.index(after: index)
        if next < script.endIndex, script[next] == quote {
          index = script.index(after: next)
          continue
        }
        return next
      }
      index = script.index(after: index)
    }
    return script.endIndex
  }

  /// `$tag$` or `$$` starting at `index`, if one does.
  private static func dollarTag(at index: String.Index, in script: String) -> String? {
    var end = script.index(after: index)
    while end < script.endIndex, script[end] == "_" || script[end].isLetter || script[end].isNumber {
      end = script.index(after: end)
    }
    guard end < script.endIndex, script[end] == "$" else { return nil }
    return String(script[index...end])
  }

  private static func isOnlyComments(_ statement: String) -> Bool {
    statement.split(separator: "\n").allSatisfy {
      let line = $0.trimmingCharacters(in: .whitespaces)
      return line.isEmpty || line.hasPrefix("--")
    }
  }
}
