"""Shared helpers for Apiary's Python test fixtures.

Every fixture script starts with::

    import fixturelib
    fixturelib.ensure_stubs()          # generate gen/ if missing or stale
    from dapr.proto.components.v1 import pubsub_pb2, pubsub_pb2_grpc
    from grpc_protos.reflection.v1 import reflection_pb2   # see GRPC_PACKAGE

`ensure_stubs()` compiles every .proto under the repository's Proto/ folder
(../../../Proto from this file) with grpc_tools.protoc into gen/ beside this
file, then puts gen/ first on sys.path.  Generation happens under an
exclusive file lock and into a temporary folder that is renamed into place,
so several test processes starting at once never see a half-written gen/.
Whether gen/ is current is decided by a hash of the proto files' names and
contents (plus the grpcio-tools version), stored in gen/.stamp.

One process must not import both grpc_protos.reflection.v1alpha (ours) and
grpc_reflection.v1alpha (grpcio-reflection's): both define the
grpc.reflection.v1alpha symbols in the default descriptor pool, and the
second import fails with a duplicate-symbol error.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "Proto"))
DEFAULT_GEN_DIR = os.path.join(HERE, "gen")
STAMP_NAME = ".stamp"

# Top-level packages of generated code that must merge with an installed
# namespace package of the same name instead of replacing it (`google`,
# which also holds `google.protobuf`).
_MERGED_ROOTS = ("google",)
# The generated `grpc/...` tree (grpc.reflection.v1, grpc.reflection.v1alpha,
# grpc.health.v1) cannot live inside the installed `grpc` runtime package:
# `import grpc` aliases `grpc.reflection` to the grpcio-reflection package and
# `grpc.health` to grpcio-health-checking.  It is therefore moved to this
# top-level package and its imports rewritten, e.g.
# `from grpc_protos.reflection.v1 import reflection_pb2`.
GRPC_PACKAGE = "grpc_protos"
# Well-known types ship with protobuf itself; never generate them again.
_SKIPPED_PREFIXES = ("google/protobuf/",)

# Bump when the generation procedure changes, so old gen/ folders are redone.
_GENERATOR_VERSION = "2"


def well_known_include() -> str:
    """The folder holding google/protobuf/*.proto shipped by grpcio-tools."""
    try:
        from importlib import resources

        path = resources.files("grpc_tools") / "_proto"
        return str(path)
    except Exception:  # pragma: no cover - very old Pythons
        import grpc_tools

        return os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")


def proto_files(proto_root: str = PROTO_ROOT) -> list[str]:
    """All .proto files under proto_root, as sorted root-relative paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(proto_root):
        dirnames.sort()
        for name in filenames:
            if not name.endswith(".proto"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), proto_root)
            rel = rel.replace(os.sep, "/")
            if rel.startswith(_SKIPPED_PREFIXES):
                continue
            found.append(rel)
    return sorted(found)


def proto_hash(proto_root: str = PROTO_ROOT) -> str:
    """A digest of the inputs to generation."""
    digest = hashlib.sha256()
    digest.update(_GENERATOR_VERSION.encode())
    try:
        from importlib import metadata

        digest.update(metadata.version("grpcio-tools").encode())
    except Exception:
        pass
    for rel in proto_files(proto_root):
        digest.update(b"\0" + rel.encode() + b"\0")
        with open(os.path.join(proto_root, rel), "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def _read_stamp(out_dir: str) -> str | None:
    try:
        with open(os.path.join(out_dir, STAMP_NAME), "r", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _relocate_grpc_tree(out_dir: str) -> None:
    """Move gen/grpc to gen/grpc_protos and rewrite imports that point at it."""
    source = os.path.join(out_dir, "grpc")
    if not os.path.isdir(source):
        return
    target = os.path.join(out_dir, GRPC_PACKAGE)
    os.replace(source, target)
    subpackages = sorted(
        name for name in os.listdir(target)
        if os.path.isdir(os.path.join(target, name))
    )
    for dirpath, _dirnames, filenames in os.walk(out_dir):
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
            updated = text
            for sub in subpackages:
                updated = updated.replace(f"from grpc.{sub}.", f"from {GRPC_PACKAGE}.{sub}.")
                updated = updated.replace(f"import grpc.{sub}.", f"import {GRPC_PACKAGE}.{sub}.")
            if updated != text:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(updated)


def _add_package_markers(out_dir: str) -> None:
    """Make generated folders regular packages (except merged roots).

    With an __init__.py, gen/dapr wins over any installed `dapr` package
    (e.g. the Dapr Python SDK) because gen/ is first on sys.path.  A `google`
    root stays a plain folder so that it merges with the installed `google`
    namespace package (which holds google.protobuf).
    """
    for dirpath, _dirnames, _filenames in os.walk(out_dir):
        rel = os.path.relpath(dirpath, out_dir)
        if rel == "." or rel in _MERGED_ROOTS:
            continue
        marker = os.path.join(dirpath, "__init__.py")
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8"):
                pass


def _run_protoc(out_dir: str, proto_root: str) -> None:
    from grpc_tools import protoc

    files = proto_files(proto_root)
    if not files:
        raise RuntimeError(f"no .proto files under {proto_root}")
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known_include()}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    status = protoc.main(args)
    if status != 0:
        raise RuntimeError(f"grpc_tools.protoc failed with status {status}: {' '.join(args)}")


@contextlib.contextmanager
def _locked(lock_path: str):
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def generate(out_dir: str = DEFAULT_GEN_DIR, proto_root: str = PROTO_ROOT,
             force: bool = False) -> bool:
    """Generate stubs into out_dir unless it is already current.

    Returns True when stubs were (re)generated, False when out_dir was
    already up to date.  Safe to call from many processes at once.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    wanted = proto_hash(proto_root)
    if not force and _read_stamp(out_dir) == wanted:
        return False
    with _locked(out_dir + ".lock"):
        # Someone else may have finished the job while we waited.
        wanted = proto_hash(proto_root)
        if not force and _read_stamp(out_dir) == wanted:
            return False
        tmp = tempfile.mkdtemp(prefix=".gen-tmp-", dir=parent)
        os.chmod(tmp, 0o755)
        try:
            _run_protoc(tmp, proto_root)
            _relocate_grpc_tree(tmp)
            _add_package_markers(tmp)
            with open(os.path.join(tmp, STAMP_NAME), "w", encoding="utf-8") as handle:
                handle.write(wanted + "\n")
            old = None
            if os.path.lexists(out_dir):
                old = tempfile.mkdtemp(prefix=".gen-old-", dir=parent)
                os.rmdir(old)
                os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            tmp = None
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    return True


def ensure_stubs(out_dir: str = DEFAULT_GEN_DIR) -> str:
    """Make sure generated stubs exist and are importable; returns out_dir."""
    out_dir = os.path.abspath(out_dir)
    generate(out_dir)
    if out_dir in sys.path:
        sys.path.remove(out_dir)
    sys.path.insert(0, out_dir)
    return out_dir


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
