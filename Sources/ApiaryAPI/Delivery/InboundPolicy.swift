import ApiaryRuntime

// The inbound resiliency policy around deliveries to the app (pub/sub messages and
// input binding events alike).

extension ResiliencyPolicies {
  /// Runs one delivery to the app inside component `name`'s inbound policy (at once
  /// when it has none): a retry verdict is retried as the policy says, and the last
  /// verdict is returned. When the policy gives up with an error of its own (its
  /// circuit breaker is open, its timeout passed) the verdict is a retry; when the
  /// wait is cancelled, `cancelled` (a retry when nil).
  func deliverInbound(
    to name: String, cancelled: AppVerdict? = nil,
    _ once: @escaping @Sendable () async -> AppVerdict
  ) async -> AppVerdict {
    guard let policy = policy(component: name, direction: .inbound) else { return await once() }
    do {
      return try await policy.run {
        let verdict = await once()
        if verdict.isRetry { throw RetryVerdict(verdict: verdict) }
        return verdict
      }
    } catch let error as RetryVerdict {
      return error.verdict
    } catch let error as CancellationError {
      return cancelled ?? .retry(AppFailure("\(error)"))
    } catch {
      return .retry(AppFailure("\(error)"))
    }
  }
}

/// A retry verdict carried through the resiliency policy as an error.
struct RetryVerdict: Error, ResiliencyClassified {
  let verdict: AppVerdict
  var resiliencyHTTPStatus: Int? {
    if case .retry(let failure) = verdict { return failure.resiliencyHTTPStatus }
    return nil
  }
  var resiliencyGRPCCode: Int? {
    if case .retry(let failure) = verdict { return failure.resiliencyGRPCCode }
    return nil
  }
  var isPermanent: Bool { false }
}
