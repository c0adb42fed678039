import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport

/// The bindings contract: `dapr.proto.components.v1.OutputBinding` (the operations it
/// lists) and `InputBinding` (the `Read` stream), whichever the socket serves.
enum BindingChecks {
  typealias Output = Dapr_Proto_Components_V1_OutputBinding.Client<SelectedClientTransport>
  typealias Input = Dapr_Proto_Components_V1_InputBinding.Client<SelectedClientTransport>

  static let outputService = "dapr.proto.components.v1.OutputBinding"
  static let inputService = "dapr.proto.components.v1.InputBinding"

  static func suite(services: Set<String>) -> BlockSuite {
    let output = services.contains(outputService)
    let input = services.contains(inputService)
    return BlockSuite(
      block: .bindings,
      initialise: { context in
        if output {
          var request = Dapr_Proto_Components_V1_OutputBindingInitRequest()
          request.metadata.properties = context.options.metadata
          let client = Output(wrapping: context.client)
          _ = try await context.initialise("OutputBinding/Init") {
            _ = try await client.`init`(request, metadata: $0, options: $1)
          }
        }
        if input {
          var request = Dapr_Proto_Components_V1_InputBindingInitRequest()
          request.metadata.properties = context.options.metadata
          let client = Input(wrapping: context.client)
          _ = try await context.initialise("InputBinding/Init") {
            _ = try await client.`init`(request, metadata: $0, options: $1)
          }
        }
        return []
      },
      checks: (output ? [outputPing, listOperations, invokeListed, invokeUnlisted] : [])
        + (input ? [inputPing, read] : []))
  }

  static func operations(_ context: CheckContext) async throws -> [String] {
    try await expectOK("ListOperations") {
      try await Output(wrapping: context.client).listOperations(
        .init(), metadata: context.metadata, options: context.callOptions
      )
      .operations
    }
  }

  static func invoke(
    _ context: CheckContext, _ operation: String
  ) async throws -> Dapr_Proto_Components_V1_InvokeResponse {
    var request = Dapr_Proto_Components_V1_InvokeRequest()
    request.operation = operation
    request.data = Data(#"{"apiaryConformance":"probe"}"#.utf8)
    return try await Output(wrapping: context.client).invoke(
      request, metadata: context.metadata, options: context.callOptions)
  }

  static let outputPing = Check("output-ping") { context in
    _ = try await expectOK("OutputBinding/Ping") {
      try await Output(wrapping: context.client).ping(
        .init(), metadata: context.metadata, options: context.callOptions)
    }
    return "Ping answered"
  }

  static let listOperations = Check("list-operations") { context in
    let listed = try await operations(context)
    guard !listed.isEmpty else {
      throw CheckFailure("ListOperations answered no operations; the sidecar could invoke nothing")
    }
    guard Set(listed).count == listed.count, !listed.contains("") else {
      throw CheckFailure("ListOperations answered empty or repeated names: \(listed)")
    }
    return "operations: \(listed.joined(separator: ", "))"
  }

  static let invokeListed = Check("invoke-listed") { context in
    let listed = try await operations(context)
    var answers: [String] = []
    for operation in listed {
      do {
        _ = try await invoke(context, operation)
        answers.append("\(operation): ok")
      } catch let error as RPCError where error.code == .unimplemented {
        throw CheckFailure(
          "'\(operation)' is listed by ListOperations but Invoke answers UNIMPLEMENTED: \(error.message)"
        )
      } catch let error as RPCError where error.code == .deadlineExceeded {
        throw CheckFailure(
          "Invoke '\(operation)' did not answer within \(formatDuration(context.timeout))")
      } catch let error as RPCError {
        // A listed operation may refuse this generic request (a missing file name, …);
        // it must still answer, with its reason.
        answers.append("\(operation): \(error.code)")
      }
    }
    return "every listed operation answered (\(answers.joined(separator: "; ")))"
  }

  static let invokeUnlisted = Check("invoke-unlisted") { context in
    let name = "apiary-conformance-no-such-operation-\(context.runID)"
    let error = try await expectStatus(
      "Invoke of an operation ListOperations does not list", "it must be refused"
    ) {
      _ = try await invoke(context, name)
    }
    return "an unlisted operation is refused (\(error.code))"
  }

  static let inputPing = Check("input-ping") { context in
    _ = try await expectOK("InputBinding/Ping") {
      try await Input(wrapping: context.client).ping(
        .init(), metadata: context.metadata, options: context.callOptions)
    }
    return "Ping answered"
  }

  static let read = Check("read") { context in
    let client = Input(wrapping: context.client)
    let waited = ContinuousClock.now
    let (answers, answer) = AsyncStream<Dapr_Proto_Components_V1_ReadRequest>.makeStream()
    let problem: String? = try await withThrowingTaskGroup(of: String?.self) { group in
      group.addTask {
        try await client.read(
          metadata: context.metadata, options: context.streamOptions,
          requestProducer: { writer in
            for await reply in answers { try await writer.write(reply) }
          },
          onResponse: { response in
            for try await event in response.messages {
              guard !event.messageID.isEmpty else {
                return "an event came with no message id to answer it by"
              }
              // Answer it as an application that handled it, then end the stream.
              var reply = Dapr_Proto_Components_V1_ReadRequest()
              reply.messageID = event.messageID
              answer.yield(reply)
              answer.finish()
              return nil
            }
            return "the component ended the Read stream without an event"
          })
      }
      group.addTask {
        try await Task.sleep(for: context.timeout)
        throw CheckSkip(
          "no event within \(formatDuration(context.timeout)); an input binding may have nothing to read"
        )
      }
      defer {
        answer.finish()
        group.cancelAll()
      }
      return try await group.next() ?? nil
    }
    if let problem { throw CheckFailure(problem) }
    return
      "an event arrived on Read after \(formatDuration(waited.duration(to: .now))), with a message id, and was answered"
  }
}
