import ApiaryRuntime
import ArgumentParser

/// The `apiary` command line.
@main
struct Apiary: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apiary",
    abstract:
      "A sidecar that hosts pluggable components over Unix sockets and serves them through the Dapr API.",
    discussion: """
      Components are separate processes, in any language, that serve a Dapr
      building block (state store, pub/sub, bindings, secret store) or a hello
      component as gRPC on a Unix socket in the sockets folder. Apiary finds them
      with gRPC server reflection.

      The sockets folder is --sockets-dir, else $APIARY_SOCKETS_DIR, else
      $DAPR_COMPONENTS_SOCKETS_FOLDER, else /tmp/dapr-components-sockets.

      Start with:  apiary run           (the sidecar)
                   apiary discover      (what is in the sockets folder?)
                   apiary check         (do the component files read?)
                   apiary conformance   (does a component honour its contract?)
      """,
    version: ApiaryVersion.current,
    subcommands: [Run.self, Discover.self, Check.self, Conformance.self]
  )
}
