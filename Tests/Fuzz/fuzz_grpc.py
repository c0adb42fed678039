#!/usr/bin/env python3
"""Fuzzes Apiary's Dapr gRPC API (`dapr.proto.runtime.v1.Dapr`, `spec.proto.runtime.v1.Runtime`).

    python3 Tests/Fuzz/fuzz_grpc.py [--bin DIR] [--seed N] [--cases N] [--raw-cases N]
                                    [--only proto|raw] [--case K] [--keep]

Starts the same sidecar as fuzz_http.py (Tests/Fuzz/fuzzlib.py: memstore as state store
`statestore` and hello `greeter`, built-ins `memory`, `pubsub`, `localsecrets`, and the
C++ file-secrets as `secretstore` and `files` when it is built), under `nice -n 19`.

Part A, `--cases` (default 3000) calls through grpcio's generic `channel.unary_unary`
(raw bytes in, raw bytes out) on the unary methods (Shutdown excepted), SayHello,
unimplemented and unknown methods, and the SubscribeTopicEventsAlpha1 stream: the first
pass sends each valid seed message; then mutations of them: random bytes, truncation,
bit flips, inserted/deleted bytes, and protobuf-aware ones (a field re-encoded with
another wire type, invalid UTF-8 in a string field, huge and negative varints, lengths
past the end, unterminated varints, groups, unknown and zero field numbers, duplicated
and dropped fields, huge repeated fields, messages over the 4 MiB limit), with random
metadata and, now and then, gzip compression. Every answer must be a status other than
UNKNOWN or INTERNAL (each one is reported with its method and input) and the call must
end within its deadline.

Part B, `--raw-cases` (default 400) opens TCP connections to the gRPC port and writes
HTTP/2 by hand: random bytes with and without the preface, malformed and oversized
frames, bad SETTINGS / WINDOW_UPDATE / PING / PRIORITY / RST_STREAM / GOAWAY /
PUSH_PROMISE, garbage HPACK, CONTINUATION floods, rapid reset, bad pseudo-headers and
content-types, gRPC length prefixes of 4 GiB, compressed flags without an encoding,
padding past the end; after each case a normal GetMetadata call on a separate channel
must succeed within 10 s.

Case K of each part depends only on the seed and K (`--case K` with `--only` replays
it). Checks throughout: apiary stays alive and its log holds no crash trace. Prints
the cases tried, status and reaction histograms, and every finding with its input;
exit status 1 on a crash or any finding.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
import grpc  # noqa: E402

try:  # decodes the raw answers' headers (pip install hpack); without it their statuses are not checked
    import hpack  # noqa: E402
except ImportError:
    hpack = None
from dapr.proto.runtime.v1 import dapr_pb2  # noqa: E402,F401  (loads every runtime message)
from google.protobuf import descriptor_pool, message_factory  # noqa: E402

DAPR = "/dapr.proto.runtime.v1.Dapr/"
CALL_TIMEOUT = 10.0
MAX_MESSAGE = 6 << 20
# Answers that are findings: UNKNOWN and INTERNAL, and CANCELLED (this client never
# cancels, so it means the server reset the stream instead of answering a status).
BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED}
# Answers in BAD_CODES that are daprd's own (../shared/spec/dapr-behaviour.md): a
# component failed, or the request the component got was refused, and daprd answers
# INTERNAL with these messages; a streaming subscription without its initial request
# is a plain error (UNKNOWN) in daprd too. Counted apart, not findings, on that method
# with that message only.
DAPRD_ANSWERS = [
    (grpc.StatusCode.INTERNAL, "GetState", re.compile(r"^fail to get .* from state store ")),
    (grpc.StatusCode.INTERNAL, "SaveState", re.compile(r"^failed saving state in state store ")),
    (grpc.StatusCode.INTERNAL, "DeleteState", re.compile(r"^failed deleting state with key ")),
    (grpc.StatusCode.INTERNAL, "DeleteBulkState", re.compile(r"^failed deleting state in state store ")),
    (grpc.StatusCode.INTERNAL, "ExecuteStateTransaction", re.compile(r"^error while executing state transaction: ")),
    (grpc.StatusCode.INTERNAL, "QueryStateAlpha1", re.compile(r"^state store .* query failed: ")),
    (grpc.StatusCode.INTERNAL, "PublishEvent", re.compile(r"^error when publishing to topic ")),
    (grpc.StatusCode.INTERNAL, "InvokeBinding", re.compile(r"^error invoking output binding ")),
    (grpc.StatusCode.INTERNAL, "GetSecret", re.compile(r"^failed getting secret with key ")),
    (grpc.StatusCode.INTERNAL, "GetBulkSecret", re.compile(r"^failed getting secrets from secret store ")),
    (grpc.StatusCode.UNKNOWN, "SubscribeTopicEventsAlpha1", re.compile(r"^initial request is required$")),
]


def daprd_answer(code, method: str, details: str) -> bool:
    name = method.rsplit("/", 1)[-1]
    return any(code == c and name == m and pattern.search(details) for c, m, pattern in DAPRD_ANSWERS)


# Raw HTTP/2 requests whose headers break the gRPC protocol (no :method, a bad :scheme
# or te, ...) are refused by gRPC core's HTTP/2 layer before apiary sees a call, with
# UNKNOWN and one of these messages. Counted apart, not findings: apiary cannot answer
# them otherwise (the NIO transport resets such streams instead).
CORE_HEADER_REJECTION = re.compile(r"^(Missing|Bad) :?[a-z-]+ header$")
# A DATA frame longer than the flow-control window it may use breaks HTTP/2 itself;
# gRPC core's HTTP/2 layer ends the stream with INTERNAL and this message (its own
# format string), before apiary sees the message. Counted apart too.
CORE_FLOW_CONTROL_REJECTION = re.compile(r"^frame of size \d+ overflows local window of \d+$")


def message(_full_name: str, **fields):
    cls = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(_full_name))
    return cls(**fields)


def rt(_type: str, **fields):
    return message(f"dapr.proto.runtime.v1.{_type}", **fields)


def common(_type: str, **fields):
    return message(f"dapr.proto.common.v1.{_type}", **fields)


# ----------------------------------------------------------------------------- protobuf wire


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def length_delimited(number: int, data: bytes) -> bytes:
    return tag(number, 2) + varint(len(data)) + data


def say_hello(service: str, name: str, data: bytes | None = None) -> bytes:
    out = length_delimited(1, service.encode()) + length_delimited(2, name.encode())
    if data is not None:  # google.protobuf.Any {type_url = 1, value = 2}
        out += length_delimited(3, length_delimited(1, b"type.googleapis.com/x") + length_delimited(2, data))
    return out


def parse_fields(data: bytes):
    """The top-level fields of a protobuf message as (number, wire, value, raw), or
    None when `data` is not a well-formed message."""
    fields = []
    i = 0
    try:
        while i < len(data):
            start = i
            key, i = read_varint(data, i)
            number, wire = key >> 3, key & 7
            if number == 0:
                return None
            if wire == 0:
                value, i = read_varint(data, i)
            elif wire == 1:
                value, i = data[i:i + 8], i + 8
            elif wire == 2:
                length, i = read_varint(data, i)
                value, i = data[i:i + length], i + length
            elif wire == 5:
                value, i = data[i:i + 4], i + 4
            else:
                return None
            if i > len(data):
                return None
            fields.append((number, wire, value, data[start:i]))
    except IndexError:
        return None
    return fields


def read_varint(data: bytes, i: int):
    value = 0
    shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 70:
            raise IndexError


def encode_field(number: int, wire: int, value) -> bytes:
    if wire == 0:
        return tag(number, 0) + varint(value if isinstance(value, int) else int.from_bytes(bytes(value)[:8] or b"\0", "little"))
    if wire == 1:
        raw = value if isinstance(value, bytes) else struct.pack("<Q", value & ((1 << 64) - 1))
        return tag(number, 1) + (raw + b"\0" * 8)[:8]
    if wire == 5:
        raw = value if isinstance(value, bytes) else struct.pack("<I", value & 0xFFFFFFFF)
        return tag(number, 5) + (raw + b"\0" * 4)[:4]
    raw = value if isinstance(value, bytes) else varint(value)
    return length_delimited(number, raw)


def mutate_message(rng: random.Random, data: bytes, depth: int = 0) -> tuple:
    """One mutation of a serialized message; (bytes, name)."""
    fields = parse_fields(data) if data else []
    kind = rng.randrange(20)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 5, 17, 100, 1000, 70000]))), "random-bytes"
    if kind == 1 and data:
        return data[: rng.randrange(len(data))], "truncated"
    if kind == 2 and data:
        out = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        return bytes(out), "bit-flips"
    if kind == 3:
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if out and rng.random() < 0.5:
                del out[rng.randrange(len(out))]
            else:
                out.insert(rng.randrange(len(out) + 1), rng.randrange(256))
        return bytes(out), "insert-delete"
    if kind == 4:
        return data + tag(rng.choice([1, 2, 3, 4, 5, 15, 16, 2047, (1 << 29) - 1]), rng.choice([0, 1, 2, 5])) + \
            rng.choice([b"\x01", b"\x05abcde", b"\x00" * 8, b"\xff" * 10 + b"\x01"]), "unknown-field"
    if kind == 5:
        return data + rng.choice([b"\x00", b"\x00\x00", b"\x02\x00"]), "field-number-zero"
    if kind == 6:
        return data + tag(rng.choice([1, 2, 3]), 2) + varint(rng.choice([1 << 20, 1 << 31, (1 << 32) + 5, (1 << 63)])) + b"x", \
            "length-past-end"
    if kind == 7:
        return data + tag(rng.choice([1, 2, 3]), 0) + b"\xff" * rng.choice([5, 10, 11, 20]), "unterminated-varint"
    if kind == 8:
        return data + tag(rng.choice([1, 2, 99]), rng.choice([3, 4, 6, 7])) + b"\x08\x01", "group-or-bad-wire-type"
    if kind == 9:
        return data + length_delimited(rng.choice([1, 2, 4]), bytes(rng.randrange(0x80, 0x100) for _ in range(6))), \
            "invalid-utf8-string"
    if kind == 10:
        size = rng.choice([3 << 20, 5 << 20])
        return data + length_delimited(rng.choice([2, 3]), b"x" * size), f"huge-field-{size}"
    if kind == 11:
        return data + tag(rng.choice([3, 4, 5]), 0) + varint(rng.choice([(1 << 64) - 1, (1 << 31), (1 << 63), 99, 7])), \
            "huge-or-negative-varint"
    if not fields:
        return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 20))), "appended-bytes"
    i = rng.randrange(len(fields))
    number, wire, value, raw = fields[i]
    rest = [f[3] for f in fields]
    if kind == 12:
        new_wire = rng.choice([w for w in (0, 1, 2, 5) if w != wire])
        rest[i] = encode_field(number, new_wire, value)
        return b"".join(rest), f"wrong-wire-type-{wire}-to-{new_wire}"
    if kind == 13:
        rest.insert(i, raw)
        return b"".join(rest), "duplicated-field"
    if kind == 14:
        del rest[i]
        return b"".join(rest), "dropped-field"
    if kind == 15:
        rest[i] = raw * max(2, min(rng.choice([100, 10000, 100000]), (6 << 20) // max(1, len(raw))))
        return b"".join(rest), "repeated-field-flood"
    if kind == 16 and wire == 2 and depth < 4 and parse_fields(value):
        inner, name = mutate_message(rng, value, depth + 1)
        rest[i] = length_delimited(number, inner)
        return b"".join(rest), f"nested-{name}"
    if kind == 17 and wire == 2:
        rest[i] = length_delimited(number, bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randint(1, 8))) + value)
        return b"".join(rest), "invalid-utf8-in-field"
    if kind == 18 and wire == 0:
        rest[i] = tag(number, 0) + varint(rng.choice([(1 << 64) - 1, (1 << 32), 1 << 31, 12345, 3, 4]))
        return b"".join(rest), "enum-or-int-out-of-range"
    if kind == 18 and wire == 2:
        rest[i] = tag(number, 2) + varint(len(value) + rng.choice([1, 100, 1 << 30]))  + value
        return b"".join(rest), "length-too-long"
    rng.shuffle(rest)
    return b"".join(rest), "fields-reordered"


# ----------------------------------------------------------------------------- seeds


def seeds(with_file_secrets: bool) -> list:
    """(method path, serialized request) of valid calls."""
    item = lambda key, value=b"v", **kw: common("StateItem", key=key, value=value, **kw)  # noqa: E731
    out = [
        ("GetState", rt("GetStateRequest", store_name="statestore", key="k1")),
        ("GetState", rt("GetStateRequest", store_name="memory", key="k1", consistency=1, metadata={"a": "b"})),
        ("SaveState", rt("SaveStateRequest", store_name="statestore", states=[item("k1", b'{"a":1}'), item("k2")])),
        ("SaveState", rt("SaveStateRequest", store_name="memory", states=[
            item("t", b"1", metadata={"ttlInSeconds": "60"}, etag=common("Etag", value="1"),
                 options=common("StateOptions", concurrency=1, consistency=2))])),
        ("GetBulkState", rt("GetBulkStateRequest", store_name="statestore", keys=["k1", "k2", "x"], parallelism=2)),
        ("DeleteState", rt("DeleteStateRequest", store_name="statestore", key="k2", etag=common("Etag", value="3"),
                           options=common("StateOptions", concurrency=2))),
        ("DeleteBulkState", rt("DeleteBulkStateRequest", store_name="memory", states=[item("t"), item("u")])),
        ("ExecuteStateTransaction", rt("ExecuteStateTransactionRequest", storeName="statestore", operations=[
            rt("TransactionalStateOperation", operationType="upsert", request=item("tx", b"1")),
            rt("TransactionalStateOperation", operationType="delete", request=item("k1"))], metadata={"m": "n"})),
        ("QueryStateAlpha1", rt("QueryStateRequest", store_name="statestore", query='{"filter":{}}')),
        ("PublishEvent", rt("PublishEventRequest", pubsub_name="pubsub", topic="orders", data=b'{"id":1}',
                            data_content_type="application/json")),
        ("PublishEvent", rt("PublishEventRequest", pubsub_name="pubsub", topic="fuzz", data=b"\x00\xff",
                            data_content_type="application/octet-stream", metadata={"rawPayload": "true"})),
        ("BulkPublishEventAlpha1", rt("BulkPublishRequest", pubsub_name="pubsub", topic="orders", entries=[
            rt("BulkPublishRequestEntry", entry_id="1", event=b'{"a":1}', content_type="application/json"),
            rt("BulkPublishRequestEntry", entry_id="2", event=b"t", content_type="text/plain", metadata={"k": "v"})])),
        ("BulkPublishEvent", rt("BulkPublishRequest", pubsub_name="pubsub", topic="fuzz", entries=[
            rt("BulkPublishRequestEntry", entry_id="e", event=b"{}", content_type="application/json")])),
        ("GetSecret", rt("GetSecretRequest", store_name="localsecrets", key="api:key")),
        ("GetBulkSecret", rt("GetBulkSecretRequest", store_name="localsecrets")),
        ("GetMetadata", rt("GetMetadataRequest")),
        ("SetMetadata", rt("SetMetadataRequest", key="fuzz", value="v")),
        # unimplemented building blocks
        ("InvokeService", rt("InvokeServiceRequest", id="other")),
        ("TryLockAlpha1", rt("TryLockRequest", store_name="lock", resource_id="r", lock_owner="o", expiry_in_seconds=5)),
        ("GetConfiguration", rt("GetConfigurationRequest", store_name="config", keys=["a"])),
    ]
    if with_file_secrets:
        out += [
            ("GetSecret", rt("GetSecretRequest", store_name="secretstore", key="db-password")),
            ("GetBulkSecret", rt("GetBulkSecretRequest", store_name="secretstore")),
            ("InvokeBinding", rt("InvokeBindingRequest", name="files", operation="create", data=b"hello",
                                 metadata={"fileName": "g.txt"})),
            ("InvokeBinding", rt("InvokeBindingRequest", name="files", operation="get", metadata={"fileName": "g.txt"})),
            ("InvokeBinding", rt("InvokeBindingRequest", name="files", operation="list")),
        ]
    calls = [(DAPR + m, msg.SerializeToString()) for m, msg in out]
    calls += [
        ("/spec.proto.runtime.v1.Runtime/SayHello", say_hello("greeter", "Ada")),
        ("/spec.proto.runtime.v1.Runtime/SayHello", say_hello("greeter", "Bob", b"\x01\x02")),
        (DAPR + "NoSuchMethod", b""),
        ("/no.such.Service/Call", b"\x0a\x01x"),
        ("/grpc.health.v1.Health/Check", b""),
        ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", b""),
    ]
    return calls


STREAMING = DAPR + "SubscribeTopicEventsAlpha1"
METHOD_NAMES = ["GetState", "SaveState", "GetBulkState", "DeleteState", "DeleteBulkState", "ExecuteStateTransaction",
                "PublishEvent", "BulkPublishEventAlpha1", "BulkPublishEvent", "InvokeBinding", "GetSecret",
                "GetBulkSecret", "GetMetadata", "SetMetadata", "QueryStateAlpha1", "InvokeService", "ScheduleJobAlpha1",
                "StartWorkflowBeta1", "ConverseAlpha1", "GetActorState"]
METADATA_KEYS = ["dapr-api-token", "x-custom", "traceparent", "grpc-trace-bin", "x-bin", "dapr-app-id",
                 "content-type", "user-agent-x", "metadata.ttlinseconds", "a" * 200]
# ASCII only: grpcio refuses other values itself (the raw part sends those).
METADATA_VALUES = ["", "x", "wrong-token", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "garbage", "v" * 8000, " x ", "a\tb"]


def make_proto_case(seed: int, index: int, calls: list) -> dict:
    rng = random.Random(f"{seed}:grpc:{index}")
    if index < len(calls):
        method, data = calls[index]
        return {"method": method, "data": data, "mutations": [], "metadata": [], "compression": None}
    method, data = rng.choice(calls)
    mutations = []
    if rng.random() < 0.08:
        method = DAPR + rng.choice(METHOD_NAMES)  # another method's message
        mutations.append("other-method")
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data, name = mutate_message(rng, data)
        mutations.append(name)
        if len(data) > MAX_MESSAGE:  # a few MiB over the sidecar's 4 MiB limit is enough
            data = data[:MAX_MESSAGE]
            mutations.append("cut")
    metadata = []
    if rng.random() < 0.2:
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(METADATA_KEYS)
            value = bytes(rng.randrange(256) for _ in range(8)) if key.endswith("-bin") else rng.choice(METADATA_VALUES)
            metadata.append((key, value))
        mutations.append("metadata")
    compression = None
    if rng.random() < 0.05:
        compression = grpc.Compression.Gzip
        mutations.append("gzip")
    if rng.random() < 0.04:
        method = STREAMING
        mutations.append("stream")
    return {"method": method, "data": data, "mutations": mutations, "metadata": metadata, "compression": compression}


# ----------------------------------------------------------------------------- HTTP/2 by hand

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
               "WINDOW_UPDATE", "CONTINUATION"]


def frame(kind: int, flags: int, stream: int, payload: bytes, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    return struct.pack(">I", n & 0xFFFFFF)[1:] + bytes([kind & 0xFF, flags & 0xFF]) + struct.pack(">I", stream & 0xFFFFFFFF) + payload


def hpack_int(value: int, prefix: int, flags: int = 0) -> bytes:
    top = (1 << prefix) - 1
    if value < top:
        return bytes([flags | value])
    out = bytearray([flags | top])
    value -= top
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """Literal header field without indexing, new name, no Huffman."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def header_block(path: bytes = b"/dapr.proto.runtime.v1.Dapr/GetMetadata", extra: list = (), drop: tuple = (),
                 replace: dict | None = None) -> bytes:
    fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", path), (b":authority", b"127.0.0.1"),
              (b"content-type", b"application/grpc"), (b"te", b"trailers")]
    replace = replace or {}
    fields = [(n, replace.get(n, v)) for n, v in fields if n not in drop] + list(extra)
    return b"".join(hpack_literal(n, v) for n, v in fields)


