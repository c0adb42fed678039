import ArgumentParser

/// The benchmark harness: `apiary-bench run` measures, `apiary-bench tracing` measures
/// what tracing costs, `apiary-bench component` is
/// the component it measures against, `apiary-bench echo-server` the Swift side of the
/// C++ floor client's echo. `Scripts/bench.sh` builds and runs it.
@main
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apiary-bench",
    abstract: "Apiary's benchmark harness.",
    subcommands: [
      RunCommand.self, TracingCommand.self, ComponentCommand.self, EchoServerCommand.self,
    ]
  )
}
