import ApiaryContracts
import ApiaryRuntime
import GRPCCore
import GRPCProtobuf
import Testing

/// What a component call's failure becomes: the component's own statuses keep their
/// meaning, and an answer that cannot be decoded is the component's fault, not the
/// caller's.
@Suite("component call error translation")
struct CallErrorTranslationTests {
  let context: AdapterContext

  init() throws {
    // Never dialled: translation only reads the socket path for messages.
    context = AdapterContext(
      channel: try ComponentChannel(socketPath: "/nonexistent/translate.sock"), instance: "store")
  }

  @Test("an answer that is not a valid message: failed (500 / INTERNAL), not invalid argument")
  func undecodableAnswer() throws {
    // The deserializer gRPC uses for the adapters, on bytes with wire type 7.
    let decodeError = #expect(throws: RPCError.self) {
      _ = try ProtobufDeserializer<Dapr_Proto_Components_V1_GetResponse>().deserialize(
        [UInt8]([0x0F, 0xFF, 0xFE]))
    }
    let translated = try #require(
      decodeError.map { context.translate($0, what: "Get") } as? ComponentCallError)
    #expect(translated.kind == .failed, "\(translated)")
    #expect(
      translated.message.contains("the component's answer is not a valid message"),
      "\(translated.message)")
  }

  @Test(
    "INVALID_ARGUMENT the component sent stays invalid argument; RESOURCE_EXHAUSTED is a failure with its message"
  )
  func componentStatuses() throws {
    let sent = context.translate(
      RPCError(code: .invalidArgument, message: "key too long"), what: "Set")
    #expect((sent as? ComponentCallError)?.kind == .invalidArgument)
    let tooLarge = context.translate(
      RPCError(
        code: .resourceExhausted,
        message: "Received message larger than max (104857631 vs. 4194304)"), what: "Get")
    let failed = try #require(tooLarge as? ComponentCallError)
    #expect(failed.kind == .failed && failed.message.contains("larger than max"), "\(failed)")
  }
}