def grpc_message(data: bytes, compressed: bool = False, length: int | None = None) -> bytes:
    return bytes([1 if compressed else 0]) + struct.pack(">I", (len(data) if length is None else length) & 0xFFFFFFFF) + data


def settings(*pairs) -> bytes:
    return b"".join(struct.pack(">HI", k & 0xFFFF, v & 0xFFFFFFFF) for k, v in pairs)


def valid_exchange(stream: int = 1, path: bytes = b"/dapr.proto.runtime.v1.Dapr/GetMetadata", data: bytes = b"") -> bytes:
    return frame(HEADERS, END_HEADERS, stream, header_block(path)) + frame(DATA, END_STREAM, stream, grpc_message(data))


def make_raw_case(seed: int, index: int) -> tuple:
    """(bytes to write, name) of raw case `index`."""
    rng = random.Random(f"{seed}:raw:{index}")
    # The largest flow-control windows, stream and connection: this client never sends
    # WINDOW_UPDATE, and an answer over 64 KiB (GetMetadata grows with the proto part's
    # SetMetadata calls) would otherwise wait for one, rightly, and look unanswered.
    start = (PREFACE + frame(SETTINGS, 0, 0, settings((4, (1 << 31) - 1)))
             + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1 - 65535)))
    get_state = rt("GetStateRequest", store_name="statestore", key="k1").SerializeToString()
    kinds = [
        lambda: (bytes(rng.randrange(256) for _ in range(rng.choice([1, 24, 100, 5000]))), "random-bytes"),
        lambda: (start + bytes(rng.randrange(256) for _ in range(rng.choice([1, 9, 100, 5000]))), "preface+random"),
        lambda: (PREFACE[: rng.randrange(1, len(PREFACE))] + b"GET / HTTP/1.1\r\n\r\n", "broken-preface"),
        lambda: (b"GET /dapr.proto.runtime.v1.Dapr/GetMetadata HTTP/1.1\r\nHost: x\r\n\r\n", "http1-request"),
        lambda: (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" * 3, "preface-thrice"),
        lambda: (start + frame(rng.randrange(10, 256), rng.randrange(256), rng.randrange(4),
                               bytes(rng.randrange(256) for _ in range(rng.randrange(64)))), "unknown-frame-type"),
        lambda: (start + frame(rng.randrange(10), rng.randrange(256), rng.choice([0, 1, 2, 3, 0x7FFFFFFF, 0xFFFFFFFF]),
                               bytes(rng.randrange(256) for _ in range(rng.randrange(40)))), "random-frame"),
        lambda: (start + frame(rng.randrange(10), 0, 1, b"x" * rng.randrange(10), length=rng.choice([0xFFFFFF, 16385, 1 << 20])),
                 "declared-length-huge"),
        lambda: (start + frame(DATA, 0, 1, b"x" * 20000), "frame-over-max-size"),
        lambda: (start + frame(SETTINGS, 0, 0, b"\x00\x01\x00"), "settings-bad-length"),
        lambda: (start + frame(SETTINGS, ACK, 0, settings((1, 4096))), "settings-ack-with-payload"),
        lambda: (start + frame(SETTINGS, 0, rng.choice([1, 3]), settings((3, 10))), "settings-on-stream"),
        lambda: (start + frame(SETTINGS, 0, 0, settings(rng.choice([(2, 2), (4, 1 << 31), (5, 100), (5, 1 << 24),
                                                                     (1, 0xFFFFFFFF), (3, 0), (0xFFFF, 1), (8, 5)]))),
                 "settings-bad-value"),
        lambda: (start + frame(SETTINGS, 0, 0, settings(*[(3, i) for i in range(2000)])), "settings-huge"),
        lambda: (start + frame(SETTINGS, 0, 0, settings((4, 0))) + valid_exchange(), "initial-window-zero"),
        lambda: (start + frame(WINDOW_UPDATE, 0, rng.choice([0, 1]), struct.pack(">I", 0)), "window-update-zero"),
        lambda: (start + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)) * 2, "window-overflow"),
        lambda: (start + frame(WINDOW_UPDATE, 0, 0, b"\x00\x01"), "window-update-short"),
        lambda: (start + frame(PING, 0, 0, b"12345"), "ping-bad-length"),
        lambda: (start + frame(PING, 0, 1, b"12345678"), "ping-on-stream"),
        lambda: (start + frame(PING, 0, 0, b"12345678") * rng.choice([1000, 20000]), "ping-flood"),
        lambda: (start + frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 16)), "priority-self-dependency"),
        lambda: (start + frame(PRIORITY, 0, 0, b"\x00"), "priority-bad"),
        lambda: (start + frame(RST_STREAM, 0, rng.choice([0, 1, 9]), struct.pack(">I", 8)), "rst-idle-stream"),
        lambda: (start + frame(GOAWAY, 0, rng.choice([0, 1]), struct.pack(">II", 0, 1) + b"debug") + valid_exchange(),
                 "goaway-then-request"),
        lambda: (start + frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + header_block()), "push-promise-from-client"),
        lambda: (start + frame(HEADERS, END_HEADERS, 0, header_block()), "headers-on-stream-0"),
        lambda: (start + frame(HEADERS, END_HEADERS, 2, header_block()), "headers-on-even-stream"),
        lambda: (start + valid_exchange(5) + valid_exchange(3), "stream-ids-decreasing"),
        lambda: (start + frame(DATA, END_STREAM, rng.choice([0, 1, 7]), grpc_message(b"")), "data-on-idle-stream"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))),
                 "hpack-garbage"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, b"\xbf" + b"\xff" * 10), "hpack-index-out-of-range"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, hpack_int(rng.choice([1 << 30, 100000]), 5, 0x20) + header_block()),
                 "hpack-table-size-update"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, b"\x00\x85\xff\xff\xff\xff\xff\x81\xff"), "hpack-bad-huffman"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, b"\x00" + hpack_int(1 << 28, 7) + b"x"), "hpack-huge-string"),
        lambda: (start + frame(HEADERS, 0, 1, header_block())
                 + frame(CONTINUATION, 0, 1, hpack_literal(b"x-pad", b"v" * 16000)) * rng.choice([10, 200, 1000]),
                 "continuation-flood"),
        lambda: (start + frame(HEADERS, 0, 1, header_block()) + frame(DATA, 0, 1, b"x"), "data-inside-header-block"),
        lambda: (start + frame(CONTINUATION, END_HEADERS, 1, header_block()), "continuation-without-headers"),
        lambda: (start + b"".join(frame(HEADERS, END_HEADERS, s, header_block()) + frame(RST_STREAM, 0, s, struct.pack(">I", 8))
                                  for s in range(1, 2 * rng.choice([500, 3000]), 2)), "rapid-reset"),
        lambda: (start + b"".join(frame(HEADERS, END_HEADERS, s, header_block()) for s in range(1, 2 * 2000, 2)),
                 "many-open-streams"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(drop=(rng.choice([b":method", b":path", b":scheme",
                                                                                       b"content-type", b"te"]),)))
                 + frame(DATA, END_STREAM, 1, grpc_message(b"")), "missing-header"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(replace={
            rng.choice([b":method", b":path", b"content-type", b"te", b":scheme"]):
                rng.choice([b"", b"GET", b"text/html", b"application/grpc+json", b"gzip", b"/", b"*", b"\x00\xff",
                            b"/dapr.proto.runtime.v1.Dapr/Shutdow", b"x" * 10000])}))
                 + frame(DATA, END_STREAM, 1, grpc_message(b"")), "bad-header-value"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(extra=[rng.choice([
            (b"Content-Type", b"x"), (b"connection", b"keep-alive"), (b"grpc-timeout", b"1000000000000H"),
            (b"grpc-timeout", b"-1S"), (b"grpc-timeout", b"xyz"), (b"grpc-encoding", b"snappy"), (b"grpc-encoding", b"gzip"),
            (b":unknown", b"x"), (b"te", b"gzip"), (b"dapr-api-token", b"\x01"), (b"x-bin", b"!!notbase64!!"),
            (b"grpc-accept-encoding", b"x" * 5000)])]))
                 + frame(DATA, END_STREAM, 1, grpc_message(get_state)), "odd-extra-header"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, END_STREAM, 1, grpc_message(get_state, length=rng.choice([0xFFFFFFFF, 1 << 31, 5 << 20, 1 << 20]))),
                 "grpc-length-prefix-huge"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, END_STREAM, 1, grpc_message(get_state, length=max(0, len(get_state) - 3))),
                 "grpc-length-prefix-short"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, END_STREAM, 1, grpc_message(get_state, compressed=True)), "grpc-compressed-flag-no-encoding"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState",
                                                                      extra=[(b"grpc-encoding", b"gzip")]))
                 + frame(DATA, END_STREAM, 1, grpc_message(b"not gzip at all", compressed=True)), "grpc-gzip-garbage"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, END_STREAM, 1, bytes([rng.choice([2, 0x80, 0xFF])]) + grpc_message(get_state)[1:]),
                 "grpc-bad-flags-byte"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, END_STREAM, 1, b"\x00\x00"), "grpc-prefix-truncated"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + b"".join(frame(DATA, 0, 1, grpc_message(get_state)) for _ in range(rng.choice([2, 100])))
                 + frame(DATA, END_STREAM, 1, b""), "unary-with-many-messages"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/GetState"))
                 + frame(DATA, PADDED | END_STREAM, 1, bytes([200]) + grpc_message(get_state)), "padding-past-end"),
        lambda: (start + frame(HEADERS, END_HEADERS | PADDED, 1, bytes([255]) + header_block()), "headers-padding-past-end"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/SaveState"))
                 + b"".join(frame(DATA, 0, 1, b"\x00" * 16384) for _ in range(rng.choice([10, 400]))), "data-beyond-window"),
        lambda: (start + frame(HEADERS, END_HEADERS | END_STREAM, 1, header_block()), "request-without-body"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block()) + frame(HEADERS, END_HEADERS | END_STREAM, 1,
                                                                                 hpack_literal(b"x-trailer", b"v")),
                 "request-with-trailers-no-data"),
        lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(b"/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1"))
                 + frame(DATA, 0, 1, grpc_message(bytes(rng.randrange(256) for _ in range(30)))), "stream-open-garbage"),
    ]
    timeouts = [b"-1S", b"-99m", b"-0n", b"100000000H", b"xyz", b"", b"1", b"S", b"+5S", b" 5S", b"0n", b"1.5S"]
    kinds.append(lambda: (start + frame(HEADERS, END_HEADERS, 1, header_block(extra=[(b"grpc-timeout", (
        rng.choice(timeouts) if index >= len(kinds) else timeouts[0]))]))
        + frame(DATA, END_STREAM, 1, grpc_message(b"")), "bad-grpc-timeout"))
    if index < len(kinds):  # the first pass tries every kind once
        return kinds[index]()
    # A byte-level mutation of a valid exchange now and then.
    if rng.random() < 0.15:
        data = bytearray(start + valid_exchange(1, b"/dapr.proto.runtime.v1.Dapr/GetState", get_state))
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(PREFACE), len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), "valid-exchange-bitflips"
    return rng.choice(kinds)()


