#!/usr/bin/env python3
"""Generate the Python gRPC stubs redis-store needs, from the repository's Proto/.

    python3 gen_stubs.py [--proto-root DIR] [--out DIR] [--force]

Compiles the component contracts -- every .proto in
dapr/proto/components/v1/ and apiary/proto/components/v1/ under the proto
root -- with grpcio-tools into gen/ beside this file (git-ignored, never
committed).  The proto root is --proto-root, else $APIARY_PROTO_ROOT, else
../../../Proto from this file (the repository's Proto/ folder).

redis_store.py and selftest.py call ensure() at start-up, so running this
script by hand is optional: it is what the first run does.  Nothing happens
when gen/ is current: gen/.stamp holds a digest of the inputs (file names and
contents, the grpcio-tools version, GENERATOR_VERSION).  Generation runs under
a lock file (gen.lock) into a temporary folder that is then renamed into
place, so processes starting together never see a half-written gen/.

Only the component contracts are compiled.  In particular Proto/grpc/...
(reflection, health) is left out: its package `grpc.*` would clash with the
grpcio runtime, and the component serves reflection with grpcio-reflection.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "gen")
STAMP = ".stamp"
# Folders (relative to the proto root) whose .proto files are compiled.
PACKAGES = ("dapr/proto/components/v1", "apiary/proto/components/v1")
# Bump when the procedure below changes, so that old gen/ folders are redone.
GENERATOR_VERSION = "1"


class StubsError(Exception):
    """Stubs cannot be generated; the message says why and what to do."""


def default_proto_root() -> str:
    configured = os.environ.get("APIARY_PROTO_ROOT", "")
    if configured:
        return os.path.abspath(configured)
    return os.path.normpath(os.path.join(HERE, "..", "..", "..", "Proto"))


def proto_files(proto_root: str) -> list[str]:
    """The .proto files to compile, as sorted root-relative paths."""
    found = []
    for package in PACKAGES:
        folder = os.path.join(proto_root, package)
        if not os.path.isdir(folder):
            raise StubsError(
                f"{folder} does not exist: point --proto-root or $APIARY_PROTO_ROOT at "
                "Apiary's Proto/ folder")
        found.extend(f"{package}/{name}" for name in os.listdir(folder)
                     if name.endswith(".proto"))
    return sorted(found)


def _tools():
    try:
        from grpc_tools import protoc  # noqa: F401
    except ImportError:
        raise StubsError("grpcio-tools is not installed: "
                         f"python3 -m pip install -r {os.path.join(HERE, 'requirements.txt')}"
                         ) from None
    import grpc_tools
    return grpc_tools


def digest(proto_root: str) -> str:
    hasher = hashlib.sha256(f"generator {GENERATOR_VERSION}\n".encode())
    try:
        from importlib import metadata
        hasher.update(f"grpcio-tools {metadata.version('grpcio-tools')}\n".encode())
    except Exception:  # not installed as a distribution: the files alone decide
        pass
    for rel in proto_files(proto_root):
        hasher.update(rel.encode() + b"\0")
        with open(os.path.join(proto_root, rel), "rb") as handle:
            hasher.update(hashlib.sha256(handle.read()).digest())
    return hasher.hexdigest()


def _stamp_of(out: str) -> str | None:
    try:
        with open(os.path.join(out, STAMP), encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


@contextlib.contextmanager
def _lock(path: str):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile(proto_root: str, target: str) -> None:
    tools = _tools()
    from grpc_tools import protoc

    well_known = os.path.join(os.path.dirname(tools.__file__), "_proto")
    args = ["protoc", f"-I{proto_root}", f"-I{well_known}",
            f"--python_out={target}", f"--grpc_python_out={target}", *proto_files(proto_root)]
    status = protoc.main(args)
    if status != 0:
        raise StubsError(f"grpc_tools.protoc exited with status {status}")
    # Regular packages (with __init__.py), so that gen/dapr wins over an
    # installed `dapr` distribution such as the Dapr Python SDK.
    for dirpath, _dirnames, _filenames in os.walk(target):
        if dirpath != target:
            open(os.path.join(dirpath, "__init__.py"), "a").close()


def generate(proto_root: str | None = None, out: str = DEFAULT_OUT, force: bool = False,
             announce=None) -> bool:
    """Makes `out` current; True when it was (re)generated.  `announce(text)`
    is called once before generating."""
    proto_root = os.path.abspath(proto_root or default_proto_root())
    out = os.path.abspath(out)
    wanted = digest(proto_root)
    if not force and _stamp_of(out) == wanted:
        return False
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    with _lock(os.path.join(parent, os.path.basename(out) + ".lock")):
        if not force and _stamp_of(out) == wanted:  # another process did it meanwhile
            return False
        if announce is not None:
            announce(f"generating Python stubs from {proto_root} into {out} "
                     "(first run, or the contracts changed)")
        staging = tempfile.mkdtemp(prefix=".gen-", dir=parent)
        try:
            os.chmod(staging, 0o755)
            _compile(proto_root, staging)
            with open(os.path.join(staging, STAMP), "w", encoding="utf-8") as handle:
                handle.write(wanted + "\n")
            if os.path.lexists(out):
                retired = tempfile.mkdtemp(prefix=".gen-old-", dir=parent)
                os.replace(out, os.path.join(retired, "gen"))
                shutil.rmtree(retired, ignore_errors=True)
            os.replace(staging, out)
            staging = None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
    return True


def ensure(proto_root: str | None = None, out: str = DEFAULT_OUT, announce=None) -> str:
    """Generates the stubs when needed and puts `out` first on sys.path."""
    out = os.path.abspath(out)
    generate(proto_root, out, announce=announce)
    if out in sys.path:
        sys.path.remove(out)
    sys.path.insert(0, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-root", default=None,
                        help="Apiary's Proto/ folder (default: $APIARY_PROTO_ROOT, else "
                             "../../../Proto from this file)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="regenerate even when current")
    args = parser.parse_args()
    try:
        rebuilt = generate(args.proto_root, args.out, force=args.force)
    except StubsError as error:
        print(f"gen_stubs: {error}", file=sys.stderr)
        return 1
    print(f"{os.path.abspath(args.out)}: {'generated' if rebuilt else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
