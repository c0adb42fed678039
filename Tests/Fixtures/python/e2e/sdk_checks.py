#!/usr/bin/env python3
"""End-to-end checks of Apiary's gRPC app API through the Dapr Python SDK.

Usage: python3 sdk_checks.py [--store NAME] CASE [CASE ...]

Cases: state, pubsub_streaming, publish_unknown, binding, secrets, metadata,
token_required, token_accepted (see README.md beside this file).

For every passing case the script prints `ok CASE` on stdout.  On the first
failure it prints `FAIL CASE: <what was expected, what came>` on stderr and
exits 1 (2 for a usage error).  Keys and topics carry a per-run uuid, so
reruns against the same sidecar never collide.

The SDK reads DAPR_GRPC_PORT, DAPR_HTTP_PORT and DAPR_API_TOKEN from the
environment; `DaprClient()` first waits (DAPR_HEALTH_TIMEOUT, default 60 s)
for GET /v1.0/healthz/outbound to answer 2xx on the HTTP port.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Support", "python"))
from apiarytest import cases  # noqa: E402
from apiarytest.checks import CheckFailure, check, expect_equal  # noqa: E402

# Give every unary SDK call a deadline so that a sidecar that never answers
# fails the check instead of hanging it (the SDK reads this at call time).
os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "20")

import grpc  # noqa: E402

from dapr.clients import DaprClient  # noqa: E402
from dapr.clients.grpc._request import (  # noqa: E402
    TransactionalStateOperation,
    TransactionOperationType,
)
from dapr.clients.grpc._state import Concurrency, StateItem, StateOptions  # noqa: E402
from dapr.proto.runtime.v1 import dapr_pb2_grpc, state_pb2  # noqa: E402

RUN_ID = uuid.uuid4().hex[:12]
CASE_TIMEOUT = float(os.environ.get("APIARY_E2E_CASE_TIMEOUT", "120"))
STREAM_TIMEOUT = 15.0  # pubsub_streaming: overall budget for the exchange
QUIET_PERIOD = 1.0  # pubsub_streaming: nothing may arrive this long after SUCCESS


# --------------------------------------------------------------------------- helpers


def unique(name: str) -> str:
    return f"e2e-{RUN_ID}-{name}"


def describe_rpc_error(error: grpc.RpcError) -> str:
    try:
        return f"{error.code().name}: {error.details()!r}"
    except Exception:  # pragma: no cover - defensive
        return repr(error)


def call(what: str, fn):
    """Runs fn, which must succeed; turns any error into a CheckFailure naming `what`."""
    try:
        return fn()
    except CheckFailure:
        raise
    except grpc.RpcError as error:
        raise CheckFailure(f"{what}: expected success, got gRPC error {describe_rpc_error(error)}")
    except ValueError as error:
        inner = error.__context__
        if isinstance(inner, grpc.RpcError):
            raise CheckFailure(
                f"{what}: expected success, got gRPC error {describe_rpc_error(inner)} "
                f"(and the SDK could not read its status details: {error})"
            )
        raise CheckFailure(f"{what}: expected success, got {type(error).__name__}: {error}")
    except Exception as error:
        raise CheckFailure(f"{what}: expected success, got {type(error).__name__}: {error}")


def expect_code(what: str, code: grpc.StatusCode, fn) -> grpc.RpcError:
    """Runs fn, which must fail with a gRPC status `code`.

    The SDK raises DaprGrpcError (a grpc.RpcError) from most methods and the raw
    grpc.RpcError from invoke_binding/get_secret/get_bulk_secret.  When the
    status carries `grpc-status-details-bin` whose code or message differ from
    the call's own status, the SDK's DaprGrpcError constructor raises ValueError
    instead (grpc_status.rpc_status.from_call); that is reported as a failure,
    since an SDK user could not read such an error.
    """
    try:
        result = fn()
    except grpc.RpcError as error:
        got = error.code()
        if got != code:
            raise CheckFailure(f"{what}: expected gRPC {code.name}, got {describe_rpc_error(error)}")
        return error
    except ValueError as error:
        inner = error.__context__
        if isinstance(inner, grpc.RpcError):
            raise CheckFailure(
                f"{what}: expected gRPC {code.name}; the call failed with {describe_rpc_error(inner)} "
                f"but the SDK could not build DaprGrpcError from it ({error}): "
                "grpc-status-details-bin must carry the same code and message as the status"
            )
        raise CheckFailure(f"{what}: expected gRPC {code.name}, got ValueError: {error}")
    except CheckFailure:
        raise
    except Exception as error:
        raise CheckFailure(f"{what}: expected gRPC {code.name}, got {type(error).__name__}: {error}")
    raise CheckFailure(f"{what}: expected gRPC {code.name}, but the call succeeded ({result!r})")


class Context:
    def __init__(self, store: str) -> None:
        self.store = store
        self._client: DaprClient | None = None

    def client(self) -> DaprClient:
        if self._client is None:
            self._client = call("DaprClient() (waits for GET /v1.0/healthz/outbound)", DaprClient)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass


def get_state(c: DaprClient, store: str, key: str, what: str):
    return call(f"get_state({store!r}, {key!r}) {what}", lambda: c.get_state(store_name=store, key=key))


def expect_state(c: DaprClient, store: str, key: str, data: bytes, what: str):
    """get_state must answer `data`; with data b'' the key must be absent (no etag either)."""
    response = get_state(c, store, key, what)
    expect_equal(f"get_state({key!r}) data {what}", response.data, data)
    if data == b"":
        expect_equal(f"get_state({key!r}) etag {what} (absent key)", response.etag, "")
    else:
        check(bool(response.etag), f"get_state({key!r}) etag {what}: expected a non-empty etag, got {response.etag!r}")
    return response


# --------------------------------------------------------------------------- cases


def case_state(ctx: Context) -> None:
    c = ctx.client()
    store = ctx.store
    key = unique("state")
    v1, v2 = b'{"v": 1}', b'{"v": 2}'

    call("save_state", lambda: c.save_state(store_name=store, key=key, value=v1))
    first = expect_state(c, store, key, v1, "after save_state")
    etag1 = first.etag

    call("save_state with the current etag", lambda: c.save_state(store_name=store, key=key, value=v2, etag=etag1))
    second = expect_state(c, store, key, v2, "after save_state with the current etag")
    etag2 = second.etag
    check(etag2 != etag1, f"etag after a successful etag save: expected it to change from {etag1!r}, got {etag2!r}")

    expect_code(
        "save_state with a stale etag",
        grpc.StatusCode.ABORTED,
        lambda: c.save_state(store_name=store, key=key, value=b"stale", etag=etag1),
    )
    expect_code(
        "save_state with the invalid etag 'not-a-number'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.save_state(store_name=store, key=key, value=b"invalid", etag="not-a-number"),
    )
    expect_code(
        "save_state first-write without etag on an existing key",
        grpc.StatusCode.ABORTED,
        lambda: c.save_state(
            store_name=store, key=key, value=b"first-write", options=StateOptions(concurrency=Concurrency.first_write)
        ),
    )
    after = expect_state(c, store, key, v2, "after the rejected writes (they must change nothing)")
    expect_equal("etag after the rejected writes", after.etag, etag2)

    # first-write without an etag on a new key creates it
    fresh = unique("state-first-write")
    call(
        "save_state first-write without etag on a new key",
        lambda: c.save_state(
            store_name=store, key=fresh, value=b"created", options=StateOptions(concurrency=Concurrency.first_write)
        ),
    )
    created = expect_state(c, store, fresh, b"created", "after a first-write save on a new key")
    expect_code(
        "delete_state with a stale etag",
        grpc.StatusCode.ABORTED,
        lambda: c.delete_state(store_name=store, key=key, etag=etag1),
    )
    expect_state(c, store, key, v2, "after delete_state with a stale etag (must change nothing)")
    call("delete_state with the current etag", lambda: c.delete_state(store_name=store, key=fresh, etag=created.etag))
    expect_state(c, store, fresh, b"", "after delete_state with the current etag")

    call("delete_state", lambda: c.delete_state(store_name=store, key=key))
    expect_state(c, store, key, b"", "after delete_state")

    # bulk save and get, one key missing
    kb1, kb2, kb_missing = unique("bulk-1"), unique("bulk-2"), unique("bulk-missing")
    call(
        "save_bulk_state",
        lambda: c.save_bulk_state(store_name=store, states=[StateItem(key=kb1, value="one"), StateItem(key=kb2, value="two")]),
    )
    bulk = call(
        "get_bulk_state",
        lambda: c.get_bulk_state(store_name=store, keys=[kb1, kb2, kb_missing], parallelism=2),
    )
    items = {item.key: item for item in bulk.items}
    expect_equal("get_bulk_state item count", len(bulk.items), 3)
    expect_equal("get_bulk_state keys", sorted(items), sorted([kb1, kb2, kb_missing]))
    for key_, data in ((kb1, b"one"), (kb2, b"two")):
        item = items[key_]
        expect_equal(f"get_bulk_state data of {key_!r}", bytes(item.data), data)
        check(bool(item.etag), f"get_bulk_state etag of {key_!r}: expected non-empty, got {item.etag!r}")
        expect_equal(f"get_bulk_state error of {key_!r}", item.error, "")
    missing = items[kb_missing]
    expect_equal(f"get_bulk_state data of the missing key {kb_missing!r}", bytes(missing.data), b"")
    expect_equal(f"get_bulk_state etag of the missing key {kb_missing!r}", missing.etag, "")
    expect_equal(f"get_bulk_state error of the missing key {kb_missing!r}", missing.error, "")

    # transaction: upsert two, delete one
    kt1, kt2, kt3 = unique("tx-1"), unique("tx-2"), unique("tx-3")
    call("save_state before the transaction", lambda: c.save_state(store_name=store, key=kt3, value=b"doomed"))
    expect_state(c, store, kt3, b"doomed", "before the transaction")
    operations = [
        TransactionalStateOperation(key=kt1, data="tx-one"),
        TransactionalStateOperation(key=kt2, data="tx-two"),
        TransactionalStateOperation(key=kt3, operation_type=TransactionOperationType.delete),
    ]
    call("execute_state_transaction", lambda: c.execute_state_transaction(store_name=store, operations=operations))
    expect_state(c, store, kt1, b"tx-one", "after the transaction's upsert")
    expect_state(c, store, kt2, b"tx-two", "after the transaction's upsert")
    expect_state(c, store, kt3, b"", "after the transaction's delete")

    # unknown store
    expect_code(
        "get_state on the unknown store 'nope'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.get_state(store_name="nope", key=key),
    )
    expect_code(
        "save_state on the unknown store 'nope'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.save_state(store_name="nope", key=key, value=b"x"),
    )


def case_pubsub_streaming(ctx: Context) -> None:
    c = ctx.client()
    topic = unique("topic")
    payload = {"n": 1}
    deadline = time.monotonic() + STREAM_TIMEOUT

    def remaining() -> float:
        return max(0.0, deadline - time.monotonic())

    # subscribe() blocks until the first message of the stream (the initial
    # response, which the SDK discards) arrives; run it with a timeout.
    started: "queue.Queue[tuple[str, object]]" = queue.Queue()

    def start() -> None:
        try:
            started.put(("ok", c.subscribe(pubsub_name="pubsub", topic=topic)))
        except BaseException as error:  # noqa: BLE001
            started.put(("error", error))

    threading.Thread(target=start, name="subscribe", daemon=True).start()
    try:
        kind, value = started.get(timeout=remaining())
    except queue.Empty:
        raise CheckFailure(
            f"subscribe(pubsub='pubsub', topic={topic!r}): no initial response within {STREAM_TIMEOUT:.0f} s "
            "(the SDK waits for the stream's first message, SubscribeTopicEventsResponseInitialAlpha1)"
        )
    if kind == "error":
        error = value
        if isinstance(error, grpc.RpcError):
            raise CheckFailure(f"subscribe(pubsub='pubsub', topic={topic!r}): gRPC error {describe_rpc_error(error)}")
        raise CheckFailure(f"subscribe(pubsub='pubsub', topic={topic!r}): {type(error).__name__}: {error}")
    subscription = value

    received: "queue.Queue[object]" = queue.Queue()

    def reader() -> None:
        while True:
            try:
                message = subscription.next_message()
            except BaseException as error:  # noqa: BLE001
                received.put(error)
                return
            received.put(message)

    threading.Thread(target=reader, name="subscription-reader", daemon=True).start()

    def next_delivery(what: str):
        try:
            item = received.get(timeout=remaining())
        except queue.Empty:
            raise CheckFailure(f"{what}: nothing arrived on topic {topic!r} within {STREAM_TIMEOUT:.0f} s")
        if isinstance(item, BaseException):
            detail = describe_rpc_error(item) if isinstance(item, grpc.RpcError) else f"{type(item).__name__}: {item}"
            raise CheckFailure(f"{what}: the subscription stream failed: {detail}")
        return item

    def check_message(what: str, message) -> None:
        check(bool(message.id()), f"{what}: expected a non-empty CloudEvent id, got {message.id()!r}")
        expect_equal(f"{what} topic", message.topic(), topic)
        expect_equal(f"{what} pubsub_name", message.pubsub_name(), "pubsub")
        expect_equal(f"{what} data_content_type", message.data_content_type(), "application/json")
        expect_equal(f"{what} spec_version", message.spec_version(), "1.0")
        raw = bytes(message.raw_data())
        try:
            decoded = json.loads(raw)
        except ValueError:
            raise CheckFailure(f"{what} data: expected the JSON {payload!r}, got {raw!r}")
        expect_equal(f"{what} data", decoded, payload)

    try:
        call(
            f"publish_event(pubsub='pubsub', topic={topic!r})",
            lambda: c.publish_event(
                pubsub_name="pubsub",
                topic_name=topic,
                data=json.dumps(payload),
                data_content_type="application/json",
            ),
        )
        first = next_delivery("first delivery")
        check_message("first delivery", first)
        subscription.respond_retry(first)

        second = next_delivery(f"redelivery after RETRY of id {first.id()!r}")
        check_message("redelivery", second)
        expect_equal("redelivery id (must be the retried message's id)", second.id(), first.id())
        subscription.respond_success(second)

        try:
            extra = received.get(timeout=QUIET_PERIOD)
        except queue.Empty:
            extra = None
        if extra is not None:
            if isinstance(extra, BaseException):
                detail = describe_rpc_error(extra) if isinstance(extra, grpc.RpcError) else f"{type(extra).__name__}: {extra}"
                raise CheckFailure(f"after SUCCESS: expected a quiet open stream for {QUIET_PERIOD:.0f} s, the stream failed: {detail}")
            raise CheckFailure(
                f"after SUCCESS: expected no further delivery within {QUIET_PERIOD:.0f} s, got id {extra.id()!r} "
                f"data {bytes(extra.raw_data())!r}"
            )
    finally:
        closer = threading.Thread(target=subscription.close, name="subscription-close", daemon=True)
        closer.start()
        closer.join(timeout=5)


def case_publish_unknown(ctx: Context) -> None:
    c = ctx.client()
    expect_code(
        "publish_event to the unknown pubsub 'nope'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.publish_event(
            pubsub_name="nope", topic_name=unique("topic"), data='{"n": 1}', data_content_type="application/json"
        ),
    )


def case_binding(ctx: Context) -> None:
    c = ctx.client()
    key = unique("binding")
    call(
        "invoke_binding(events, create)",
        lambda: c.invoke_binding(binding_name="events", operation="create", data="hello", binding_metadata={"key": key}),
    )
    got = call(
        "invoke_binding(events, get)",
        lambda: c.invoke_binding(binding_name="events", operation="get", data="", binding_metadata={"key": key}),
    )
    expect_equal("invoke_binding(events, get) data", got.data, b"hello")

    listed = call("invoke_binding(events, list)", lambda: c.invoke_binding(binding_name="events", operation="list", data=""))
    try:
        keys = json.loads(listed.data)
    except ValueError:
        raise CheckFailure(f"invoke_binding(events, list) data: expected a JSON array of keys, got {listed.data!r}")
    check(isinstance(keys, list) and key in keys, f"invoke_binding(events, list): expected a JSON array containing {key!r}, got {keys!r}")

    call(
        "invoke_binding(events, delete)",
        lambda: c.invoke_binding(binding_name="events", operation="delete", data="", binding_metadata={"key": key}),
    )
    listed = call("invoke_binding(events, list) after delete", lambda: c.invoke_binding(binding_name="events", operation="list", data=""))
    try:
        keys = json.loads(listed.data)
    except ValueError:
        raise CheckFailure(f"invoke_binding(events, list) after delete: expected a JSON array, got {listed.data!r}")
    check(isinstance(keys, list) and key not in keys, f"invoke_binding(events, list) after delete: expected an array without {key!r}, got {keys!r}")

    # daprd answers an unknown output binding with INTERNAL (ERR_INVOKE_OUTPUT_BINDING).
    expect_code(
        "invoke_binding on the unknown binding 'nope'",
        grpc.StatusCode.INTERNAL,
        lambda: c.invoke_binding(binding_name="nope", operation="create", data="x", binding_metadata={"key": key}),
    )


def case_secrets(ctx: Context) -> None:
    c = ctx.client()
    secret = call("get_secret(secretstore, db-password)", lambda: c.get_secret(store_name="secretstore", key="db-password"))
    expect_equal("get_secret(secretstore, db-password)", dict(secret.secret), {"db-password": "s3cret"})

    bulk = call("get_bulk_secret(secretstore)", lambda: c.get_bulk_secret(store_name="secretstore"))
    secrets = bulk.secrets
    check("db-password" in secrets, f"get_bulk_secret(secretstore): expected the secret 'db-password', got the names {sorted(secrets)!r}")
    check("api:key" in secrets, f"get_bulk_secret(secretstore): expected the secret 'api:key', got the names {sorted(secrets)!r}")
    expect_equal("get_bulk_secret(secretstore)['db-password']", dict(secrets["db-password"]), {"db-password": "s3cret"})
    expect_equal("get_bulk_secret(secretstore)['api:key']", dict(secrets["api:key"]), {"api:key": "k1"})

    expect_code(
        "get_secret on the unknown store 'nope'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.get_secret(store_name="nope", key="db-password"),
    )
    expect_code(
        "get_bulk_secret on the unknown store 'nope'",
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.get_bulk_secret(store_name="nope"),
    )
    # A missing secret is the store's failure: daprd's ERR_SECRET_GET, INTERNAL.
    missing = unique("no-such-secret")
    expect_code(
        f"get_secret(secretstore, {missing})",
        grpc.StatusCode.INTERNAL,
        lambda: c.get_secret(store_name="secretstore", key=missing),
    )


def case_metadata(ctx: Context) -> None:
    c = ctx.client()
    metadata = call("get_metadata", c.get_metadata)
    expect_equal("get_metadata application_id", metadata.application_id, os.environ.get("APIARY_E2E_APP_ID") or "e2e")

    components = {component.name: component for component in metadata.registered_components}
    for name in ("statestore", "pubsub", "secretstore", "events", "greeter"):
        check(name in components, f"get_metadata registered_components: expected {name!r}, got {sorted(components)!r}")
    expect_equal("get_metadata type of 'statestore'", components["statestore"].type, "state.memstore")
    expect_equal("get_metadata type of 'pubsub'", components["pubsub"].type, "pubsub.in-memory")
    capabilities = list(components["statestore"].capabilities)
    check("ETAG" in capabilities, f"get_metadata capabilities of 'statestore': expected ETAG among them, got {capabilities!r}")

    extended = metadata.extended_metadata
    health = {k: v for k, v in extended.items() if "statestore" in k}
    check(bool(health), f"get_metadata extended_metadata: expected a key naming 'statestore', got {extended!r}")
    check(
        any("UP" in v for v in health.values()),
        f"get_metadata extended_metadata: expected the statestore entry's value to contain 'UP', got {health!r}",
    )


def case_token_required(ctx: Context) -> None:
    token = os.environ.get("APIARY_E2E_TOKEN", "")
    check(bool(token), "token_required: expected APIARY_E2E_TOKEN (the sidecar's configured token) in the environment, got none")
    port = os.environ.get("DAPR_GRPC_PORT", "50001")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = dapr_pb2_grpc.DaprStub(channel)
        key = unique("token")
        request = state_pb2.GetStateRequest(store_name=ctx.store, key=key)
        options = {"timeout": 15, "wait_for_ready": True}

        expect_code("GetState without dapr-api-token", grpc.StatusCode.UNAUTHENTICATED, lambda: stub.GetState(request, **options))
        expect_code(
            "GetState with a wrong dapr-api-token",
            grpc.StatusCode.UNAUTHENTICATED,
            lambda: stub.GetState(request, metadata=(("dapr-api-token", token + "-wrong"),), **options),
        )
        save = state_pb2.SaveStateRequest(store_name=ctx.store)
        save.states.add(key=key, value=b"must-not-be-written")
        expect_code("SaveState without dapr-api-token", grpc.StatusCode.UNAUTHENTICATED, lambda: stub.SaveState(save, **options))

        response = call(
            "GetState with the right dapr-api-token",
            lambda: stub.GetState(request, metadata=(("dapr-api-token", token),), **options),
        )
        expect_equal("GetState data after the refused SaveState (nothing may be written)", response.data, b"")

        check_health = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda _: b"",
            response_deserializer=lambda raw: raw,
        )
        raw = call("grpc.health.v1.Health/Check without a token", lambda: check_health(None, **options))
        # HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
        expect_equal("grpc.health.v1.Health/Check response (HealthCheckResponse bytes, SERVING = 08 01)", bytes(raw).hex(), "0801")
    finally:
        channel.close()


def case_token_accepted(ctx: Context) -> None:
    check(bool(os.environ.get("DAPR_API_TOKEN")), "token_accepted: expected DAPR_API_TOKEN in the environment, got none")
    c = ctx.client()
    key = unique("token-accepted")
    call("save_state with DAPR_API_TOKEN", lambda: c.save_state(store_name=ctx.store, key=key, value=b"with-token"))
    expect_state(c, ctx.store, key, b"with-token", "with DAPR_API_TOKEN")
    call("delete_state with DAPR_API_TOKEN", lambda: c.delete_state(store_name=ctx.store, key=key))
    expect_state(c, ctx.store, key, b"", "after delete_state with DAPR_API_TOKEN")


def raw_channel() -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{os.environ.get('DAPR_GRPC_PORT', '50001')}")


def token_metadata() -> tuple:
    token = os.environ.get("DAPR_API_TOKEN", "")
    return (("dapr-api-token", token),) if token else ()


def case_too_large(ctx: Context) -> None:
    """A SaveState message over the sidecar's limit is refused with RESOURCE_EXHAUSTED
    and nothing is written."""
    limit = int(os.environ.get("APIARY_E2E_MAX_BODY", str(4 * 1024 * 1024)))
    channel = raw_channel()
    try:
        stub = dapr_pb2_grpc.DaprStub(channel)
        key = unique("too-large")
        save = state_pb2.SaveStateRequest(store_name=ctx.store)
        save.states.add(key=key, value=b"x" * (limit + 1))
        options = {"timeout": 15, "metadata": token_metadata()}
        # grpc-swift's transport refuses a message over its limit by resetting the
        # stream (clients see CANCELLED, "RST_STREAM"), not with RESOURCE_EXHAUSTED;
        # both are accepted here, and nothing may be written.
        try:
            stub.SaveState(save, **options)
            raise CheckFailure("SaveState over --max-body-size succeeded")
        except grpc.RpcError as error:
            refused = error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED or (
                error.code() == grpc.StatusCode.CANCELLED and "RST_STREAM" in (error.details() or ""))
            check(refused, f"SaveState over --max-body-size: expected RESOURCE_EXHAUSTED or a stream reset, got {describe_rpc_error(error)}")
        got = call("GetState after the refused SaveState",
                   lambda: stub.GetState(state_pb2.GetStateRequest(store_name=ctx.store, key=key), **options))
        expect_equal("data after the refused SaveState", got.data, b"")
    finally:
        channel.close()


def case_unimplemented(ctx: Context) -> None:
    """Dapr methods Apiary does not serve answer UNIMPLEMENTED; the query API of a store
    that has none answers daprd's ERR_STATE_QUERY (the memstore sample answers queries:
    see fidelity_checks.py)."""
    channel = raw_channel()
    try:
        invoke = channel.unary_unary("/dapr.proto.runtime.v1.Dapr/InvokeService",
                                     request_serializer=lambda _: b"", response_deserializer=lambda raw: raw)
        expect_code("Dapr/InvokeService (not served)", grpc.StatusCode.UNIMPLEMENTED,
                    lambda: invoke(None, timeout=15, metadata=token_metadata()))
        stub = dapr_pb2_grpc.DaprStub(channel)
        query = state_pb2.QueryStateRequest(store_name="builtin-store", query="{}")
        expect_code("QueryStateAlpha1 on the built-in store", grpc.StatusCode.INTERNAL,
                    lambda: stub.QueryStateAlpha1(query, timeout=15, metadata=token_metadata()))
    finally:
        channel.close()


def _say_hello(channel: grpc.Channel, service: str, name: str):
    """spec.proto.runtime.v1.Runtime/SayHello with hand-encoded protobuf: the SDK has no
    stub for Layotto's runtime service. SayHelloRequest{service_name = 1, name = 2};
    SayHelloResponse{hello = 1}."""
    def field(number: int, text: str) -> bytes:
        data = text.encode()
        check(len(data) < 128, "hello: test strings must be short")
        return bytes([number << 3 | 2, len(data)]) + data

    def hello_of(raw: bytes) -> str:
        check(len(raw) >= 2 and raw[0] == 0x0A and raw[1] == len(raw) - 2,
              f"SayHelloResponse: expected one field 1 string, got bytes {raw.hex()}")
        return raw[2:].decode()

    say = channel.unary_unary("/spec.proto.runtime.v1.Runtime/SayHello",
                              request_serializer=lambda request: request, response_deserializer=hello_of)
    return say(field(1, service) + field(2, name), timeout=15, metadata=token_metadata())


def case_say_hello(ctx: Context) -> None:
    """Layotto's SayHello reaches the hello component `greeter` (memstore: "Hello, NAME")."""
    channel = raw_channel()
    try:
        answer = call("SayHello(greeter, World)", lambda: _say_hello(channel, "greeter", "World"))
        check("World" in answer, f"SayHello(greeter, World): expected a greeting containing World, got {answer!r}")
        expect_code("SayHello to an unknown component", grpc.StatusCode.INVALID_ARGUMENT,
                    lambda: _say_hello(channel, "nope", "World"))
    finally:
        channel.close()