# Raw cases that are complete requests on stream 1 (well-formed HTTP/2, possibly bad
# gRPC): the server must end stream 1 (trailers or RST_STREAM) or the connection.
ANSWER_EXPECTED = {
    "request-without-body", "request-with-trailers-no-data", "grpc-length-prefix-huge", "grpc-length-prefix-short",
    "grpc-compressed-flag-no-encoding", "grpc-gzip-garbage", "grpc-bad-flags-byte", "grpc-prefix-truncated",
    "unary-with-many-messages", "missing-header", "bad-header-value", "odd-extra-header", "bad-grpc-timeout",
}


def stream_ended(data: bytes, stream: int = 1) -> bool:
    """True when `data` (frames from the server) ends `stream` (END_STREAM on HEADERS
    or DATA, or RST_STREAM) or holds a GOAWAY."""
    i = 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        kind, flags = data[i + 3], data[i + 4]
        sid = int.from_bytes(data[i + 5:i + 9], "big") & 0x7FFFFFFF
        if kind == GOAWAY or (sid == stream and (kind == RST_STREAM or (kind in (HEADERS, DATA) and flags & END_STREAM))):
            return True
        i += 9 + length
    return False


def raw_exchange(port: int, data: bytes, quiet: float = 0.3, limit: float = 2.0, until_stream_end: bool = False) -> tuple:
    """Writes `data`, then reads until the server closes, has been quiet for `quiet` s,
    or `limit` s have passed (with `until_stream_end`: until stream 1 ended or `limit`);
    answers (a short summary of the server's reaction, the gRPC statuses it answered as
    [(stream, code, message)], whether stream 1 ended)."""
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.settimeout(5)
    received = b""
    outcome = ""
    try:
        conn.connect(("127.0.0.1", port))
        try:
            conn.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            outcome = "closed-while-writing"
        except socket.timeout:
            outcome = "stopped-reading"
        conn.settimeout(quiet)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not outcome:
            try:
                chunk = conn.recv(1 << 16)
            except socket.timeout:
                if until_stream_end:
                    continue
                break
            if not chunk:
                outcome = "closed"
                break
            received += chunk
            if until_stream_end and stream_ended(received):
                break
    except ConnectionResetError:
        outcome = "reset"
    except OSError as error:
        outcome = type(error).__name__
    finally:
        conn.close()
    statuses = grpc_statuses(received)
    ended = bool(outcome) or stream_ended(received)
    goaway = find_goaway(received)
    if goaway is not None:
        summary = f"GOAWAY({goaway})" + ("+" + outcome if outcome else "")
    elif received:
        summary = "answered" + ("+" + outcome if outcome else "")
    else:
        summary = outcome or "silent"
    return summary, statuses, ended


