import ApiaryRuntime
import Foundation

/// The human-readable form of a discovery report: a table of components, then the
/// skipped sockets with their reasons.
struct DiscoveryTable {
  let report: DiscoveryReport

  func render() -> String {
    var out = "Sockets folder: \(report.socketsDir)\n\n"
    if report.components.isEmpty {
      out += "No components found.\n"
    } else {
      let rows =
        [["SOCKET", "NAME", "REFLECTION", "SERVICES", "TYPES"]]
        + report.components.map { component in
          [
            component.socket, component.name, component.reflection.rawValue,
            shortServiceNames(component.services),
            component.types.isEmpty ? "-" : component.types.joined(separator: ", "),
          ]
        }
      out += table(rows)
    }
    if !report.skipped.isEmpty {
      out += "\nSkipped:\n"
      for socket in report.skipped {
        out += "  \(socket.socket): \(socket.reason)\n"
      }
    }
    return out
  }

  /// The services without their package and without reflection (the REFLECTION column
  /// says which one answered): `StateStore, Hello, Health`.
  private func shortServiceNames(_ services: [String]) -> String {
    services
      .filter { !$0.hasPrefix("grpc.reflection.") }
      .map { $0.split(separator: ".").last.map(String.init) ?? $0 }
      .joined(separator: ", ")
  }

  private func table(_ rows: [[String]]) -> String {
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1
          ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ") + "\n"
    }.joined()
  }
}
