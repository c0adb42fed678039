#!/usr/bin/env python3
"""Interop peer for gRPC transport tests: the `apiary.test.v1.TransportTest`
service on Python's gRPC core, as a server and as a client that checks one.

    python3 transport_test_peer.py serve ADDRESS
    python3 transport_test_peer.py call ADDRESS [--only NAME]...

ADDRESS is `unix:/abs/path` or `HOST:PORT` (`127.0.0.1:0` picks a free port).

Service contract (Apiary's Swift test server implements the same).  No
protobuf: every message is an opaque byte string.  Methods of
/apiary.test.v1.TransportTest/:
  Unary         response = the request
  ClientStream  response = all requests concatenated in order
  ServerStream  N responses equal to the request; N = int(`x-repeat`), default 3
  Bidi          every request echoed as soon as it arrives
  (any other)   UNIMPLEMENTED

Request metadata drives every method, applied in this order:
  1. `x-fail-code: N` (1..16; other values are ignored): fail at once with
     status N and message `x-fail-message` (ASCII string header) or
     `x-fail-message-bin` (binary header, UTF-8 bytes), empty when neither is
     present.  No initial metadata is sent and no message is read, so the
     response is trailers-only on the wire.
  2. Every request header whose key starts with `x-echo-` comes back in the
     INITIAL response metadata, same key and value (`-bin` values are bytes
     and come back byte-identical).  Initial metadata is sent right away.
  3. `x-sleep-ms: N`: wait N ms before responding: Unary after the request,
     ClientStream after reading all requests, ServerStream before the first
     response, Bidi before reading the first request.  If the call is
     cancelled or its deadline passes meanwhile, the handler just stops.
  4. On success the trailing metadata holds `x-trailer: done` and
     `x-count: <number of request messages received>` (decimal).
Both sides allow messages of up to 8 MiB in each direction.

`serve` prints exactly one line `listening ADDRESS` on stdout (with the real
port for TCP) once ready, then serves until SIGTERM/SIGINT, stops gracefully
and exits 0 (removing a Unix socket file).  `call` runs the cases below
against ADDRESS, printing `ok NAME` or `FAIL NAME: reason` for each and then
`N passed, M failed`; it exits 0 only when all pass.  `--only NAME`
(repeatable, shell-style wildcards such as `status_*`) selects cases.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import queue
import sys
import threading
import time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

SERVICE = "apiary.test.v1.TransportTest"
MAX_MESSAGE = 8 * 1024 * 1024
OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
           ("grpc.max_send_message_length", MAX_MESSAGE)]
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
TIMEOUT = 10.0  # seconds, for every client call without a deadline of its own


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------
# Server


class CallRules:
    """The metadata-driven rules of the contract, for one server call.
    Creating it applies x-fail-code (raising) or sends the echoed headers."""

    def __init__(self, context: grpc.ServicerContext):
        self.context = context
        self.metadata = tuple(context.invocation_metadata())
        self.ended = threading.Event()  # set when the RPC terminates
        if not context.add_callback(self.ended.set):
            self.ended.set()
        number = _int(self.value("x-fail-code"), 0)
        if 1 <= number <= 16:
            message = self.value("x-fail-message")
            if message is None:
                raw = self.value("x-fail-message-bin", b"")
                message = raw.decode("utf-8", "replace")
            fixturelib.debug(f"failing with {number}: {message!r}")
            self.context.abort(STATUS_BY_NUMBER[number], message)
        echoed = tuple((k, v) for k, v in self.metadata if k.startswith("x-echo-"))
        self.context.send_initial_metadata(echoed)

    def value(self, key: str, default=None):
        return dict(self.metadata).get(key, default)

    def pause(self) -> bool:
        """Honour x-sleep-ms; False when the call ended in the meantime."""
        delay = _int(self.value("x-sleep-ms"), 0)
        if delay > 0:
            self.ended.wait(delay / 1000)
        return not self.ended.is_set() and self.context.is_active()

    def finish(self, count: int) -> None:
        self.context.set_trailing_metadata((("x-trailer", "done"), ("x-count", str(count))))


def unary(request: bytes, context) -> bytes:
    rules = CallRules(context)
    if not rules.pause():
        return b""
    rules.finish(1)
    return request


def client_stream(requests, context) -> bytes:
    rules = CallRules(context)
    received = list(requests)
    if not rules.pause():
        return b""
    rules.finish(len(received))
    return b"".join(received)


def server_stream(request: bytes, context):
    rules = CallRules(context)
    if not rules.pause():
        return
    for _ in range(_int(rules.value("x-repeat"), 3)):
        yield request
    rules.finish(1)


def bidi(requests, context):
    rules = CallRules(context)
    if not rules.pause():
        return
    count = 0
    for message in requests:
        count += 1
        yield message
    rules.finish(count)


def serve(address: str) -> int:
    stop = fixturelib.termination_event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=200), options=OPTIONS)
    # No (de)serializers: handlers see and return raw bytes.
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    socket_path = None
    if address.startswith("unix:"):
        socket_path = address[len("unix:"):]
        if socket_path.startswith("//"):  # unix:///abs/path
            socket_path = socket_path[2:]
        fixturelib.prepare_socket_path(socket_path)
        server.add_insecure_port(address)
        shown = address
    else:
        host = address.rpartition(":")[0]
        port = server.add_insecure_port(address)  # raises when it cannot bind
        shown = f"{host}:{port}"
    server.start()
    print(f"listening {shown}", flush=True)
    fixturelib.log(f"serving {SERVICE} on {shown}")
    try:
        fixturelib.wait_for(stop)
    finally:
        server.stop(grace=2).wait()
        if socket_path is not None:
            fixturelib.remove_socket(socket_path)
        fixturelib.log("stopped")
    return 0


# --------------------------------------------------------------------------
# Client


class Failure(Exception):
    pass


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise Failure(reason)


def pairs(metadata) -> dict:
    return {key: value for key, value in (metadata or ())}


def check_trailers(call, count: int) -> None:
    trailers = pairs(call.trailing_metadata())
    check(trailers.get("x-trailer") == "done", f"trailer x-trailer = {trailers.get('x-trailer')!r}")
    check(trailers.get("x-count") == str(count),
          f"trailer x-count = {trailers.get('x-count')!r}, want {count!r}")


def expect_status(invoke, code: grpc.StatusCode, message: str | None = None,
                  within: float | None = None):
    """Run invoke(), which must fail with code (and message, in under `within`
    seconds); returns the error."""
    start = time.monotonic()
    try:
        invoke()
    except grpc.RpcError as error:
        check(error.code() == code,
              f"status {error.code().name} ({error.details()!r}), want {code.name}")
        if message is not None:
            check(error.details() == message, f"message {error.details()!r}, want {message!r}")
        elapsed = time.monotonic() - start
        check(within is None or elapsed < within, f"took {elapsed:.2f} s, want < {within} s")
        return error
    raise Failure(f"call succeeded, want {code.name}")


class Stubs:
    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.unary = channel.unary_unary(f"/{SERVICE}/Unary")
        self.client_stream = channel.stream_unary(f"/{SERVICE}/ClientStream")
        self.server_stream = channel.unary_stream(f"/{SERVICE}/ServerStream")
        self.bidi = channel.stream_stream(f"/{SERVICE}/Bidi")


def unary_echo(size: int):
    def run(stubs: Stubs) -> None:
        payload = (bytes(range(256)) * (size // 256 + 1))[:size]
        response, call = stubs.unary.with_call(payload, timeout=TIMEOUT)
        check(response == payload, f"echo differs: got {len(response)} B, want {size} B")
        check_trailers(call, 1)
    return run


ECHO_BIN = bytes(range(256))
ECHO_METADATA = (("x-echo-a", "b"), ("x-echo-b-bin", ECHO_BIN), ("x-not-echoed", "c"))


def check_echoed(call) -> None:
    initial = pairs(call.initial_metadata())
    check(initial.get("x-echo-a") == "b", f"initial x-echo-a = {initial.get('x-echo-a')!r}")
    check(initial.get("x-echo-b-bin") == ECHO_BIN,
          f"initial x-echo-b-bin = {initial.get('x-echo-b-bin')!r}")
    check("x-not-echoed" not in initial, "x-not-echoed came back")


def metadata_unary(stubs: Stubs) -> None:
    _, call = stubs.unary.with_call(b"md", metadata=ECHO_METADATA, timeout=TIMEOUT)
    check_echoed(call)
    check_trailers(call, 1)


def metadata_bidi(stubs: Stubs) -> None:
    call = stubs.bidi(iter([b"one", b"two"]), metadata=ECHO_METADATA, timeout=TIMEOUT)
    check_echoed(call)
    check(list(call) == [b"one", b"two"], "bidi echo differs")
    check_trailers(call, 2)


def status(number: int, message: str, binary: bool = False):
    def run(stubs: Stubs) -> None:
        metadata = [("x-fail-code", str(number)), ("x-echo-z", "must not come back")]
        if binary:
            metadata.append(("x-fail-message-bin", message.encode("utf-8")))
        else:
            metadata.append(("x-fail-message", message))
        error = expect_status(lambda: stubs.unary(b"x", metadata=metadata, timeout=TIMEOUT),
                              STATUS_BY_NUMBER[number], message)
        check("x-echo-z" not in pairs(error.initial_metadata()),
              "initial metadata was sent before the failure")
    return run


def status_streaming(kind: str):
    """x-fail-code on a streaming method; the request side sends two messages."""
    def run(stubs: Stubs) -> None:
        md = (("x-fail-code", "9"), ("x-fail-message", f"{kind} refused"))
        invoke = {
            "client_stream": lambda: stubs.client_stream(iter([b"a", b"b"]), metadata=md,
                                                         timeout=TIMEOUT),
            "server_stream": lambda: list(stubs.server_stream(b"a", metadata=md, timeout=TIMEOUT)),
            "bidi": lambda: list(stubs.bidi(iter([b"a", b"b"]), metadata=md, timeout=TIMEOUT)),
        }[kind]
        expect_status(invoke, grpc.StatusCode.FAILED_PRECONDITION, f"{kind} refused")
    return run


def client_streaming(count: int):
    def run(stubs: Stubs) -> None:
        messages = [f"m{i};".encode() for i in range(count)]
        response, call = stubs.client_stream.with_call(iter(messages), timeout=TIMEOUT)
        check(response == b"".join(messages),
              f"got {len(response)} B, want the {count} messages concatenated")
        check_trailers(call, count)
    return run


def server_streaming(repeat: int):
    def run(stubs: Stubs) -> None:
        call = stubs.server_stream(b"ping", metadata=(("x-repeat", str(repeat)),),
                                   timeout=TIMEOUT)
        got = list(call)
        check(got == [b"ping"] * repeat, f"got {len(got)} messages {got[:3]!r}..., want {repeat}")
        check_trailers(call, 1)
    return run


def bidi_ping_pong(stubs: Stubs) -> None:
    outgoing: queue.Queue = queue.Queue()

    def requests():
        while (item := outgoing.get()) is not None:
            yield item

    call = stubs.bidi(requests(), timeout=30)
    try:
        for i in range(100):
            message = f"ping {i}".encode()
            outgoing.put(message)
            reply = next(call, None)
            check(reply == message, f"round {i}: got {reply!r}, want {message!r}")
        outgoing.put(None)  # half-close
        rest = list(call)
        check(not rest, f"{len(rest)} extra responses after half-close")
        check_trailers(call, 100)
    finally:
        outgoing.put(None)
        call.cancel()


def deadline(stubs: Stubs) -> None:
    expect_status(lambda: stubs.unary(b"slow", metadata=(("x-sleep-ms", "2000"),), timeout=0.3),
                  grpc.StatusCode.DEADLINE_EXCEEDED, within=1.5)


def cancel(stubs: Stubs) -> None:
    call = stubs.server_stream(b"slow", metadata=(("x-sleep-ms", "5000"),), timeout=TIMEOUT)
    timer = threading.Timer(0.2, call.cancel)
    timer.start()
    try:
        expect_status(lambda: list(call), grpc.StatusCode.CANCELLED, within=2.0)
    finally:
        timer.cancel()


def unimplemented(stubs: Stubs) -> None:
    nope = stubs.channel.unary_unary(f"/{SERVICE}/Nope")
    expect_status(lambda: nope(b"x", timeout=TIMEOUT), grpc.StatusCode.UNIMPLEMENTED)


def concurrent_unary(stubs: Stubs) -> None:
    payloads = [f"call {i};".encode() * (i + 1) for i in range(64)]
    # x-sleep-ms keeps all 64 calls open on the server at the same time.
    pending = [stubs.unary.future(p, metadata=(("x-sleep-ms", "100"),), timeout=TIMEOUT)
               for p in payloads]
    wrong = [i for i, (p, f) in enumerate(zip(payloads, pending)) if f.result() != p]
    check(not wrong, f"calls {wrong} echoed the wrong bytes")


CASES = [
    ("unary_0B", unary_echo(0)),
    ("unary_1KiB", unary_echo(1024)),
    ("unary_1MiB", unary_echo(1024 * 1024)),
    ("metadata_unary", metadata_unary),
    ("metadata_bidi", metadata_bidi),
    *[(f"status_{n}", status(n, f"failing with {STATUS_BY_NUMBER[n].name}")) for n in range(1, 17)],
    ("status_utf8", status(13, "héllo % wörld", binary=True)),
    *[(f"status_{kind}", status_streaming(kind))
      for kind in ("client_stream", "server_stream", "bidi")],
    *[(f"client_stream_{n}", client_streaming(n)) for n in (0, 1, 1000)],
    *[(f"server_stream_{n}", server_streaming(n)) for n in (5, 0)],
    ("bidi_ping_pong", bidi_ping_pong),
    ("deadline", deadline),
    ("cancel", cancel),
    ("unimplemented", unimplemented),
    ("concurrent_64", concurrent_unary),
]


def call(address: str, only: list[str]) -> int:
    selected = [(name, run) for name, run in CASES
                if not only or any(fnmatch.fnmatchcase(name, p) for p in only)]
    if not selected:
        print(f"no case matches {only}; cases: {', '.join(n for n, _ in CASES)}", file=sys.stderr)
        return 2
    channel = grpc.insecure_channel(address, options=OPTIONS)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        print(f"FAIL connect: no connection to {address} within {TIMEOUT:g} s", flush=True)
        print(f"0 passed, {len(selected)} failed", flush=True)
        return 1
    stubs = Stubs(channel)
    passed = failed = 0
    for name, run in selected:
        try:
            run(stubs)
            reason = None
        except Failure as failure:
            reason = str(failure)
        except grpc.RpcError as error:
            reason = f"unexpected status {error.code().name}: {error.details()!r}"
        except Exception as error:  # a bug in the case or the peer; report, go on
            reason = f"{type(error).__name__}: {error}"
        if reason is None:
            passed += 1
            print(f"ok {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}: {reason}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    channel.close()
    return 0 if failed == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description="gRPC transport interop peer")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve TransportTest").add_argument(
        "address", help="unix:/abs/path or HOST:PORT (PORT may be 0)")
    call_parser = commands.add_parser("call", help="run the client cases against a server")
    call_parser.add_argument("address", help="unix:/abs/path or HOST:PORT")
    call_parser.add_argument("--only", action="append", default=[], metavar="NAME",
                             help="run only cases matching NAME (wildcards allowed; repeatable)")
    args = parser.parse_args()
    return serve(args.address) if args.command == "serve" else call(args.address, args.only)


if __name__ == "__main__":
    sys.exit(main())
