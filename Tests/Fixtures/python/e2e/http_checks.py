#!/usr/bin/env python3
"""End-to-end checks of Apiary's HTTP app API (/v1.0/...) with urllib.

Usage: python3 http_checks.py [--store NAME] CASE [CASE ...]

Cases: state, publish, binding, secrets, hello, health, metadata, token
(see README.md beside this file).

Requests go to http://127.0.0.1:$DAPR_HTTP_PORT (default 3500) and carry the
header `dapr-api-token: $DAPR_API_TOKEN` when that variable is set (the health
and token cases choose their headers themselves).  For every passing case the
script prints `ok CASE` on stdout.  On the first failure it prints
`FAIL CASE: <what was expected, what came>` on stderr and exits 1 (2 for a
usage error).  Keys and topics carry a per-run uuid.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Support", "python"))
from apiarytest import cases  # noqa: E402
from apiarytest.checks import CheckFailure, check, expect_equal  # noqa: E402

RUN_ID = uuid.uuid4().hex[:12]
HOST = "127.0.0.1"
PORT = int(os.environ.get("DAPR_HTTP_PORT") or "3500")
BASE = f"http://{HOST}:{PORT}"
TIMEOUT = 20.0
CASE_TIMEOUT = float(os.environ.get("APIARY_E2E_CASE_TIMEOUT", "120"))
DEFAULT_MAX_BODY = 4 * 1024 * 1024  # Dapr's default --max-body-size (4Mi)

_ENV_TOKEN = object()  # "use DAPR_API_TOKEN if set"


def unique(name: str) -> str:
    return f"e2e-{RUN_ID}-{name}"


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class Response:
    def __init__(self, method: str, path: str, status: int, headers, body: bytes) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def text(self, limit: int = 400) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + f"... ({len(self.body)} bytes)"

    def json(self, what: str = ""):
        try:
            return json.loads(self.body)
        except ValueError:
            raise CheckFailure(f"{what or self.label}: expected a JSON body, got {self.text()!r} (status {self.status})")


def request(method: str, path: str, body=None, headers: dict | None = None, token=_ENV_TOKEN) -> Response:
    """One HTTP request; never raises for an HTTP error status."""
    data: bytes | None
    all_headers = {}
    if body is None:
        data = None
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        data = json.dumps(body).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    if token is _ENV_TOKEN:
        token = os.environ.get("DAPR_API_TOKEN") or None
    if token is not None:
        all_headers["dapr-api-token"] = token
    all_headers.update(headers or {})
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return Response(method, path, resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as error:
        try:
            payload = error.read()
        except Exception:
            payload = b""
        return Response(method, path, error.code, error.headers, payload)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CheckFailure(f"{method} {path}: expected an HTTP response, got a connection error: {reason}")


def expect_status(resp: Response, *statuses: int, what: str = "") -> Response:
    if resp.status not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        raise CheckFailure(f"{what or resp.label}: expected status {wanted}, got {resp.status} with body {resp.text()!r}")
    return resp


def expect_error(resp: Response, status: int, error_code: str | None = None, what: str = "") -> dict:
    """The response must have `status` and a JSON error body {errorCode, message}."""
    label = what or resp.label
    expect_status(resp, status, what=label)
    body = resp.json(f"{label} error body")
    check(isinstance(body, dict), f"{label} error body: expected a JSON object, got {body!r}")
    code = body.get("errorCode")
    message = body.get("message")
    check(isinstance(code, str) and code != "", f"{label} error body: expected a non-empty string errorCode, got {body!r}")
    check(isinstance(message, str) and message != "", f"{label} error body: expected a non-empty string message, got {body!r}")
    if error_code is not None:
        expect_equal(f"{label} errorCode", code, error_code)
    return body


def expect_empty_body(resp: Response, what: str = "") -> None:
    check(resp.body == b"", f"{what or resp.label}: expected an empty body, got {resp.text()!r}")


# --------------------------------------------------------------------------- state


def state_path(store: str, key: str | None = None, suffix: str | None = None) -> str:
    path = f"/v1.0/state/{quote(store)}"
    if key is not None:
        path += f"/{quote(key)}"
    if suffix is not None:
        path += f"/{suffix}"
    return path


def save(store: str, items: list) -> Response:
    return request("POST", state_path(store), items)


def expect_value(store: str, key: str, value, what: str) -> str:
    """GET must answer 200 with `value` (as JSON) and an ETag; returns the etag."""
    resp = expect_status(request("GET", state_path(store, key)), 200, what=f"GET state {key!r} {what}")
    got = resp.json(f"GET state {key!r} {what}")
    expect_equal(f"GET state {key!r} {what}: body", got, value)
    etag = resp.headers.get("ETag")
    check(bool(etag), f"GET state {key!r} {what}: expected an ETag header, got {etag!r} (headers {dict(resp.headers)!r})")
    return etag


def expect_absent(store: str, key: str, what: str) -> None:
    resp = expect_status(request("GET", state_path(store, key)), 204, what=f"GET state {key!r} {what} (absent key)")
    expect_empty_body(resp, f"GET state {key!r} {what} (absent key)")


def oversized_save(store: str, key: str, limit: int) -> tuple[int | None, bytes, str]:
    """POSTs a valid JSON save body longer than `limit` with http.client.

    Returns (status or None, body, note).  The server may answer before it has
    read the whole body and close; a failed write is then tolerated as long as
    the response can still be read.
    """
    filler = limit + 4096
    body = json.dumps([{"key": key, "value": "x" * filler}]).encode("utf-8")
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    token = os.environ.get("DAPR_API_TOKEN")
    if token:
        headers["dapr-api-token"] = token
    conn = http.client.HTTPConnection(HOST, PORT, timeout=TIMEOUT)
    note = ""
    try:
        conn.putrequest("POST", state_path(store), skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                conn.send(view[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError) as error:
            note = f" (the server stopped reading the body: {error})"
        try:
            resp = conn.getresponse()
            return resp.status, resp.read(), note
        except (OSError, http.client.HTTPException) as error:
            return None, b"", f"{note} (no response could be read: {type(error).__name__}: {error})"
    finally:
        conn.close()


def case_state(store: str) -> None:
    k1 = unique("state")
    v1, v2 = {"a": 1, "s": "one"}, {"a": 2, "s": "two"}

    expect_empty_body(expect_status(save(store, [{"key": k1, "value": v1}]), 204, what="save (POST /v1.0/state)"))
    etag1 = expect_value(store, k1, v1, "after save")

    expect_status(save(store, [{"key": k1, "value": v2, "etag": etag1}]), 204, what="save with the current etag")
    etag2 = expect_value(store, k1, v2, "after save with the current etag")
    check(etag2 != etag1, f"ETag after a successful etag save: expected it to change from {etag1!r}, got {etag2!r}")

    expect_error(save(store, [{"key": k1, "value": {"stale": True}, "etag": etag1}]), 409, what="save with a stale etag")
    expect_error(save(store, [{"key": k1, "value": {"invalid": True}, "etag": "not-a-number"}]), 400, what="save with the invalid etag 'not-a-number'")
    expect_error(
        save(store, [{"key": k1, "value": {"first": True}, "options": {"concurrency": "first-write"}}]),
        409,
        what="save first-write without etag on an existing key",
    )
    after = expect_value(store, k1, v2, "after the rejected saves (they must change nothing)")
    expect_equal("ETag after the rejected saves", after, etag2)

    missing = unique("state-missing")
    expect_absent(store, missing, "never saved")

    # bulk get: two saved keys and a missing one
    k2 = unique("state-2")
    expect_status(save(store, [{"key": k2, "value": "plain-string"}]), 204, what="save of a string value")
    bulk_resp = expect_status(
        request("POST", state_path(store, suffix="bulk"), {"keys": [k1, k2, missing], "parallelism": 2}), 200, what="bulk get"
    )
    items = bulk_resp.json("bulk get")
    check(isinstance(items, list), f"bulk get: expected a JSON array, got {items!r}")
    expect_equal("bulk get item count", len(items), 3)
    by_key = {}
    for item in items:
        check(isinstance(item, dict) and isinstance(item.get("key"), str), f"bulk get: expected objects with a key, got {item!r}")
        by_key[item["key"]] = item
    expect_equal("bulk get keys", sorted(by_key), sorted([k1, k2, missing]))
    expect_equal(f"bulk get data of {k1!r}", by_key[k1].get("data"), v2)
    expect_equal(f"bulk get etag of {k1!r}", by_key[k1].get("etag"), etag2)
    expect_equal(f"bulk get data of {k2!r}", by_key[k2].get("data"), "plain-string")
    check(bool(by_key[k2].get("etag")), f"bulk get etag of {k2!r}: expected non-empty, got {by_key[k2]!r}")
    check(by_key[missing].get("data") is None, f"bulk get of the missing key {missing!r}: expected no data, got {by_key[missing]!r}")
    check(not by_key[missing].get("etag"), f"bulk get of the missing key {missing!r}: expected no etag, got {by_key[missing]!r}")
    for key in (k1, k2, missing):
        check(not by_key[key].get("error"), f"bulk get of {key!r}: expected no error, got {by_key[key]!r}")

    # delete with If-Match
    stale = expect_error(request("DELETE", state_path(store, k1), headers={"If-Match": etag1}), 409, what="DELETE with a stale If-Match")
    del stale
    expect_value(store, k1, v2, "after DELETE with a stale If-Match (must change nothing)")
    deleted = expect_status(request("DELETE", state_path(store, k1), headers={"If-Match": etag2}), 204, what="DELETE with the current If-Match")
    expect_empty_body(deleted, "DELETE with the current If-Match")
    expect_absent(store, k1, "after DELETE")

    # transaction: upsert two, delete one
    t1, t2, t3 = unique("tx-1"), unique("tx-2"), unique("tx-3")
    expect_status(save(store, [{"key": t3, "value": {"doomed": True}}]), 204, what="save before the transaction")
    expect_value(store, t3, {"doomed": True}, "before the transaction")
    transaction = {
        "operations": [
            {"operation": "upsert", "request": {"key": t1, "value": {"t": 1}}},
            {"operation": "upsert", "request": {"key": t2, "value": {"t": 2}}},
            {"operation": "delete", "request": {"key": t3}},
        ],
        "metadata": {},
    }
    tx = expect_status(request("POST", state_path(store, suffix="transaction"), transaction), 204, what="transaction")
    expect_empty_body(tx, "transaction")
    expect_value(store, t1, {"t": 1}, "after the transaction's upsert")
    expect_value(store, t2, {"t": 2}, "after the transaction's upsert")
    expect_absent(store, t3, "after the transaction's delete")

    # unknown store
    expect_error(request("GET", state_path("nope", k1)), 400, "ERR_STATE_STORE_NOT_FOUND", what="GET on the unknown store 'nope'")
    expect_error(save("nope", [{"key": k1, "value": 1}]), 400, "ERR_STATE_STORE_NOT_FOUND", what="save on the unknown store 'nope'")

    # malformed JSON
    k3 = unique("state-malformed")
    expect_error(
        request("POST", state_path(store), b'[{"key": "' + k3.encode() + b'", "value": ', headers={"Content-Type": "application/json"}),
        400,
        "ERR_MALFORMED_REQUEST",
        what="save with a malformed JSON body",
    )
    expect_absent(store, k3, "after the malformed save")

    # body over the limit
    limit_text = os.environ.get("APIARY_E2E_MAX_BODY")
    limit = int(limit_text) if limit_text else DEFAULT_MAX_BODY
    k4 = unique("state-oversized")
    status, body, note = oversized_save(store, k4, limit)
    check(
        status == 413,
        f"save with a body over the limit of {limit} bytes: expected status 413, got {status} with body "
        f"{body[:300].decode('utf-8', errors='replace')!r}{note}",
    )
    expect_absent(store, k4, "after the oversized save")


# --------------------------------------------------------------------------- other cases


def case_publish(store: str) -> None:
    topic = unique("topic")
    resp = expect_status(request("POST", f"/v1.0/publish/pubsub/{quote(topic)}", {"n": 1}), 204, what="publish to pubsub")
    expect_empty_body(resp, "publish to pubsub")
    expect_error(
        request("POST", f"/v1.0/publish/nope/{quote(topic)}", {"n": 1}), 404, "ERR_PUBSUB_NOT_FOUND", what="publish to the unknown pubsub 'nope' (daprd's 404)"
    )


def case_binding(store: str) -> None:
    key = unique("binding")
    expect_status(
        request("POST", "/v1.0/bindings/events", {"operation": "create", "data": "hi", "metadata": {"key": key}}),
        200,
        204,
        what="bindings/events create",
    )
    got = expect_status(
        request("POST", "/v1.0/bindings/events", {"operation": "get", "metadata": {"key": key}}), 200, what="bindings/events get"
    )
    # The JSON value "hi" reaches the component as its JSON text, quotes included (as Dapr does).
    expect_equal("bindings/events get body (the JSON text of the data sent)", got.body, b'"hi"')

    listed = expect_status(request("POST", "/v1.0/bindings/events", {"operation": "list"}), 200, what="bindings/events list")
    keys = listed.json("bindings/events list")
    check(isinstance(keys, list) and key in keys, f"bindings/events list: expected a JSON array containing {key!r}, got {keys!r}")

    expect_error(
        request("POST", "/v1.0/bindings/nope", {"operation": "create", "data": "hi", "metadata": {"key": key}}),
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        what="bindings/nope (unknown binding)",
    )


def case_secrets(store: str) -> None:
    resp = expect_status(request("GET", "/v1.0/secrets/secretstore/db-password"), 200, what="GET secret db-password")
    expect_equal("GET secret db-password body", resp.json(), {"db-password": "s3cret"})

    bulk = expect_status(request("GET", "/v1.0/secrets/secretstore/bulk"), 200, what="GET secrets bulk").json()
    check(isinstance(bulk, dict), f"GET secrets bulk: expected a JSON object (map of maps), got {bulk!r}")
    for name, value in bulk.items():
        check(
            isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
            f"GET secrets bulk: expected every entry to be a map of strings, got {name!r}: {value!r}",
        )
    expect_equal("GET secrets bulk['db-password']", bulk.get("db-password"), {"db-password": "s3cret"})
    expect_equal("GET secrets bulk['api:key']", bulk.get("api:key"), {"api:key": "k1"})

    # daprd's codes: 401 for an unknown secret store, 500 ERR_SECRET_GET for a missing secret.
    expect_error(request("GET", "/v1.0/secrets/nope/db-password"), 401, "ERR_SECRET_STORE_NOT_FOUND", what="GET secret from the unknown store 'nope'")
    missing = unique("no-such-secret")
    expect_error(request("GET", f"/v1.0/secrets/secretstore/{quote(missing)}"), 500, "ERR_SECRET_GET", what="GET of an unknown secret")


def case_hello(store: str) -> None:
    resp = expect_status(request("POST", "/v1.0/hello/greeter", {"name": "World"}), 200, what="hello/greeter")
    body = resp.json("hello/greeter")
    check(isinstance(body, dict), f"hello/greeter: expected a JSON object, got {body!r}")
    greeting = body.get("hello")
    check(isinstance(greeting, str) and "World" in greeting, f"hello/greeter: expected {{'hello': <string containing 'World'>}}, got {body!r}")
    expect_error(request("POST", "/v1.0/hello/nope", {"name": "World"}), 400, "ERR_HELLO_NOT_FOUND", what="hello/nope (unknown hello component)")


def case_health(store: str) -> None:
    for path in ("/v1.0/healthz", "/v1.0/healthz/outbound"):
        resp = expect_status(request("GET", path, token=None), 204, what=f"GET {path} without a token")
        expect_empty_body(resp, f"GET {path} without a token")


def case_metadata(store: str) -> None:
    resp = expect_status(request("GET", "/v1.0/metadata"), 200, what="GET /v1.0/metadata")
    body = resp.json()
    check(isinstance(body, dict), f"GET /v1.0/metadata: expected a JSON object, got {body!r}")
    expect_equal("metadata id", body.get("id"), os.environ.get("APIARY_E2E_APP_ID") or "e2e")
    version = body.get("runtimeVersion")
    check(isinstance(version, str) and version != "", f"metadata runtimeVersion: expected a non-empty string, got {version!r}")
    components = body.get("components")
    check(isinstance(components, list) and components, f"metadata components: expected a non-empty array, got {components!r}")
    for component in components:
        check(isinstance(component, dict), f"metadata components: expected objects, got {component!r}")
        for field in ("name", "type", "version"):
            check(isinstance(component.get(field), str), f"metadata component {field}: expected a string, got {component!r}")
        check(component["name"] != "" and component["type"] != "", f"metadata component: expected a non-empty name and type, got {component!r}")
        capabilities = component.get("capabilities")
        check(
            isinstance(capabilities, list) and all(isinstance(c, str) for c in capabilities),
            f"metadata component capabilities: expected an array of strings, got {component!r}",
        )
    check(isinstance(body.get("subscriptions"), list), f"metadata subscriptions: expected an array, got {body.get('subscriptions')!r}")
    check(isinstance(body.get("extended"), dict), f"metadata extended: expected an object, got {body.get('extended')!r}")


def case_token(store: str) -> None:
    token = os.environ.get("APIARY_E2E_TOKEN", "")
    check(bool(token), "token: expected APIARY_E2E_TOKEN (the sidecar's configured token) in the environment, got none")
    key = unique("token")
    path = state_path(store, key)
    expect_error(request("GET", path, token=None), 401, what="GET state without dapr-api-token")
    expect_error(request("GET", path, token=token + "-wrong"), 401, what="GET state with a wrong dapr-api-token")
    expect_error(
        request("POST", state_path(store), [{"key": key, "value": "must-not-be-written"}], token=None),
        401,
        what="save without dapr-api-token",
    )
    resp = expect_status(request("GET", path, token=token), 204, what="GET state with the right dapr-api-token (absent key)")
    expect_empty_body(resp, "GET state with the right dapr-api-token")


def case_not_ready(store: str) -> None:
    """The state store (--store) is configured but not UP: 503 at once, with an error body."""
    import time
    started = time.monotonic()
    resp = request("GET", state_path(store, unique("not-ready")))
    expect_error(resp, 503, "ERR_COMPONENT_NOT_READY", what="GET state of a store that is not UP")
    elapsed = time.monotonic() - started
    check(elapsed < 5, f"GET state of a store that is not UP took {elapsed:.1f} s; expected an answer at once")


CASES = {
    "not_ready": case_not_ready,
    "state": case_state,
    "publish": case_publish,
    "binding": case_binding,
    "secrets": case_secrets,
    "hello": case_hello,
    "health": case_health,
    "metadata": case_metadata,
    "token": case_token,
}


def run_case(name: str, store: str) -> None:
    cases.run_case(name, lambda: CASES[name](store), CASE_TIMEOUT)


def main() -> int:
    args = cases.arguments(__doc__, CASES)
    for name in args.cases:
        run_case(name, args.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
