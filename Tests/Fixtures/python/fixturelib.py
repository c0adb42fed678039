"""Shared helpers for Apiary's Python test fixtures.

Every fixture script starts with::

    import fixturelib
    fixturelib.ensure_stubs()          # generate gen/ if missing or stale
    from dapr.proto.components.v1 import pubsub_pb2, pubsub_pb2_grpc
    from grpc_protos.reflection.v1 import reflection_pb2   # see GRPC_PACKAGE

`ensure_stubs()` compiles every .proto under the repository's Proto/ folder
into gen/ beside this file when gen/ is missing or stale, then puts gen/ first
on sys.path. The compiling is Scripts/python_stubs.py's (`fixtures`), the one
script that makes Python stubs in this repository; its docstring says how gen/
is laid out and kept current.

One process must not import both grpc_protos.reflection.v1alpha (ours) and
grpc_reflection.v1alpha (grpcio-reflection's): both define the
grpc.reflection.v1alpha symbols in the default descriptor pool, and the
second import fails with a duplicate-symbol error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "..", "Scripts")))
import python_stubs  # noqa: E402

PROTO_ROOT = python_stubs.PROTO_ROOT
DEFAULT_GEN_DIR = os.path.join(HERE, "gen")
GRPC_PACKAGE = python_stubs.GRPC_PACKAGE


def proto_files(proto_root: str = PROTO_ROOT) -> list[str]:
    """All .proto files under proto_root, as sorted root-relative paths."""
    return python_stubs.proto_files(proto_root)


def ensure_stubs(out_dir: str = DEFAULT_GEN_DIR) -> str:
    """Make sure generated stubs exist and are importable; returns out_dir."""
    return python_stubs.ensure_fixture_stubs(out_dir)


# --------------------------------------------------------------------------
# Small helpers shared by the server fixtures.


def unix_target(path: str) -> str:
    """The grpc target/bind address for a Unix socket path."""
    return "unix:" + os.path.abspath(path)


def remove_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def prepare_socket_path(path: str) -> None:
    """Create the socket's folder and remove a stale socket file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_socket(path)


def termination_event() -> threading.Event:
    """Install SIGTERM/SIGINT handlers (main thread only); the returned
    event is set when either arrives.  Install it before the socket appears
    so a signal sent right after start-up is never lost."""
    done = threading.Event()

    def handler(signum, _frame):
        done.signum = signum
        done.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return done


def wait_for(event: threading.Event) -> None:
    """Wait for event in the main thread without blocking signal delivery."""
    while not event.wait(0.5):
        pass


def serve(server, socket_path: str, stop: threading.Event, started=None, stopping=None, stopped=None,
          say_stopped: bool = False) -> int:
    """Serves `server` (a grpc.Server with its services added) on the Unix socket
    `socket_path` (its folder made, a stale file removed) until `stop`
    (termination_event()) is set. started() runs once it serves; on the way out
    stopping() runs, the server stops (0.5 s grace), stopped() runs, the socket file
    goes and, with `say_stopped`, "stopped" is logged. Answers 0, the exit status."""
    prepare_socket_path(socket_path)
    server.add_insecure_port(unix_target(socket_path))
    server.start()
    if started is not None:
        started()
    try:
        wait_for(stop)
    finally:
        if stopping is not None:
            stopping()
        server.stop(grace=0.5).wait()
        if stopped is not None:
            stopped()
        remove_socket(socket_path)
        if say_stopped:
            log("stopped")
    return 0


def serve_state_store(description: str, make_store, workers: int, say_serving: bool = False) -> int:
    """main() of a test state store (`--socket PATH --calls FILE`): serves make_store(FILE)
    as dapr.proto.components.v1.StateStore, with grpcio-reflection's v1alpha
    reflection, on unix:PATH until SIGTERM/SIGINT (serve()), on `workers` threads; with
    `say_serving`, logs that it serves. Call ensure_stubs() first."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--calls", required=True)
    args = parser.parse_args()
    stop = termination_event()
    # Here, not at the top: grpcio-reflection must not be imported by the fixtures that
    # use grpc_protos.reflection (see above).
    from concurrent import futures

    import grpc
    from dapr.proto.components.v1 import state_pb2, state_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    state_pb2_grpc.add_StateStoreServicer_to_server(make_store(args.calls), server)
    service = state_pb2.DESCRIPTOR.services_by_name["StateStore"].full_name
    reflection.enable_server_reflection((service, reflection.SERVICE_NAME), server)
    started = (lambda: log(f"serving {service} on unix:{args.socket}")) if say_serving else None
    return serve(server, args.socket, stop, started=started)


def log(*parts) -> None:
    """Lifecycle messages on stderr (a handful per run)."""
    print(f"[{os.path.basename(sys.argv[0])} {os.getpid()}]", *parts,
          file=sys.stderr, flush=True)


VERBOSE = os.environ.get("APIARY_FIXTURE_VERBOSE", "") not in ("", "0")


def debug(*parts) -> None:
    """Per-call messages, only with APIARY_FIXTURE_VERBOSE=1, so that a test
    which pipes stderr without reading it can never block a fixture."""
    if VERBOSE:
        log(*parts)