def case_not_ready(ctx: Context) -> None:
    """The state store (--store) is configured but not UP: calls fail at once with
    UNAVAILABLE, never hang."""
    channel = raw_channel()
    try:
        stub = dapr_pb2_grpc.DaprStub(channel)
        started = time.monotonic()
        expect_code("GetState on a store that is not UP", grpc.StatusCode.UNAVAILABLE,
                    lambda: stub.GetState(state_pb2.GetStateRequest(store_name=ctx.store, key="k"),
                                          timeout=15, metadata=token_metadata()))
        elapsed = time.monotonic() - started
        check(elapsed < 5, f"GetState on a store that is not UP took {elapsed:.1f} s; expected an answer at once")
    finally:
        channel.close()


CASES = {
    "too_large": case_too_large,
    "unimplemented": case_unimplemented,
    "say_hello": case_say_hello,
    "not_ready": case_not_ready,
    "state": case_state,
    "pubsub_streaming": case_pubsub_streaming,
    "publish_unknown": case_publish_unknown,
    "binding": case_binding,
    "secrets": case_secrets,
    "metadata": case_metadata,
    "token_required": case_token_required,
    "token_accepted": case_token_accepted,
}


# --------------------------------------------------------------------------- main


def run_case(name: str, ctx: Context) -> None:
    cases.run_case(name, lambda: CASES[name](ctx), CASE_TIMEOUT,
                   lambda error: f"unexpected gRPC error {describe_rpc_error(error)}"
                   if isinstance(error, grpc.RpcError) else None)


def main() -> int:
    args = cases.arguments(__doc__, CASES)
    ctx = Context(args.store)
    for name in args.cases:
        run_case(name, ctx)
    ctx.close()
    sys.stdout.flush()
    # Exit without waiting for stray SDK threads (e.g. a subscription reader).
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