def grpc_statuses(data: bytes) -> list:
    """(stream, grpc-status, grpc-message) of every header block the server sent that
    carries a grpc-status; empty without the `hpack` package."""
    if hpack is None:
        return []
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = 1 << 16
    found = []
    blocks = {}
    i = 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        kind, flags = data[i + 3], data[i + 4]
        stream = int.from_bytes(data[i + 5:i + 9], "big") & 0x7FFFFFFF
        payload = data[i + 9:i + 9 + length]
        i += 9 + length
        if kind in (HEADERS, CONTINUATION):
            if kind == HEADERS:
                if flags & PADDED:
                    payload = payload[1:len(payload) - payload[0]]
                if flags & PRIORITY_FLAG:
                    payload = payload[5:]
            blocks[stream] = blocks.get(stream, b"") + payload
            if flags & END_HEADERS:
                try:
                    headers = dict(decoder.decode(blocks.pop(stream), raw=False))
                except Exception:  # noqa: BLE001
                    return found
                if "grpc-status" in headers:
                    try:
                        code = int(headers["grpc-status"])
                    except ValueError:
                        code = -1
                    found.append((stream, code, headers.get("grpc-message", "")))
    return found


CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}
GOAWAY_CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
                4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 9: "COMPRESSION_ERROR",
                11: "ENHANCE_YOUR_CALM"}


