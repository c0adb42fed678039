import ApiaryRuntime
import Synchronization

/// Bulk subscribe (spec §6.5): groups a subscription's messages per matched route into
/// batches of at most `maxMessagesCount`, each sent when full or when its first
/// message has waited `maxAwaitDuration`, and hands each batch to the pipeline, one
/// batch at a time.
struct BulkBatcher: Sendable {
  let options: BulkSubscribeOptions

  /// One route's batch being filled.
  private struct Filling {
    var items: [SubscriptionPipeline.Prepared] = []
    var due: ContinuousClock.Instant
  }

  /// Consumes `stream` until it ends (or throws); batches are delivered while it is read.
  func run(
    _ stream: AsyncThrowingStream<DeliveredMessage, any Error>, pipeline: SubscriptionPipeline
  ) async throws {
    let filling = Mutex<[String: Filling]>([:])
    let (ready, readySink) = AsyncStream<(String, [SubscriptionPipeline.Prepared])>.makeStream()
    let maximum = max(options.maxMessagesCount, 1)
    let wait = options.maxAwaitDuration
    // Sends the batches that are due now; returns when the next one is.
    let flushDue: @Sendable () -> ContinuousClock.Instant? = {
      let now = ContinuousClock.now
      let (due, next) = filling.withLock {
        batches -> ([(String, [SubscriptionPipeline.Prepared])], ContinuousClock.Instant?) in
        var due: [(String, [SubscriptionPipeline.Prepared])] = []
        for (route, batch) in batches where batch.due <= now {
          due.append((route, batch.items))
          batches[route] = nil
        }
        return (due, batches.values.map(\.due).min())
      }
      for batch in due { readySink.yield(batch) }
      return next
    }
    // Batches are delivered in the order they became ready, one at a time.
    let deliverer = Task {
      for await (route, batch) in ready { await pipeline.handleBatch(batch, route: route) }
    }
    // Wakes at the earliest due time to send batches that waited long enough.
    let ticker = Task {
      while !Task.isCancelled {
        let next = flushDue()
        let sleep =
          next.map { max($0 - ContinuousClock.now, .milliseconds(1)) }
          ?? min(wait, .milliseconds(50))
        try? await Task.sleep(for: min(sleep, .milliseconds(50)))
      }
    }
    try await withTaskCancellationHandler {
      defer { ticker.cancel() }
      do {
        for try await message in stream {
          guard let prepared = await pipeline.prepare(message) else { continue }
          let full = filling.withLock { batches -> [SubscriptionPipeline.Prepared]? in
            var batch = batches[prepared.route] ?? Filling(due: .now + wait)
            batch.items.append(prepared)
            if batch.items.count >= maximum {
              batches[prepared.route] = nil
              return batch.items
            }
            batches[prepared.route] = batch
            return nil
          }
          if let full { readySink.yield((prepared.route, full)) }
        }
      } catch {
        handBack(filling, readySink)
        await deliverer.value
        throw error
      }
      handBack(filling, readySink)
      await deliverer.value
    } onCancel: {
      deliverer.cancel()
      ticker.cancel()
    }
  }

  /// The stream ended: what is still filling is sent, and the delivery task ends
  /// once it has delivered everything.
  private func handBack(
    _ filling: borrowing Mutex<[String: Filling]>,
    _ sink: AsyncStream<(String, [SubscriptionPipeline.Prepared])>.Continuation
  ) {
    let rest = filling.withLock { batches in
      defer { batches = [:] }
      return batches.map { ($0.key, $0.value.items) }
    }
    for batch in rest { sink.yield(batch) }
    sink.finish()
  }
}
