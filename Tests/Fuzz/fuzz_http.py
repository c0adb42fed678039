#!/usr/bin/env python3
"""Fuzzes Apiary's Dapr HTTP API (`/v1.0`, `/actuator`, `/metrics`).

    python3 Tests/Fuzz/fuzz_http.py [--bin DIR] [--seed N] [--cases N] [--case K] [--keep]
                                    [--findings DIR] [--replay FILE ...]

Starts, on a temporary folder, the Swift memstore (state store `statestore`, hello
`greeter`), the C++ file-secrets when it is built (secret store `secretstore`, output
binding `files`), an app that takes deliveries, and `apiary run` with the built-ins
`memory` (state), `pubsub` and `localsecrets`, on a free HTTP port; everything under
`nice -n 19`. Then sends `--cases` requests, each over its own TCP connection (written
raw, so that malformed requests reach the server as they are): a seed corpus of valid
requests (state save/get/delete/bulk/transaction/query, publish and bulk publish,
bindings, secrets, hello, metadata, healthz, actuator, metrics) and mutations of them
(paths with percent-encoding, `..`, invalid UTF-8 and odd characters; methods;
versions; headers incl. bad Content-Type / Content-Length / Transfer-Encoding, huge
and malformed headers; bodies: JSON type confusion, huge and deeply nested JSON,
invalid UTF-8, bit flips, truncation). `POST /v1.0/shutdown` is never sent.

Case K is generated from random.Random("SEED:K") alone, so `--case K` replays one case
of a run exactly; `--replay FILE` sends raw request files (as written to --findings).

Checks: apiary stays alive (and its log holds no crash trace), it answers a health
probe every 50 cases, every answer is below 500, and every answer that is not 2xx has a
non-empty body (the error message). Connection-level outcomes (closed without an
answer, reset, timeout) are counted separately and are not findings, except for the
unmutated seed requests. Prints the cases tried, the status histogram and each finding
with its request; exit status 1 on a crash or any finding, else 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import select
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

TIMEOUT = 8.0  # seconds a case may take to be answered (the machine is shared and niced)

# ----------------------------------------------------------------------------- corpus


def j(value) -> bytes:
    return json.dumps(value).encode()


# (method, path with query, body or None, extra headers). Paths name the components of
# fuzzlib.Sidecar; `files`/`secretstore` exist only when file-secrets is built.
SEEDS = [
    ("POST", "/v1.0/state/statestore", j([{"key": "k1", "value": {"qty": 2}}]), {}),
    ("POST", "/v1.0/state/statestore", j([{"key": "k2", "value": "text", "metadata": {"contentType": "text/plain"}},
                                          {"key": "k3", "value": [1, 2, 3]}]), {}),
    ("PUT", "/v1.0/state/memory", j([{"key": "t1", "value": 1, "metadata": {"ttlInSeconds": "60"},
                                     "options": {"concurrency": "last-write", "consistency": "strong"}}]), {}),
    ("POST", "/v1.0/state/statestore", j([{"key": "k1", "value": 3, "etag": "1",
                                          "options": {"concurrency": "first-write"}}]), {}),
    ("GET", "/v1.0/state/statestore/k1", None, {}),
    ("GET", "/v1.0/state/statestore/k1?consistency=strong&metadata.partitionKey=p", None, {}),
    ("GET", "/v1.0/state/memory/t1", None, {}),
    ("GET", "/v1.0/state/statestore/missing", None, {}),
    ("DELETE", "/v1.0/state/statestore/k2", None, {"If-Match": "1"}),
    ("DELETE", "/v1.0/state/memory/t1?concurrency=last-write&consistency=eventual", None, {}),
    ("POST", "/v1.0/state/statestore/bulk", j({"keys": ["k1", "k2", "nope"], "parallelism": 2}), {}),
    ("POST", "/v1.0/state/memory/bulk?metadata.x=y", j({"keys": ["t1"]}), {}),
    ("POST", "/v1.0/state/statestore/transaction", j({"operations": [
        {"operation": "upsert", "request": {"key": "tx1", "value": {"a": 1}}},
        {"operation": "delete", "request": {"key": "k3"}}], "metadata": {"partitionKey": "p"}}), {}),
    ("PUT", "/v1.0/state/memory/transaction", j({"operations": [
        {"operation": "upsert", "request": {"key": "tx2", "value": "v", "etag": "9", "options": {"concurrency": "first-write"}}}]}), {}),
    ("POST", "/v1.0-alpha1/state/statestore/query", j({"filter": {"EQ": {"state": "CA"}}, "page": {"limit": 2}}), {}),
    ("POST", "/v1.0/publish/pubsub/orders", j({"orderId": 1}), {}),
    ("POST", "/v1.0/publish/pubsub/fuzz?metadata.ttlInSeconds=10", b"plain text", {"Content-Type": "text/plain"}),
    ("POST", "/v1.0/publish/pubsub/orders", j({"specversion": "1.0", "id": "e1", "source": "fuzz", "type": "t",
                                               "datacontenttype": "application/json", "data": {"x": 1}}),
     {"Content-Type": "application/cloudevents+json"}),
    ("POST", "/v1.0/publish/pubsub/fuzz?metadata.rawPayload=true", b"\x00\x01\x02binary", {"Content-Type": "application/octet-stream"}),
    ("POST", "/v1.0-alpha1/publish/bulk/pubsub/orders", j([
        {"entryId": "1", "event": {"a": 1}, "contentType": "application/json"},
        {"entryId": "2", "event": "text", "contentType": "text/plain", "metadata": {"k": "v"}}]), {}),
    ("POST", "/v1.0/bindings/files", j({"operation": "create", "data": "hello", "metadata": {"fileName": "note.txt"}}), {}),
    ("POST", "/v1.0/bindings/files", j({"operation": "get", "metadata": {"fileName": "note.txt"}}), {}),
    ("PUT", "/v1.0/bindings/files", j({"operation": "list"}), {}),
    ("POST", "/v1.0/bindings/files", j({"operation": "delete", "metadata": {"fileName": "gone.txt"}}), {}),
    ("GET", "/v1.0/secrets/secretstore/db-password", None, {}),
    ("GET", "/v1.0/secrets/secretstore/api:key?metadata.version_id=1", None, {}),
    ("GET", "/v1.0/secrets/secretstore/bulk", None, {}),
    ("GET", "/v1.0/secrets/localsecrets/api:key", None, {}),
    ("GET", "/v1.0/secrets/localsecrets/bulk", None, {}),
    ("POST", "/v1.0/hello/greeter", j({"name": "Ada"}), {}),
    ("GET", "/v1.0/metadata", None, {}),
    ("PUT", "/v1.0/metadata/fuzzkey", b"fuzzvalue", {"Content-Type": "text/plain"}),
    ("GET", "/v1.0/healthz", None, {}),
    ("GET", "/v1.0/healthz/outbound", None, {}),
    ("GET", "/actuator/health/liveness", None, {}),
    ("GET", "/actuator/health/readiness", None, {}),
    ("GET", "/actuator/info", None, {}),
    ("GET", "/actuator/components", None, {}),
    ("GET", "/actuator/logs?component=memstore&limit=5", None, {}),
    ("GET", "/actuator/logs?component=apiary&limit=3&level=warning", None, {}),
    ("GET", "/actuator/logger", None, {}),
    ("POST", "/actuator/logger", j({"component": "memstore", "level": "warning"}), {}),
    ("POST", "/actuator/logger", j({"level": "warning"}), {}),
    ("GET", "/metrics", None, {}),
]

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Post", "FOO",
           "G ET", "", "GET" * 300, "PRI", "\x00", "POST\t"]
VERSIONS = [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/9.9", b"HTTP/1.1 x", b"http/1.1", b"HTTP/", b"", b"HTTP/1.1\x00",
            b"HTTP/01.1"]
SEGMENTS = ["", ".", "..", "...", "%2e%2e", "%2E%2e", "%2F", "%2f..%2f", "%00", "%", "%z", "%zz", "%u0041", "%ff%fe",
            "%c0%af", "%e2%82", "%ed%a0%80", "%f4%90%80%80", "ü", "日本", "a b", "a\tb", "a;b", "a?b", "a#b", "*", "~",
            "statestore", "memory", "pubsub", "greeter", "files", "secretstore", "localsecrets", "bulk", "transaction",
            "query", "k1", "nope", "v1.0", "v1.0-alpha1", "actuator", "state", "secrets", "publish", "bindings", "hello",
            "metadata", "health", "logs", "logger", "A" * 300, "x" * 5000, "%41" * 500, "\\", "\\..\\", ":", "@",
            "%20", "+", "a%2Fb", "..%2F..%2Fetc%2Fpasswd", "%252e%252e", "con", "null", "{store}", "$", "'", "\"",
            "<script>", "\u202e", "\ufeff", "%0d%0aX-Injected:%201"]
QUERY_KEYS = ["metadata.ttlInSeconds", "metadata.rawPayload", "metadata.contentType", "metadata.partitionKey",
              "metadata.", "metadata", "consistency", "concurrency", "component", "limit", "level", "since", "after",
              "", "%ff", "a[b]", "metadata.%00"]
QUERY_VALUES = ["", "1", "-1", "0", "99999999999999999999", "true", "false", "strong", "eventual", "first-write",
                "last-write", "bogus", "%ff", "%", "%00", "é", "1e400", "NaN", "x" * 3000, "memstore", "apiary",
                "trace", "debug", "a=b", "&&", "%26"]
CONTENT_TYPES = [b"application/json", b"application/json; charset=utf-8", b"application/json; charset=utf-16",
                 b"text/plain", b"application/cloudevents+json", b"application/cloudevents-batch+json",
                 b"application/octet-stream", b"", b";;;", b"a/b/c", b"application/json; charset=\xff",
                 b"multipart/form-data; boundary=x", b"application/x-www-form-urlencoded", b"*/*",
                 b"application/json, text/plain", b"APPLICATION/JSON", b"application/json;" + b"a=b;" * 500,
                 b"text/\x00plain", b"application/xml"]
HEADER_NAMES = [b"Content-Type", b"Content-Length", b"Transfer-Encoding", b"If-Match", b"dapr-api-token",
                b"Expect", b"Host", b"Accept", b"Accept-Encoding", b"Content-Encoding", b"traceparent", b"tracestate",
                b"Connection", b"Upgrade", b"X-Forwarded-For", b"Cookie", b"Range", b"metadata.ttlInSeconds",
                b"grpc-timeout", b"TE", b"Trailer", b"HTTP2-Settings", b"Content-Range"]
HEADER_VALUES = [b"", b"0", b"-1", b"chunked", b"gzip", b"100-continue", b"close", b"keep-alive", b"h2c",
                 b"\xff\xfe", b"\x00", b"a" * 9000, b"1" * 40, b"bytes=0-1", b"*", b"W/\"1\"", b"\"1\"",
                 b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01", b"garbage-traceparent", b"\xc3\x28", b"deflate, br",
                 b"identity", b"websocket", b"1S", b"9999999999H"]
STRINGS = ["", "k1", "x" * 10, "ü", "\u0000", "\ud800", "\udfff\ud800", "\U0001F41D", "a" * 70000, "../../etc/passwd",
           "%2e%2e", "\n", "\"", "\\", "upsert", "delete", "create", "get", "list", "first-write", "last-write",
           "strong", "eventual", "application/json", "text/plain", "trace", "memstore", "apiary", "note.txt", "1",
           "-1", "9" * 30, "true", "null"]


# ----------------------------------------------------------------------------- requests


class Request:
    """A request as written on the wire; `raw()` renders it."""

    def __init__(self, method: str, target: bytes, body: bytes | None, headers: dict):
        self.method = method.encode("utf-8", "surrogateescape") if isinstance(method, str) else method
        self.target = target
        self.version = b"HTTP/1.1"
        self.headers: list = [(b"Host", b"127.0.0.1")]
        if body is not None:
            self.headers.append((b"Content-Type", b"application/json"))
        for name, value in headers.items():
            self._set(name.encode(), value.encode() if isinstance(value, str) else value)
        self.body = body or b""
        self.length_mode = "auto"  # auto | none | short | long | chunked | asis
        self.line_end = b"\r\n"
        self.truncate_at: int | None = None  # cut the rendered bytes here
        self.byte_flips: list = []  # offsets into the head to flip
        self.mutations: list = []
        self.extra_lines: list = []  # raw header lines, written as they are

    def _set(self, name: bytes, value: bytes) -> None:
        self.headers = [(n, v) for n, v in self.headers if n.lower() != name.lower()]
        self.headers.append((name, value))

    def header(self, name: bytes):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def raw(self) -> bytes:
        headers = list(self.headers)
        body = self.body
        if self.length_mode == "auto":
            if body or self.method in (b"POST", b"PUT", b"PATCH"):
                headers.append((b"Content-Length", str(len(body)).encode()))
        elif self.length_mode == "short":
            headers.append((b"Content-Length", str(max(0, len(body) // 2)).encode()))
        elif self.length_mode == "long":
            headers.append((b"Content-Length", str(len(body) + 1 + len(body) // 2).encode()))
        elif self.length_mode == "chunked":
            headers.append((b"Transfer-Encoding", b"chunked"))
            body = chunk(body, [max(1, len(body) // 3 or 1)])
        head = self.method + b" " + self.target + b" " + self.version + self.line_end
        head += b"".join(n + b": " + v + self.line_end for n, v in headers)
        head += b"".join(line + self.line_end for line in self.extra_lines) + self.line_end
        head = bytearray(head)
        for offset in self.byte_flips:
            if head:
                head[offset % len(head)] ^= 1 << (offset % 8)
        data = bytes(head) + body
        if self.truncate_at is not None:
            data = data[: self.truncate_at]
        return data

    def summary(self) -> str:
        return (f"{self.method.decode('latin-1')[:20]} {self.target.decode('latin-1')[:120]!r}"
                + (f" [{', '.join(self.mutations)}]" if self.mutations else " [seed]"))


def chunk(body: bytes, sizes: list) -> bytes:
    """`body` in chunked transfer coding, chunk sizes cycling through `sizes` (at most
    about 10000 chunks)."""
    floor = max(1, len(body) // 10000)
    out = []
    i = 0
    k = 0
    while i < len(body):
        size = max(floor, sizes[k % len(sizes)])
        part = body[i:i + size]
        out.append(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        i += size
        k += 1
    return b"".join(out) + b"0\r\n\r\n"


def quote_path(path: str) -> bytes:
    """Keeps what the mutator put in the path (incl. `%` escapes); encodes only raw
    text as UTF-8 (surrogates as they are, which makes invalid UTF-8)."""
    return path.encode("utf-8", "surrogatepass")


# ----------------------------------------------------------------------------- mutations


def mutate_json_value(rng: random.Random, value, depth: int = 0):
    """A structural mutation of a parsed JSON value."""
    choices = [
        lambda: None, lambda: rng.choice([0, -1, 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, 0.5, -0.0, 1e308]),
        lambda: rng.choice(STRINGS), lambda: rng.choice([True, False]), lambda: [], lambda: {},
        lambda: [value], lambda: {"key": value}, lambda: [value] * rng.randint(2, 50),
    ]
    if isinstance(value, dict) and value and depth < 6:
        key = rng.choice(list(value))
        op = rng.randrange(5)
        out = dict(value)
        if op == 0:
            del out[key]
        elif op == 1:
            out[key] = mutate_json_value(rng, value[key], depth + 1)
        elif op == 2:
            out[rng.choice(STRINGS[:20])] = rng.choice(choices)()
        elif op == 3:
            out[key] = rng.choice(choices)()
        else:
            out[key + rng.choice(["", "X", "\u0000"])] = out.pop(key)
        return out
    if isinstance(value, list) and value and depth < 6:
        out = list(value)
        i = rng.randrange(len(out))
        op = rng.randrange(4)
        if op == 0:
            out[i] = mutate_json_value(rng, out[i], depth + 1)
        elif op == 1:
            del out[i]
        elif op == 2:
            out.append(rng.choice(choices)())
        else:
            out = out * rng.randint(2, 100)
        return out
    return rng.choice(choices)()


def json_text_mutation(rng: random.Random, body: bytes) -> tuple:
    """A textual mutation that JSON libraries treat specially; (body, name)."""
    kind = rng.randrange(14)
    depth = rng.choice([100, 1000, 10000, 100000, 1000000])
    if kind == 0:
        return b"[" * depth + b"]" * depth, f"deep-array-{depth}"
    if kind == 1:
        return b'{"a":' * depth + b"1" + b"}" * depth, f"deep-object-{depth}"
    if kind == 2:
        return b"[" * depth, f"deep-unclosed-{depth}"
    if kind == 3:
        size = rng.choice([1 << 20, 3 << 20, 5 << 20])
        return b'[{"key":"big","value":"' + b"x" * size + b'"}]', f"huge-string-{size}"
    if kind == 4:
        n = rng.choice([10000, 200000])
        return b"[" + b",".join([b'{"key":"k%d","value":%d}' % (i % 50, i) for i in range(n)]) + b"]", f"huge-array-{n}"
    if kind == 5:
        return body.replace(b"{", b'{"key":"dup","key":"dup2",', 1), "duplicate-keys"
    if kind == 6:
        return rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e99999", b"-0", b"0x10", b"01", b"1.", b".5"]), "odd-number"
    if kind == 7:
        return b'[{"key":"\\ud800","value":"\\udfff\\u0000"}]', "lone-surrogates"
    if kind == 8:
        return b'[{"key":"' + bytes([rng.randrange(0x80, 0x100) for _ in range(8)]) + b'","value":1}]', "invalid-utf8-key"
    if kind == 9:
        return b"\xef\xbb\xbf" + body, "bom"
    if kind == 10:
        return body + rng.choice([b"garbage", b"}", b"]", b"\x00", b"//c", b",", b" " * 10000]), "trailing"
    if kind == 11:
        return b"/* c */" + body, "comment"
    if kind == 12:
        return body.decode("utf-8", "replace").encode("utf-16"), "utf16"
    return b'{"keys":' + b"[" + b",".join(b'"k%d"' % i for i in range(rng.choice([1000, 50000]))) + b"]}", "many-keys"


def mutate_body(rng: random.Random, req: Request) -> None:
    body = req.body
    kind = rng.randrange(10)
    if kind <= 2 and body:
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        if parsed is not None:
            req.body = json.dumps(mutate_json_value(rng, parsed), ensure_ascii=rng.random() < 0.5).encode(
                "utf-8", "surrogatepass")
            req.mutations.append("json-structure")
            return
    if kind in (3, 4):
        req.body, name = json_text_mutation(rng, body or b"[]")
        req.mutations.append(name)
        return
    if kind == 5 and body:
        data = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        req.body = bytes(data)
        req.mutations.append("body-bitflip")
        return
    if kind == 6 and body:
        req.body = body[: rng.randrange(len(body))]
        req.mutations.append("body-truncated")
        return
    if kind == 7:
        req.body = bytes(rng.randrange(256) for _ in range(rng.choice([1, 16, 300, 5000])))
        req.mutations.append("body-random")
        return
    if kind == 8:
        req.body = b""
        req.mutations.append("body-empty")
        return
    i = rng.randrange(len(body) + 1)
    req.body = body[:i] + bytes([rng.randrange(0x80, 0x100)]) + body[i:]
    req.mutations.append("body-invalid-utf8")


def mutate_path(rng: random.Random, req: Request) -> None:
    target = req.target.decode("utf-8", "surrogateescape")
    path, _, query = target.partition("?")
    parts = path.split("/")
    kind = rng.randrange(12)
    if kind <= 2 and len(parts) > 1:
        i = rng.randrange(1, len(parts))
        parts[i] = rng.choice(SEGMENTS)
        req.mutations.append(f"segment[{i}]")
    elif kind == 3:
        i = rng.randrange(1, len(parts) + 1)
        parts.insert(i, rng.choice(["..", ".", "", "%2e%2e", "..;", "%2e"]))
        req.mutations.append("dot-segment")
    elif kind == 4:
        # percent-encode some characters (also the ones that must not be)
        chars = list(path)
        for i in rng.sample(range(len(chars)), min(len(chars), rng.randint(1, 6))):
            chars[i] = "".join(f"%{b:02{rng.choice('xX')}}" for b in chars[i].encode("utf-8", "surrogateescape"))
        path = "".join(chars)
        parts = path.split("/")
        req.mutations.append("percent-encoded")
    elif kind == 5:
        parts.append(rng.choice(SEGMENTS))
        req.mutations.append("extra-segment")
    elif kind == 6 and len(parts) > 2:
        del parts[rng.randrange(1, len(parts))]
        req.mutations.append("dropped-segment")
    elif kind == 7:
        pairs = [f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}" for _ in range(rng.choice([1, 2, 5, 2000]))]
        query = "&".join(pairs) if rng.random() < 0.7 else rng.choice(["&&&", "=", "==", "a", "%", "?", "&=&"])
        req.mutations.append("query")
    elif kind == 8:
        raw = bytearray(quote_path(path))
        for _ in range(rng.randint(1, 3)):
            raw.insert(rng.randrange(len(raw) + 1), rng.randrange(256))
        req.target = bytes(raw) + (b"?" + query.encode("utf-8", "surrogateescape") if query else b"")
        req.mutations.append("raw-bytes-in-target")
        return
    elif kind == 9:
        req.target = rng.choice([b"*", b"", b"http://127.0.0.1" + quote_path(path), b"v1.0/healthz", b"//" + quote_path(path),
                                 b"/" * 1000, quote_path(path) * 2, b"/%", b"/?", b"/#frag", b"https://[::1]:1/x"])
        req.mutations.append("odd-target")
        return
    elif kind == 10:
        parts = parts + ["a"] * rng.choice([100, 2000, 20000])
        req.mutations.append("many-segments")
    else:
        path = path.upper() if rng.random() < 0.5 else path + "/"
        parts = path.split("/")
        req.mutations.append("case-or-slash")
    path = "/".join(parts)
    target = path + (("?" + query) if query else "")
    req.target = quote_path(target)


def mutate_headers(rng: random.Random, req: Request) -> None:
    kind = rng.randrange(14)
    if kind <= 2:
        req._set(b"Content-Type", rng.choice(CONTENT_TYPES))
        req.mutations.append("content-type")
    elif kind == 3:
        req.length_mode = "asis"
        values = [b"-1", b"99999999999999999999999", b"abc", b"+5", b" 5 ", b"0x10", b"1e3", b"", b"5, 6",
                  str(len(req.body)).encode() + b"\x00"]
        req.headers.append((b"Content-Length", rng.choice(values)))
        if rng.random() < 0.3:
            req.headers.append((b"Content-Length", str(len(req.body)).encode()))
        req.mutations.append("content-length-invalid")
    elif kind == 4:
        req.length_mode = rng.choice(["short", "long", "none"])
        req.mutations.append(f"content-length-{req.length_mode}")
    elif kind == 5:
        req.length_mode = "chunked"
        req.mutations.append("chunked")
    elif kind == 6:
        req.length_mode = "asis"
        te = rng.choice([b"chunked", b"gzip, chunked", b"chunked, gzip", b"identity", b"chunked\x00", b"CHUNKED",
                         b"chunked;x=y", b"", b"bogus"])
        req.headers.append((b"Transfer-Encoding", te))
        bad = rng.randrange(6)
        if bad == 0:
            req.body = b"ffffffffffffffff\r\n" + req.body
        elif bad == 1:
            req.body = b"zz\r\n" + req.body + b"\r\n0\r\n\r\n"
        elif bad == 2:
            req.body = chunk(req.body, [1])[:-5]  # no last chunk
        elif bad == 3:
            req.headers.append((b"Content-Length", str(len(req.body)).encode()))  # smuggling shape
            req.body = chunk(req.body, [4])
        elif bad == 4:
            req.body = b"5;" + b"ext=" * 2000 + b"\r\nhello\r\n0\r\n\r\n"
        else:
            req.body = chunk(req.body, [7]).replace(b"\r\n", b"\n")
        req.mutations.append("transfer-encoding")
    elif kind == 7:
        for _ in range(rng.randint(1, 4)):
            req.headers.append((rng.choice(HEADER_NAMES), rng.choice(HEADER_VALUES)))
        req.mutations.append("headers")
    elif kind == 8:
        req.headers.append((b"X-Big", b"v" * rng.choice([8000, 70000, 300000])))
        req.mutations.append("huge-header")
    elif kind == 9:
        req.headers += [(b"X-H%d" % i, b"v") for i in range(rng.choice([100, 1000, 10000]))]
        req.mutations.append("many-headers")
    elif kind == 10:
        bad = rng.choice([(b"No-Colon", None), (b"Bad Name", b"v"), (b"X-Nul", b"a\x00b"), (b"X-CR", b"a\rb"),
                          (b"", b"empty-name"), (b" Lead", b"space"), (b"X-Obs", b"a\r\n folded")])
        if bad[1] is None:
            req.extra_lines.append(bad[0])  # a header line without a colon
        else:
            req.headers.append(bad)
        req.mutations.append("malformed-header")
    elif kind == 11:
        req.line_end = rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r"])
        req.mutations.append("line-endings")
    elif kind == 12:
        req.headers = [(n, v) for n, v in req.headers if n.lower() != b"host"]
        if rng.random() < 0.5:
            req.headers += [(b"Host", b"a"), (b"Host", b"b")]
        req.mutations.append("host")
    else:
        req._set(b"Expect", b"100-continue")
        req.mutations.append("expect-continue")


def mutate(rng: random.Random, req: Request) -> None:
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        kind = rng.randrange(100)
        if kind < 30:
            mutate_body(rng, req)
        elif kind < 55:
            mutate_path(rng, req)
        elif kind < 78:
            mutate_headers(rng, req)
        elif kind < 86:
            req.method = rng.choice(METHODS).encode("latin-1")
            req.mutations.append("method")
        elif kind < 90:
            req.version = rng.choice(VERSIONS)
            req.mutations.append("version")
        elif kind < 95:
            req.byte_flips = [rng.randrange(4096) for _ in range(rng.randint(1, 4))]
            req.mutations.append("head-bitflip")
        else:
            req.truncate_at = rng.randrange(max(1, len(req.raw())))
            req.mutations.append("truncated-request")


def make_case(seed: int, index: int, seeds: list) -> Request:
    rng = random.Random(f"{seed}:{index}")
    method, path, body, headers = seeds[index % len(seeds)] if index < len(seeds) else rng.choice(seeds)
    req = Request(method, path.encode(), body, headers)
    if index >= len(seeds):  # the first pass sends every seed as it is
        mutate(rng, req)
    lowered = urllib.parse.unquote_to_bytes(req.target).lower()
    if b"shutdown" in lowered or b"logs/stream" in lowered:  # never stop the sidecar or open an endless stream
        req.target = b"/v1.0/healthz"
        req.mutations.append("excluded-target")
    return req


# ----------------------------------------------------------------------------- the wire


class Answer:
    def __init__(self):
        self.status: int | None = None
        self.headers: dict = {}
        self.body = b""
        self.failure: str | None = None  # connection-level outcome
        self.seconds = 0.0


def exchange(port: int, data: bytes, timeout: float = TIMEOUT, head_only: bool = False) -> Answer:
    """Writes `data` on a new connection, then half-closes it, reading all along (a
    server may answer, e.g. 400 or 413, before it has read everything), until one whole
    answer is in or the server closes."""
    answer = Answer()
    started = time.monotonic()
    deadline = started + timeout
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    received = bytearray()
    parsed_at = 0
    view = memoryview(data)
    sent = 0
    try:
        conn.connect(("127.0.0.1", port))
        conn.setblocking(False)
        if not data:
            conn.shutdown(socket.SHUT_WR)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            writing = [conn] if sent < len(data) else []
            readable, writable, _ = select.select([conn], writing, [], min(left, 1.0))
            if writable:
                try:
                    sent += conn.send(view[sent:sent + (1 << 18)])
                    if sent >= len(data):
                        conn.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    sent = len(data)  # the server stopped reading; its answer may be in
            if readable:
                chunk_ = conn.recv(1 << 16)
                if not chunk_:
                    parsed = parse_response(bytes(received), head_only, eof=True)
                    if parsed and parsed is not True:
                        answer.status, answer.headers, answer.body = parsed
                    else:
                        answer.failure = "closed without an answer" if not received else "closed mid-answer"
                    break
                received += chunk_
                if len(received) < 65536 or len(received) >= parsed_at * 1.5:  # linear, not quadratic
                    parsed_at = len(received)
                    parsed = parse_response(bytes(received), head_only)
                    if parsed is not None and parsed is not True:
                        answer.status, answer.headers, answer.body = parsed
                        break
    except socket.timeout:
        answer.failure = "timeout" if not received else "timeout mid-answer"
    except ConnectionResetError:
        parsed = parse_response(bytes(received), head_only, eof=True) if received else None
        if parsed and parsed is not True:
            answer.status, answer.headers, answer.body = parsed
        else:
            answer.failure = "reset" if not received else "reset mid-answer"
    except ConnectionRefusedError:
        answer.failure = "refused"
    except OSError as error:
        answer.failure = f"{type(error).__name__}"
    finally:
        conn.close()
    answer.seconds = time.monotonic() - started
    return answer


def parse_response(data: bytes, head_only: bool, eof: bool = False):
    """(status, headers, body) once a whole answer is in `data`, True when it needs more
    bytes, None when there is no head yet. Interim 1xx answers are skipped."""
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = data[:end].decode("latin-1")
        rest = data[end + 4:]
        lines = head.split("\r\n")
        match = re.match(r"HTTP/\d\.\d (\d{3})", lines[0])
        if not match:
            return (-1, {}, data) if eof else None
        status = int(match.group(1))
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200 and status != 101:
            data = rest
            continue
        if head_only or status in (204, 304) or "text/event-stream" in headers.get("content-type", ""):
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, complete = dechunk(rest)
            return (status, headers, body) if complete or eof else True
        if "content-length" in headers:
            length = int(headers["content-length"] or 0)
            return (status, headers, rest[:length]) if len(rest) >= length or eof else True
        return (status, headers, rest) if eof else True


def dechunk(data: bytes):
    out = b""
    while True:
        end = data.find(b"\r\n")
        if end < 0:
            return out, False
        try:
            size = int(data[:end].split(b";")[0], 16)
        except ValueError:
            return out, True
        if size == 0:
            return out, True
        if len(data) < end + 2 + size:
            return out, False
        out += data[end + 2:end + 2 + size]
        data = data[end + 2 + size + 2:]


# ----------------------------------------------------------------------------- the run


class Finding:
    def __init__(self, kind: str, case: int, req: Request | None, detail: str, raw: bytes | None = None,
                 signature: str | None = None):
        self.kind = kind
        self.case = case
        self.req = req
        self.detail = detail
        self.raw = raw if raw is not None else (req.raw() if req else b"")
        self.signature = signature or f"{kind} {route_of(req)}"
        self.file: str | None = None


def error_code(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        return str(parsed.get("errorCode")) if isinstance(parsed, dict) else "?"
    except ValueError:
        return "not JSON"


# 5xx answers that are daprd's own: a component (or the runtime between the app and a
# component) failed, and daprd answers 500 with these error codes
# (../shared/spec/dapr-behaviour.md). Counted apart, not findings, when the answer is
# the documented JSON error on a route of that building block; any other 5xx (an
# errorCode "ERROR", a body that is not the error JSON, a code on the wrong route) is a
# finding.
# What fuzz_http.py runs apiary with (--http-idle-timeout); --idle-check waits longer.
IDLE_TIMEOUT = "2s"

DAPRD_500_CODES = {
    "/v1.0/state/": {"ERR_STATE_GET", "ERR_STATE_BULK_GET", "ERR_STATE_SAVE", "ERR_STATE_DELETE",
                     "ERR_STATE_TRANSACTION", "ERR_STATE_STORE_NOT_SUPPORTED", "ERR_PUBLISH_OUTBOX",
                     "ERR_STATE_STORE_NOT_CONFIGURED"},
    "/v1.0-alpha1/state/": {"ERR_STATE_QUERY", "ERR_STATE_STORE_NOT_SUPPORTED", "ERR_STATE_STORE_NOT_CONFIGURED"},
    "/v1.0/publish/": {"ERR_PUBSUB_CLOUD_EVENTS_SER", "ERR_PUBSUB_PUBLISH_MESSAGE"},
    "/v1.0-alpha1/publish/bulk/": {"ERR_PUBSUB_CLOUD_EVENTS_SER", "ERR_PUBSUB_PUBLISH_MESSAGE"},
    "/v1.0/bindings/": {"ERR_INVOKE_OUTPUT_BINDING"},
    "/v1.0/secrets/": {"ERR_SECRET_GET", "ERR_SECRET_STORES_NOT_CONFIGURED"},
}


def by_design(status: int, req: Request, body: bytes) -> str | None:
    if status != 500:
        return None
    target = req.target.split(b"?")[0].decode("latin-1")
    target = re.sub(r"/+", "/", re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "", target)).rstrip("/")  # absolute form
    code = error_code(body)
    for prefix, codes in DAPRD_500_CODES.items():
        if target.startswith(prefix) and code in codes:
            return f"{code} (daprd answers it with 500)"
    return None


def idle_check(port: int, seconds: float) -> list:
    """Connections that never complete a request must not be held open for ever (a
    slowloris holds one file descriptor each): opens three, waits `seconds`, and
    answers a finding for each one the server still keeps open."""
    shapes = [
        ("no bytes at all", b""),
        ("an unfinished request head", b"GET /v1.0/healthz HTTP/1.1\r\nHo"),
        ("a head whose body never comes", b"POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n["),
    ]
    print(f"idle check: {len(shapes)} connections that never finish a request, {seconds:.0f} s ...", flush=True)
    conns = []
    for label, data in shapes:
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        if data:
            conn.sendall(data)
        conn.setblocking(False)
        conns.append((label, data, conn))
    time.sleep(seconds)
    found = []
    for label, data, conn in conns:
        try:
            state = "closed" if conn.recv(1 << 16) == b"" else "answered"
        except BlockingIOError:
            state = "open"
        except OSError as error:
            state = f"closed ({type(error).__name__})"
        conn.close()
        print(f"  {label}: {state} after {seconds:.0f} s", flush=True)
        if state == "open":
            found.append(Finding("idle connection kept", -1, None,
                                 f"a connection with {label} was still open after {seconds:.0f} s "
                                 "(no idle / request timeout on the HTTP port)", data,
                                 signature=f"HTTP connection with {label} kept open {seconds:.0f} s"))
    return found


def run(args) -> int:
    fuzzlib.lower_priority(19)
    fuzzlib.exit_on_signals()
    # A short idle timeout, so that --idle-check can see it work within seconds.
    sidecar = fuzzlib.Sidecar(args.bin, args.file_secrets, keep=args.keep,
                              extra_args=["--http-idle-timeout", IDLE_TIMEOUT])
    print(f"fuzz_http: seed {args.seed}, {args.cases} cases; starting apiary from {args.bin} ...", flush=True)
    started = time.monotonic()
    sidecar.start()
    seeds = [s for s in SEEDS if sidecar.file_secrets or not ("/files" in s[1] or "/secretstore/" in s[1])]
    print(f"fuzz_http: apiary ready on http port {sidecar.http_port} in {time.monotonic() - started:.1f} s "
          f"(components: {', '.join(sidecar.components)}); {len(seeds)} seed requests", flush=True)
    findings: list = []
    statuses = collections.Counter()
    failures = collections.Counter()
    error_shapes = collections.Counter()
    designed = collections.Counter()
    failure_examples = collections.defaultdict(list)
    tried = 0
    crashed = False
    findings_dir = args.findings
    cases = [args.case] if args.case is not None else range(args.cases)
    fuzz_started = time.monotonic()
    try:
        if args.replay:
            for path in args.replay:
                with open(path, "rb") as f:
                    data = f.read()
                answer = exchange(sidecar.http_port, data, timeout=args.timeout)
                print(f"{path}: {answer.failure or answer.status} after {answer.seconds:.2f} s "
                      f"{fuzzlib.short(answer.body, 600)}")
                tried += 1
                report = sidecar.crash_report()
                if report:
                    print(report)
                    crashed = True
                    break
            return 1 if crashed else 0
        for index in cases:
            req = make_case(args.seed, index, seeds)
            data = req.raw()
            answer = exchange(sidecar.http_port, data, timeout=args.timeout, head_only=req.method == b"HEAD")
            tried += 1
            if answer.failure:
                failures[answer.failure] += 1
                statuses["conn"] += 1
                if len(failure_examples[answer.failure]) < 3:
                    failure_examples[answer.failure].append(f"case {index} ({answer.seconds:.1f} s): {req.summary()}")
                if not req.mutations:
                    findings.append(Finding("seed request without an answer", index, req, answer.failure, data))
            else:
                statuses[answer.status] += 1
                if answer.status >= 500:
                    why = by_design(answer.status, req, answer.body)
                    if why:
                        designed[f"{answer.status} {route_of(req)}: {why}"] += 1
                    else:
                        findings.append(Finding(
                            f"{answer.status}", index, req, fuzzlib.short(answer.body, 400), data,
                            signature=f"{answer.status} {error_code(answer.body)} on {route_of(req)}"))
                if answer.status == 405 and req.method == b"CONNECT":
                    # NIO frames every answer to CONNECT as a tunnel switch, without a
                    # body; apiary closes the connection after it instead.
                    designed["405 to CONNECT without a body: no route takes CONNECT; the answer cannot carry one"] += 1
                elif answer.status >= 300 and answer.status != 304 and not answer.body.strip() and req.method != b"HEAD":
                    if "server" not in answer.headers:
                        where = "HTTP parser (connection closed, no Server header)"
                    elif answer.status in (404, 405):
                        where = "router: no route for this method and path"
                    else:
                        where = f"handler of {route_of(req)}"
                    findings.append(Finding(f"{answer.status} with an empty body", index, req, "no error message", data,
                                            signature=f"{answer.status} with an empty body from the {where}"))
                if answer.status >= 400:
                    try:
                        shape = json.loads(answer.body)
                        error_shapes["json errorCode+message" if isinstance(shape, dict) and shape.get("message")
                                     else "json, other"] += 1
                    except ValueError:
                        error_shapes["not json" if answer.body.strip() else "empty"] += 1
            report = sidecar.crash_report()
            if report:
                findings.append(Finding("crash", index, req, report, data))
                crashed = True
                break
            if index % 50 == 49:
                status, body = fuzzlib.http_get(sidecar.http_port, "/v1.0/healthz", timeout=10)
                if status != 204:
                    findings.append(Finding("unresponsive", index, req,
                                            f"health probe after case {index}: {status} {body!r}", data))
                    report = sidecar.crash_report()
                    if report:
                        crashed = True
                        findings[-1].detail += "\n" + report
                        break
            if args.progress and tried % args.progress == 0:
                rate = tried / max(1e-6, time.monotonic() - fuzz_started)
                print(f"  {tried} cases, {rate:.0f}/s, {len(findings)} findings", flush=True)
        elapsed = time.monotonic() - fuzz_started
        if args.idle_check and not crashed:
            findings += idle_check(sidecar.http_port, args.idle_check)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        elapsed = locals().get("elapsed") or time.monotonic() - fuzz_started
        exit_status = sidecar.stop()
        findings_dir = fuzzlib.save_findings(
            findings, findings_dir, f"fuzz-http-findings-{args.seed}-",
            lambda n, finding: (f"case-{finding.case}" if finding.case >= 0 else f"idle-{n}") + ".http",
            lambda finding: finding.raw)

    print()
    print(f"fuzz_http: {tried} cases tried in {elapsed:.1f} s ({tried / max(elapsed, 1e-6):.1f} cases/s), seed {args.seed}")
    print(f"status histogram: {fuzzlib.histogram_line(statuses)}")
    print(f"connection-level outcomes (not findings): {fuzzlib.histogram_line(failures) or 'none'}")
    for outcome, examples in failure_examples.items():
        for example in examples:
            print(f"  {outcome}: {example}")
    print(f"error bodies (>= 400): {fuzzlib.histogram_line(error_shapes) or 'none'}")
    print(f"apiary stopped with {fuzzlib.describe_exit(exit_status)}" if not crashed else "apiary CRASHED")
    if designed:
        print("by design (not findings): " + "; ".join(f"{k} x{v}" for k, v in designed.items()))
    for signature, members in fuzzlib.finding_groups(findings).items():
        first = members[0]
        print(f"- {signature}: {len(members)} cases")
        fuzzlib.print_detail(first.detail)
        for member in members[:3]:
            if member.case >= 0:
                print(f"    case {member.case}: {member.req.summary() if member.req else ''}")
            print(f"      request {fuzzlib.short(member.raw, 240)}")
        if first.case >= 0:
            print(f"    reproduce: python3 {os.path.relpath(__file__)} --bin {args.bin} --seed {args.seed} "
                  f"--case {first.case}   (or --replay {first.file})")
        else:
            print(f"    reproduce: python3 {os.path.relpath(__file__)} --bin {args.bin} --cases 0 "
                  f"--idle-check {args.idle_check:.0f}")
    if findings:
        print(f"raw requests of the findings in {findings_dir}")
    return 1 if findings or crashed else 0


def route_of(req: Request | None) -> str:
    """The route template a request aimed at, for grouping."""
    if req is None:
        return ""
    path = req.target.split(b"?")[0].decode("latin-1")
    parts = path.split("/")
    if len(parts) > 3 and parts[1].startswith("v1.0") and parts[2] in ("state", "secrets", "publish", "bindings", "hello"):
        return "/".join(parts[:3] + ["{" + p[:1] + "}" if p not in ("bulk", "transaction", "query") else p for p in parts[3:6]])
    return path[:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=fuzzlib.default_bin_dir(), help="folder with apiary and memstore")
    parser.add_argument("--file-secrets", default=fuzzlib.DEFAULT_FILE_SECRETS,
                        help="the C++ file-secrets binary (left out when missing)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--case", type=int, help="run only this case of the seed")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds a case may take (default %(default)s)")
    parser.add_argument("--idle-check", type=float, default=0, metavar="SECONDS",
                        help="after the cases, check that connections which never finish a request are closed "
                             "within SECONDS (default: not checked)")
    parser.add_argument("--replay", nargs="+", help="send these raw request files instead of fuzzing")
    parser.add_argument("--findings", help="folder for the raw requests of findings (default: a new /tmp/fuzz-http-findings-SEED-*)")
    parser.add_argument("--progress", type=int, default=500, help="print progress every N cases (0: never)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
