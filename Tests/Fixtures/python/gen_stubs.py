#!/usr/bin/env python3
"""Generate Python gRPC stubs from the repository's Proto/ folder.

    python3 gen_stubs.py [--out DIR] [--proto-root DIR] [--force]

Writes *_pb2.py / *_pb2_grpc.py for every .proto under Proto/ (located at
../../../Proto relative to this script) into DIR (default: gen/ beside this
script).  Does nothing when DIR is already current, so it is cheap to call
before every test run.  Prints the output folder and whether it was rebuilt.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=fixturelib.DEFAULT_GEN_DIR,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--proto-root", default=fixturelib.PROTO_ROOT,
                        help="folder of .proto files (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="regenerate even if the output is current")
    args = parser.parse_args()

    started = time.monotonic()
    try:
        rebuilt = fixturelib.generate(args.out, args.proto_root, force=args.force)
    except Exception as error:  # report protoc failures plainly
        print(f"gen_stubs: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    state = "generated" if rebuilt else "up to date"
    count = len(fixturelib.proto_files(args.proto_root))
    print(f"{os.path.abspath(args.out)}: {state} ({count} protos, {elapsed:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
