import ApiaryRuntime
import Foundation

/// The table `apiary run` prints once start-up is done.
struct StartupTable {
  let components: [ComponentStatus]
  let socketsDir: String

  func render() -> String {
    var rows = [["NAME", "TYPE", "VERSION", "SOURCE", "STATE", "FEATURES"]]
    for component in components {
      var features = component.capabilities.joined(separator: ",")
      if let reason = component.reason, component.state != .up { features = reason }
      rows.append([
        component.name, component.type, component.version.isEmpty ? "-" : component.version,
        component.source.isEmpty ? "-" : component.source, component.state.rawValue,
        features.isEmpty ? "-" : features,
      ])
    }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    let lines = rows.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1
          ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    return "Apiary \(ApiaryVersion.current) started (sockets folder \(socketsDir))\n\n"
      + lines.joined(separator: "\n") + "\n"
  }
}