def find_goaway(data: bytes):
    i = 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        kind = data[i + 3]
        if kind == GOAWAY and i + 9 + 8 <= len(data):
            code = int.from_bytes(data[i + 13:i + 17], "big")
            return GOAWAY_CODES.get(code, str(code))
        i += 9 + length
    return None


# ----------------------------------------------------------------------------- the run


class Finding:
    def __init__(self, part: str, case: int, signature: str, detail: str, data: bytes, method: str = ""):
        self.part, self.case, self.signature, self.detail, self.data, self.method = part, case, signature, detail, data, method
        self.file: str | None = None


def call(channel, case: dict):
    """Runs one call; (code, details)."""
    try:
        if case["method"] == STREAMING:
            stream = channel.stream_stream(case["method"], request_serializer=None, response_deserializer=None)
            responses = stream(iter([case["data"]]), timeout=3, metadata=case["metadata"] or None,
                               compression=case["compression"])
            for _ in responses:
                pass
            return grpc.StatusCode.OK, ""
        unary = channel.unary_unary(case["method"], request_serializer=None, response_deserializer=None)
        unary(case["data"], timeout=CALL_TIMEOUT, metadata=case["metadata"] or None, compression=case["compression"])
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.INTERNAL and error.details() == "Invalid metadata":
            return "client-refused", "grpcio refused the metadata before sending"
        return error.code(), error.details() or ""
    except ValueError as error:  # grpcio refused the metadata before sending
        return "client-refused", str(error)


