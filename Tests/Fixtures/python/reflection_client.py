#!/usr/bin/env python3
"""Check a server's gRPC reflection from the client side.

    python3 reflection_client.py --socket PATH [--v1alpha] [--timeout SECONDS]
        [--symbol NAME] [--method NAME] [--file NAME]

Against the server on unix:PATH, using grpc.reflection.v1 (default) or
grpc.reflection.v1alpha (--v1alpha):
  (a) lists the services;
  (b) fetches the file containing the symbol dapr.proto.components.v1.StateStore
      (--symbol) and resolves the input type of its method Get (--method);
  (c) fetches the file dapr/proto/components/v1/state.proto (--file) by name.
On success prints one JSON line and exits 0, e.g.
  {"reflection": "grpc.reflection.v1.ServerReflection",
   "services": [...], "stateStoreGetInput": "dapr.proto.components.v1.GetRequest",
   "fileByName": "dapr/proto/components/v1/state.proto",
   "fileByNameServices": [...]}
On any failure prints a message on stderr and exits 1.

For v1alpha the client side of the grpcio-reflection package is used
(ProtoReflectionDescriptorDatabase); that package has no v1 client, so v1
uses an equivalent database built on the stubs generated from
Proto/grpc/reflection/v1.  Either database feeds a DescriptorPool that pulls
dependencies (e.g. common.proto, google/protobuf/any.proto) on demand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from google.protobuf import descriptor_pool  # noqa: E402
from google.protobuf.descriptor_database import DescriptorDatabase  # noqa: E402
from google.protobuf.descriptor_pb2 import FileDescriptorProto  # noqa: E402


class Failure(Exception):
    pass


class V1ReflectionDatabase(DescriptorDatabase):
    """A DescriptorDatabase fed by grpc.reflection.v1 (generated stubs)."""

    def __init__(self, channel, timeout):
        super().__init__()
        from grpc_protos.reflection.v1 import reflection_pb2, reflection_pb2_grpc

        self._pb2 = reflection_pb2
        self._stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        self._timeout = timeout
        self._known: set[str] = set()

    def _ask(self, key, **question):
        request = self._pb2.ServerReflectionRequest(**question)
        responses = self._stub.ServerReflectionInfo(iter([request]), timeout=self._timeout)
        response = next(responses)
        if response.WhichOneof("message_response") == "error_response":
            error = response.error_response
            if error.error_code == grpc.StatusCode.NOT_FOUND.value[0]:
                raise KeyError(key)
            raise Failure(f"reflection error {error.error_code}: {error.error_message}")
        return response

    def _add_files(self, response):
        for blob in response.file_descriptor_response.file_descriptor_proto:
            proto = FileDescriptorProto()
            proto.ParseFromString(blob)
            if proto.name not in self._known:
                self._known.add(proto.name)
                self.Add(proto)

    def get_services(self):
        response = self._ask("", list_services="")
        return [s.name for s in response.list_services_response.service]

    def _find(self, lookup, key: str, **request):
        """lookup(key) among the files known, else once the server's answer to
        `request` has added its files."""
        try:
            return lookup(key)
        except KeyError:
            pass
        self._add_files(self._ask(key, **request))
        return lookup(key)

    def FindFileByName(self, name):
        return self._find(super().FindFileByName, name, file_by_filename=name)

    def FindFileContainingSymbol(self, symbol):
        return self._find(super().FindFileContainingSymbol, symbol, file_containing_symbol=symbol)


def make_database(channel, v1alpha: bool, timeout: float):
    if v1alpha:
        # grpcio-reflection's client; its stub calls carry no deadline, so
        # the overall --timeout is enforced by the channel readiness check
        # and an alarm in main().
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
            ProtoReflectionDescriptorDatabase,
        )

        return "grpc.reflection.v1alpha.ServerReflection", ProtoReflectionDescriptorDatabase(channel)
    return "grpc.reflection.v1.ServerReflection", V1ReflectionDatabase(channel, timeout)


def run(args) -> dict:
    channel = grpc.insecure_channel(fixturelib.unix_target(args.socket))
    try:
        grpc.channel_ready_future(channel).result(timeout=args.timeout)
    except grpc.FutureTimeoutError:
        raise Failure(f"could not connect to unix:{args.socket} within {args.timeout}s")
    reflection_service, database = make_database(channel, args.v1alpha, args.timeout)
    pool = descriptor_pool.DescriptorPool(database)

    # (a) list services
    services = list(database.get_services())

    # (b) file containing the symbol, then the method's input type
    try:
        service = pool.FindServiceByName(args.symbol)
    except KeyError:
        raise Failure(f"symbol {args.symbol} not found by file_containing_symbol")
    method = service.methods_by_name.get(args.method)
    if method is None:
        raise Failure(f"{args.symbol} has no method {args.method}; "
                      f"methods: {sorted(service.methods_by_name)}")
    get_input = method.input_type.full_name

    # (c) file by name
    try:
        file_descriptor = pool.FindFileByName(args.file)
    except KeyError:
        raise Failure(f"file {args.file} not found by file_by_filename")

    channel.close()
    return {
        "reflection": reflection_service,
        "services": services,
        "stateStoreGetInput": get_input,
        "fileByName": file_descriptor.name,
        "fileByNameServices": sorted(s.full_name for s in file_descriptor.services_by_name.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="gRPC reflection client check")
    parser.add_argument("--socket", required=True, help="Unix socket of the server under test")
    parser.add_argument("--v1alpha", action="store_true",
                        help="use grpc.reflection.v1alpha (grpcio-reflection's client) instead of v1")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to connect and for each reflection call (default: 10)")
    parser.add_argument("--symbol", default="dapr.proto.components.v1.StateStore")
    parser.add_argument("--method", default="Get")
    parser.add_argument("--file", default="dapr/proto/components/v1/state.proto")
    args = parser.parse_args()

    import signal

    def too_slow(_signum, _frame):
        raise Failure(f"gave up after {args.timeout * 3:.0f}s")

    signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(max(1, int(args.timeout * 3)))
    try:
        summary = run(args)
    except Failure as error:
        print(f"reflection_client: {error}", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print(f"reflection_client: RPC failed: {error.code().name}: {error.details()}",
              file=sys.stderr)
        return 1
    except Exception as error:  # any other surprise is a failure too
        print(f"reflection_client: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
