#!/usr/bin/env python3
"""The one place that compiles Proto/ into Python gRPC stubs (grpc_tools.protoc).

    python3 Scripts/python_stubs.py fixtures [--out DIR] [--proto-root DIR] [--force]
    python3 Scripts/python_stubs.py sdk [--proto-root DIR] [--check]

Two sets of stubs come from it:

`fixtures`: every .proto under Proto/ into Tests/Fixtures/python/gen/ (not committed),
for the Python test fixtures and suites, which call `fixturelib.ensure_stubs()` (it
calls ensure_fixture_stubs() here). Generation runs under an exclusive lock file
(gen.lock) into a temporary folder renamed into place, so test processes starting
together never see a half-written gen/; whether gen/ is current is decided by a hash
of the proto files' names and contents (plus the grpcio-tools version) kept in
gen/.stamp, so a call when nothing changed costs a hash. The generated `grpc/...`
tree (reflection v1 and v1alpha, health) is moved to the top-level package
`grpc_protos`, because `import grpc` aliases `grpc.reflection` and `grpc.health` to
the installed grpcio-reflection and grpcio-health-checking; every other folder gets
an __init__.py, so gen/dapr wins over an installed Dapr SDK's `dapr` when gen/ is
first on sys.path. --force regenerates even when current.

`sdk`: the contracts a component serves (dapr/proto/components/v1,
apiary/proto/components/v1, spec/proto/pluggable/v1; not Proto/grpc/**, whose
modules would clash with what grpcio, grpcio-reflection and grpcio-health-checking
register) into SDKs/python/apiary-component/src/apiary_component/_generated/
(committed, never edited by hand), their Python imports rewritten to live under
`apiary_component._generated` so that they never collide with another
distribution's top-level `dapr` (the descriptors keep the .proto file names, as
reflection shows them). --check regenerates into a temporary folder and compares:
exit 0 when the committed stubs are current, 1 (listing the differing files) when
they are stale. SDKs/python/apiary-component/gen_stubs.py is this command.

The proto root is --proto-root, else the repository's Proto/ (../Proto from this
file). Needs grpcio-tools (pinned in Tests/Fixtures/python/requirements.txt and the
SDK's pyproject.toml).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import filecmp
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PROTO_ROOT = os.path.join(REPO, "Proto")


class GenerationError(Exception):
    """The stubs cannot be generated; the message says why."""


# ----------------------------------------------------------------------------- protoc


def well_known_include() -> str:
    """The folder holding google/protobuf/*.proto shipped by grpcio-tools."""
    import grpc_tools

    return os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")


def proto_files(proto_root: str = PROTO_ROOT, folders: tuple = (".",), skip: tuple = ("google/protobuf/",)) -> list:
    """The .proto files under `folders` of `proto_root` (recursively), as sorted
    root-relative paths, without the well-known types (they ship with protobuf)."""
    found = []
    for folder in folders:
        top = os.path.normpath(os.path.join(proto_root, folder))
        if not os.path.isdir(top):
            raise GenerationError(f"{top} does not exist: point --proto-root at Apiary's Proto/ folder")
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in filenames:
                if name.endswith(".proto"):
                    rel = os.path.relpath(os.path.join(dirpath, name), proto_root).replace(os.sep, "/")
                    if not rel.startswith(skip):
                        found.append(rel)
    return sorted(found)


def compile_protos(proto_root: str, files: list, out: str) -> None:
    """grpc_tools.protoc: *_pb2.py and *_pb2_grpc.py of `files` into `out`."""
    try:
        from grpc_tools import protoc
    except ImportError:
        raise GenerationError("grpcio-tools is not installed: python3 -m pip install grpcio-tools==1.85.1") \
            from None
    if not files:
        raise GenerationError(f"no .proto files under {proto_root}")
    args = ["grpc_tools.protoc", f"-I{proto_root}", f"-I{well_known_include()}", f"--python_out={out}",
            f"--grpc_python_out={out}", *files]
    status = protoc.main(args)
    if status != 0:
        raise GenerationError(f"grpc_tools.protoc exited with status {status}: {' '.join(args)}")


# ----------------------------------------------------------------------------- fixtures: gen/

FIXTURES_GEN = os.path.join(REPO, "Tests", "Fixtures", "python", "gen")
STAMP_NAME = ".stamp"
# Top-level packages of generated code that must merge with an installed namespace
# package of the same name instead of replacing it (`google` holds google.protobuf).
MERGED_ROOTS = ("google",)
# Where the generated `grpc/...` tree goes (see the module docstring).
GRPC_PACKAGE = "grpc_protos"
# Bump when the generation procedure changes, so old gen/ folders are redone.
GENERATOR_VERSION = "2"


def proto_hash(proto_root: str = PROTO_ROOT) -> str:
    """A digest of the inputs to the fixtures' generation."""
    digest = hashlib.sha256()
    digest.update(GENERATOR_VERSION.encode())
    try:
        from importlib import metadata

        digest.update(metadata.version("grpcio-tools").encode())
    except Exception:  # noqa: BLE001
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
    subpackages = sorted(name for name in os.listdir(target) if os.path.isdir(os.path.join(target, name)))
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
    """Every generated folder a regular package, except the merged roots."""
    for dirpath, _dirnames, _filenames in os.walk(out_dir):
        rel = os.path.relpath(dirpath, out_dir)
        if rel == "." or rel in MERGED_ROOTS:
            continue
        marker = os.path.join(dirpath, "__init__.py")
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8"):
                pass


@contextlib.contextmanager
def _locked(lock_path: str):
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def generate_fixtures(out_dir: str = FIXTURES_GEN, proto_root: str = PROTO_ROOT, force: bool = False) -> bool:
    """The fixtures' stubs into out_dir unless it is already current. True when they
    were (re)generated. Safe to call from many processes at once."""
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    if not force and _read_stamp(out_dir) == proto_hash(proto_root):
        return False
    with _locked(out_dir + ".lock"):
        wanted = proto_hash(proto_root)  # someone else may have finished while we waited
        if not force and _read_stamp(out_dir) == wanted:
            return False
        tmp = tempfile.mkdtemp(prefix=".gen-tmp-", dir=parent)
        os.chmod(tmp, 0o755)
        try:
            compile_protos(proto_root, proto_files(proto_root), tmp)
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


def ensure_fixture_stubs(out_dir: str = FIXTURES_GEN) -> str:
    """The fixtures' stubs generated if missing or stale, and first on sys.path; answers out_dir."""
    out_dir = os.path.abspath(out_dir)
    generate_fixtures(out_dir)
    if out_dir in sys.path:
        sys.path.remove(out_dir)
    sys.path.insert(0, out_dir)
    return out_dir


# ----------------------------------------------------------------------------- the SDK's _generated/

SDK = os.path.join(REPO, "SDKs", "python", "apiary-component")
SDK_TARGET = os.path.join(SDK, "src", "apiary_component", "_generated")
SDK_PACKAGE = "apiary_component._generated"
# Folders under the proto root whose .proto files the SDK ships (recursively).
SDK_FOLDERS = ("dapr/proto/components/v1", "apiary/proto/components/v1", "spec/proto/pluggable/v1")
# Top-level protobuf packages of those files: their imports are rewritten.
SDK_ROOTS = ("dapr", "apiary", "spec")
SDK_HEADER = ('"""Generated by SDKs/python/apiary-component/gen_stubs.py from the repository\'s\n'
              'Proto/ folder; do not edit.  Regenerate with: python3 gen_stubs.py"""\n')
_IMPORT = re.compile(r"^(\s*)from (%s)((?:\.\w+)*) import " % "|".join(SDK_ROOTS), re.MULTILINE)
_MODULE_NAME = re.compile(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')((?:%s)\.)" % "|".join(SDK_ROOTS))


def rewrite_imports(source: str) -> str:
    """`from dapr.proto.components.v1 import common_pb2` becomes
    `from apiary_component._generated.dapr.proto.components.v1 import common_pb2`, and
    the module name given to the message classes (their `__module__`) follows."""
    source = _IMPORT.sub(lambda m: f"{m.group(1)}from {SDK_PACKAGE}.{m.group(2)}{m.group(3)} import ", source)
    return _MODULE_NAME.sub(lambda m: f"{m.group(1)}{SDK_PACKAGE}.{m.group(2)}", source)


def compile_sdk(proto_root: str, out: str) -> None:
    compile_protos(proto_root, proto_files(proto_root, SDK_FOLDERS, skip=()), out)
    for dirpath, _dirnames, filenames in os.walk(out):
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(rewrite_imports(text))
        init = os.path.join(dirpath, "__init__.py")
        if not os.path.exists(init):
            with open(init, "w", encoding="utf-8") as handle:
                handle.write(SDK_HEADER if dirpath == out else "")


def differences(left: str, right: str) -> list:
    """Relative paths that differ between two trees (ignoring __pycache__)."""
    found = []

    def walk(compare: filecmp.dircmp, prefix: str) -> None:
        for name in compare.left_only + compare.right_only:
            if name != "__pycache__":
                found.append(prefix + name)
        # dircmp compares shallowly (size and time); compare contents instead.
        for name in compare.common_files:
            if not filecmp.cmp(os.path.join(compare.left, name), os.path.join(compare.right, name), shallow=False):
                found.append(prefix + name)
        for name, sub in compare.subdirs.items():
            if name != "__pycache__":
                walk(sub, prefix + name + "/")

    walk(filecmp.dircmp(left, right), "")
    return sorted(found)


def sdk(proto_root: str, check: bool) -> int:
    proto_root = os.path.abspath(proto_root)
    staging = tempfile.mkdtemp(prefix=".gen-", dir=SDK)
    count = len(proto_files(proto_root, SDK_FOLDERS, skip=()))
    try:
        compile_sdk(proto_root, staging)
        if check:
            if not os.path.isdir(SDK_TARGET):
                print(f"gen_stubs: {SDK_TARGET} does not exist; run python3 gen_stubs.py", file=sys.stderr)
                return 1
            stale = differences(staging, SDK_TARGET)
            if stale:
                print(f"gen_stubs: {SDK_TARGET} differs from what {proto_root} compiles to "
                      f"({', '.join(stale)}); run python3 gen_stubs.py and commit the result", file=sys.stderr)
                return 1
            print(f"{SDK_TARGET}: up to date ({count} protos)")
            return 0
        if os.path.lexists(SDK_TARGET):
            retired = tempfile.mkdtemp(prefix=".gen-old-", dir=SDK)
            os.replace(SDK_TARGET, os.path.join(retired, "old"))
            shutil.rmtree(retired, ignore_errors=True)
        os.replace(staging, SDK_TARGET)
        os.chmod(SDK_TARGET, 0o755)
        staging = None
        print(f"{SDK_TARGET}: generated from {proto_root} ({count} protos)")
        return 0
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-root", default=PROTO_ROOT, help="Apiary's Proto/ folder (default: %(default)s)")
    targets = parser.add_subparsers(dest="target", required=True)
    fixtures = targets.add_parser("fixtures", help="Tests/Fixtures/python/gen (every .proto, when stale)")
    fixtures.add_argument("--out", default=FIXTURES_GEN, help="output folder (default: %(default)s)")
    fixtures.add_argument("--force", action="store_true", help="regenerate even if the output is current")
    sdk_parser = targets.add_parser("sdk", help="the SDK's committed src/apiary_component/_generated")
    sdk_parser.add_argument("--check", action="store_true",
                            help="only compare a fresh generation with the committed stubs")
    for sub in (fixtures, sdk_parser):
        sub.add_argument("--proto-root", default=argparse.SUPPRESS, help="as above, after the target")
    args = parser.parse_args(argv)
    try:
        if args.target == "sdk":
            return sdk(args.proto_root, args.check)
        started = time.monotonic()
        rebuilt = generate_fixtures(args.out, args.proto_root, force=args.force)
        state = "generated" if rebuilt else "up to date"
        print(f"{os.path.abspath(args.out)}: {state} ({len(proto_files(args.proto_root))} protos, "
              f"{time.monotonic() - started:.2f}s)")
        return 0
    except GenerationError as error:
        print(f"gen_stubs: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