def healthy(channel) -> str | None:
    """None when GetMetadata answers OK within 10 s, else why not."""
    try:
        channel.unary_unary(DAPR + "GetMetadata", request_serializer=None, response_deserializer=None)(b"", timeout=10)
        return None
    except grpc.RpcError as error:
        return f"{error.code().name}: {error.details()}"


def new_channel(port: int):
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[
        ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
        ("grpc.enable_retries", 0)])


def restart(sidecar, channel, probe, args):
    """After a crash: stops what is left, starts a new sidecar; (sidecar, channel, probe)."""
    channel.close()
    probe.close()
    print(f"  apiary crashed ({sidecar.crash_signature()}); restarting it", flush=True)
    sidecar.stop()
    sidecar = fuzzlib.Sidecar(args.bin, args.file_secrets, keep=args.keep).start()
    return sidecar, new_channel(sidecar.grpc_port), new_channel(sidecar.grpc_port)


def run(args) -> int:
    fuzzlib.lower_priority(19)
    fuzzlib.exit_on_signals()
    sidecar = fuzzlib.Sidecar(args.bin, args.file_secrets, keep=args.keep)
    calls = seeds(sidecar.file_secrets is not None)
    print(f"fuzz_grpc: seed {args.seed}; starting apiary from {args.bin} ...", flush=True)
    sidecar.start()
    print(f"fuzz_grpc: apiary ready, gRPC port {sidecar.grpc_port} (components: {', '.join(sidecar.components)}); "
          f"{len(calls)} seed calls", flush=True)
    findings: list = []
    codes = collections.Counter()
    daprd_like = collections.Counter()
    reactions = collections.Counter()
    raw_codes = collections.Counter()
    transport_rejections = collections.Counter()
    code_examples = collections.defaultdict(list)
    raw_kind_codes = collections.Counter()
    mutation_counts = collections.Counter()
    tried = {"proto": 0, "raw": 0}
    seconds = {"proto": 0.0, "raw": 0.0}
    crashed = False
    crashes = 0
    channel = new_channel(sidecar.grpc_port)
    probe = new_channel(sidecar.grpc_port)

    def crash_after(part: str, index: int, after: str, data: bytes, method: str) -> bool:
        """After a case: False when apiary did not crash. Else records the finding (the
        backtrace given 1 s to reach the log) and answers True, having restarted apiary,
        or set `crashed` when it crashed more than --max-crashes times."""
        nonlocal sidecar, channel, probe, crashes, crashed
        report = sidecar.crash_report()
        if not report:
            return False
        time.sleep(1)
        findings.append(Finding(part, index, f"crash: {sidecar.crash_signature()}{after}",
                                sidecar.crash_report() or report, data, method))
        crashes += 1
        if crashes > args.max_crashes:
            crashed = True
        else:
            sidecar, channel, probe = restart(sidecar, channel, probe, args)
        return True

    def progress(part: str) -> None:
        """Every --progress cases of `part`: how many, how fast, how many findings."""
        if args.progress and tried[part] % args.progress == 0:
            print(f"  {part}: {tried[part]} cases, {tried[part] / (time.monotonic() - started):.0f}/s, "
                  f"{len(findings)} findings", flush=True)

    try:
        if args.only in (None, "proto"):
            started = time.monotonic()
            indices = [args.case] if args.case is not None else range(args.cases)
            for index in indices:
                case = make_proto_case(args.seed, index, calls)
                code, details = call(channel, case)
                tried["proto"] += 1
                code_key = code.name if hasattr(code, "name") else code
                codes[code_key] += 1
                if len(code_examples[code_key]) < 3:
                    code_examples[code_key].append(
                        f"case {index} {case['method'].rsplit('/', 1)[-1]} ({len(case['data'])} bytes; "
                        f"{', '.join(case['mutations']) or 'seed'}): {details[:120]!r}")
                for m in case["mutations"]:
                    mutation_counts[m.split("-")[0] if m.startswith("huge-field") else m] += 1
                if code in BAD_CODES and daprd_answer(code, case["method"], details):
                    daprd_like[f"{code.name} {case['method'].rsplit('/', 1)[-1]}"] += 1
                elif code in BAD_CODES:
                    findings.append(Finding("proto", index, f"{code.name}: {details[:100]}",
                                            f"{code.name}: {details[:400]} (mutations: {', '.join(case['mutations']) or 'none'})",
                                            case["data"], case["method"]))
                elif code == grpc.StatusCode.DEADLINE_EXCEEDED and case["method"] != STREAMING:
                    findings.append(Finding("proto", index, f"no answer within {CALL_TIMEOUT:.0f} s from "
                                            f"{case['method'].rsplit('/', 1)[-1]}", details, case["data"], case["method"]))
                if crash_after("proto", index, "", case["data"], case["method"]):
                    if crashed:
                        break
                    continue
                if code == grpc.StatusCode.UNAVAILABLE:  # connection lost: does a new one work?
                    channel.close()
                    channel = new_channel(sidecar.grpc_port)
                progress("proto")
            seconds["proto"] = time.monotonic() - started
        if args.only in (None, "raw") and not crashed:
            started = time.monotonic()
            indices = [args.case] if args.case is not None else range(args.raw_cases)
            for index in indices:
                data, name = make_raw_case(args.seed, index)
                expected = name in ANSWER_EXPECTED
                reaction, statuses, ended = raw_exchange(sidecar.grpc_port, data, limit=5.0 if expected else 2.0,
                                                         until_stream_end=expected)
                tried["raw"] += 1
                reactions[f"{name} -> {reaction}"] += 1
                if expected and not ended and not sidecar.crash_report():  # a crash is reported below
                    findings.append(Finding("raw", index, f"no answer within 5 s to a complete request ({name})",
                                            "the server neither ended stream 1 (trailers, RST_STREAM) nor the "
                                            "connection", data, name))
                for stream, code, text in statuses:
                    code_name = CODE_NAMES.get(code, str(code))
                    raw_codes[code_name] += 1
                    raw_kind_codes[f"{name} -> {code_name} {text[:60]!r}"] += 1
                    if code == 2 and CORE_HEADER_REJECTION.match(text):
                        transport_rejections[f"UNKNOWN {text!r}"] += 1
                    elif code == 13 and CORE_FLOW_CONTROL_REJECTION.match(text):
                        transport_rejections[f"INTERNAL {re.sub(r'[0-9]+', 'N', text)!r}"] += 1
                    elif code in (2, 13):
                        findings.append(Finding("raw", index, f"{code_name} from a raw {name} request: {text[:90]}",
                                                f"stream {stream}: grpc-status {code_name}, grpc-message {text[:400]!r}",
                                                data, name))
                if crash_after("raw", index, f" (after {name})", data, name):
                    if crashed:
                        break
                    continue
                why = healthy(probe)
                if why:
                    findings.append(Finding("raw", index, f"GetMetadata fails after raw case {name}", why, data, name))
                    probe.close()
                    probe = new_channel(sidecar.grpc_port)
                progress("raw")
            seconds["raw"] = time.monotonic() - started
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        channel.close()
        probe.close()
        exit_status = sidecar.stop()
        fuzzlib.save_findings(findings, args.findings, f"fuzz-grpc-findings-{args.seed}-",
                              lambda _, finding: f"{finding.part}-case-{finding.case}.bin",
                              lambda finding: finding.data)

    print()
    for part in ("proto", "raw"):
        if tried[part]:
            print(f"fuzz_grpc {part}: {tried[part]} cases in {seconds[part]:.1f} s "
                  f"({tried[part] / max(seconds[part], 1e-6):.1f} cases/s)")
    print(f"seed {args.seed}")
    if codes:
        print(f"status codes: {fuzzlib.histogram_line(codes)}")
        for code_key, examples in sorted(code_examples.items(), key=lambda kv: str(kv[0])):
            if code_key != "OK":
                for example in examples[: 3 if args.verbose else 1]:
                    print(f"  {code_key}: {example}")
    if daprd_like:
        print(f"daprd's own answers (not findings): {fuzzlib.histogram_line(daprd_like)}")
    if reactions:
        kinds = collections.Counter()
        for key, n in reactions.items():
            kinds[key.split(" -> ")[1]] += n
        print(f"raw reactions: {fuzzlib.histogram_line(kinds)}")
        print(f"raw answers' grpc-status: {fuzzlib.histogram_line(raw_codes) or 'none'}"
              + ("" if hpack else " (not decoded: pip install hpack to check them)"))
        if transport_rejections:
            print("refused by gRPC core's HTTP/2 layer before reaching apiary (not findings): "
                  + fuzzlib.histogram_line(transport_rejections))
        if args.verbose:
            for key, n in sorted(reactions.items()):
                print(f"  {key}: {n}")
            for key, n in sorted(raw_kind_codes.items()):
                print(f"  {key}: {n}")
    print(f"apiary stopped with {fuzzlib.describe_exit(exit_status)}" + (f"; it crashed {crashes} times" if crashes else ""))
    for signature, members in fuzzlib.finding_groups(findings).items():
        first = members[0]
        methods = collections.Counter(m.method.rsplit("/", 1)[-1] for m in members)
        print(f"- {signature}: {len(members)} cases ({', '.join(f'{k} x{v}' for k, v in methods.most_common(8))})")
        fuzzlib.print_detail(first.detail)
        for member in members[:3]:
            print(f"    {member.part} case {member.case}: {member.method} {fuzzlib.short(member.data, 160)}")
        print(f"    reproduce: python3 {os.path.relpath(__file__)} --bin {args.bin} --seed {args.seed} "
              f"--only {first.part} --case {first.case}   (input: {first.file})")
    return 1 if findings or crashes else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=fuzzlib.default_bin_dir(), help="folder with apiary and memstore")
    parser.add_argument("--file-secrets", default=fuzzlib.DEFAULT_FILE_SECRETS,
                        help="the C++ file-secrets binary (left out when missing)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=3000, help="protobuf cases (part A)")
    parser.add_argument("--raw-cases", type=int, default=400, help="raw HTTP/2 cases (part B)")
    parser.add_argument("--only", choices=["proto", "raw"])
    parser.add_argument("--max-crashes", type=int, default=5,
                        help="restart apiary after a crash up to N times, then stop (default %(default)s)")
    parser.add_argument("--case", type=int, help="run only this case (with --only)")
    parser.add_argument("--findings", help="folder for the inputs of findings (default: a new /tmp/fuzz-grpc-findings-*)")
    parser.add_argument("--progress", type=int, default=1000, help="print progress every N cases (0: never)")
    parser.add_argument("--verbose", action="store_true", help="print every raw case kind with its reaction")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    if args.case is not None and args.only is None:
        parser.error("--case needs --only proto or --only raw")
    args.bin = os.path.abspath(args.bin)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
