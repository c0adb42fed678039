#!/usr/bin/env python3
"""A gRPC server whose reflection speaks only the version(s) asked for.

    python3 reflection_only_server.py --socket PATH
        [--reflection v1|v1alpha|both|none]
        [--service NAME[,NAME...]] [--no-list-reflection]

Registers the given services (default dapr.proto.components.v1.StateStore)
with the generated Servicer base classes, so every call on them answers
UNIMPLEMENTED -- enough for discovery tests, which only look at reflection.
Reflection is implemented here (grpcio-reflection always registers
grpc.reflection.v1alpha and cannot serve v1) and registered only for the
requested version(s); asking the other version gets UNIMPLEMENTED.

The reflection service answers list_services with the given names (plus the
reflection service names served, unless --no-list-reflection), and
file_by_filename / file_containing_symbol (services, methods, messages,
fields, enums) / file_containing_extension / all_extension_numbers_of_type
from the default descriptor pool, which holds
every file under Proto/.  A file answer carries the file's
FileDescriptorProto first, then those of all its transitive dependencies.
Anything not found gets an error_response with NOT_FOUND.

A service name not defined in Proto/ is still listed (with nothing serving
it), which lets tests present an unknown service.  Exits cleanly on
SIGTERM/SIGINT and removes its socket.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402

# Our generated reflection stubs, never grpc_reflection's: both define the
# grpc.reflection.v1alpha symbols, which cannot be loaded twice in one pool.
from grpc_protos.reflection.v1 import reflection_pb2 as reflection_v1_pb2  # noqa: E402
from grpc_protos.reflection.v1alpha import reflection_pb2 as reflection_v1alpha_pb2  # noqa: E402

DEFAULT_SERVICE = "dapr.proto.components.v1.StateStore"

VERSIONS = {"v1": reflection_v1_pb2, "v1alpha": reflection_v1alpha_pb2}


def import_all_stubs() -> None:
    """Import every generated *_pb2 module so the default pool holds all of
    Proto/ (reflection answers from it)."""
    for rel in fixturelib.proto_files():
        module = rel[: -len(".proto")].replace("/", ".") + "_pb2"
        if module.startswith("grpc."):
            module = fixturelib.GRPC_PACKAGE + module[len("grpc"):]
        importlib.import_module(module)


def grpc_module_for(file_name: str):
    module = file_name[: -len(".proto")].replace("/", ".") + "_pb2_grpc"
    if module.startswith("grpc."):
        module = fixturelib.GRPC_PACKAGE + module[len("grpc"):]
    return importlib.import_module(module)


def add_unimplemented_service(server, full_name: str, pool) -> bool:
    """Register the generated base Servicer of full_name; False if unknown."""
    try:
        service = pool.FindServiceByName(full_name)
    except KeyError:
        return False
    module = grpc_module_for(service.file.name)
    servicer_class = getattr(module, f"{service.name}Servicer")
    add = getattr(module, f"add_{service.name}Servicer_to_server")
    add(servicer_class(), server)
    return True


def _transitive_files(file_descriptor):
    """The file first, then every dependency once (depth first)."""
    ordered, seen = [], set()

    def visit(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        ordered.append(fd)
        for dependency in fd.dependencies:
            visit(dependency)

    visit(file_descriptor)
    return ordered


class ReflectionServicer:
    """ServerReflectionInfo for one reflection version (its pb2 module)."""

    def __init__(self, pb2, service_names, pool):
        self._pb2 = pb2
        self._service_names = list(service_names)
        self._pool = pool

    def _not_found(self, request, what: str):
        return self._pb2.ServerReflectionResponse(
            valid_host=request.host,
            original_request=request,
            error_response=self._pb2.ErrorResponse(
                error_code=grpc.StatusCode.NOT_FOUND.value[0],
                error_message=f"not found: {what}",
            ),
        )

    def _files(self, request, file_descriptor):
        blobs = []
        for fd in _transitive_files(file_descriptor):
            proto = descriptor_pb2.FileDescriptorProto()
            fd.CopyToProto(proto)
            blobs.append(proto.SerializeToString())
        return self._pb2.ServerReflectionResponse(
            valid_host=request.host,
            original_request=request,
            file_descriptor_response=self._pb2.FileDescriptorResponse(
                file_descriptor_proto=blobs),
        )

    def _file_of_symbol(self, symbol: str):
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            # The pool does not index methods; <package>.<Service>.<Method>
            # is a valid reflection symbol all the same.
            parent, _, leaf = symbol.rpartition(".")
            service = self._pool.FindServiceByName(parent)  # KeyError if not
            if leaf not in service.methods_by_name:
                raise
            return service.file

    def answer(self, request):
        pb2, pool = self._pb2, self._pool
        kind = request.WhichOneof("message_request")
        if kind == "list_services":
            return pb2.ServerReflectionResponse(
                valid_host=request.host,
                original_request=request,
                list_services_response=pb2.ListServiceResponse(
                    service=[pb2.ServiceResponse(name=n) for n in self._service_names]),
            )
        if kind == "file_by_filename":
            try:
                return self._files(request, pool.FindFileByName(request.file_by_filename))
            except KeyError:
                return self._not_found(request, request.file_by_filename)
        if kind == "file_containing_symbol":
            try:
                return self._files(request, self._file_of_symbol(request.file_containing_symbol))
            except KeyError:
                return self._not_found(request, request.file_containing_symbol)
        if kind == "file_containing_extension":
            ext = request.file_containing_extension
            try:
                message = pool.FindMessageTypeByName(ext.containing_type)
                extension = pool.FindExtensionByNumber(message, ext.extension_number)
                return self._files(request, extension.file)
            except KeyError:
                return self._not_found(
                    request, f"{ext.containing_type} extension {ext.extension_number}")
        if kind == "all_extension_numbers_of_type":
            try:
                message = pool.FindMessageTypeByName(request.all_extension_numbers_of_type)
                numbers = sorted(e.number for e in pool.FindAllExtensions(message))
            except KeyError:
                return self._not_found(request, request.all_extension_numbers_of_type)
            return pb2.ServerReflectionResponse(
                valid_host=request.host,
                original_request=request,
                all_extension_numbers_response=pb2.ExtensionNumberResponse(
                    base_type_name=message.full_name, extension_number=numbers),
            )
        return pb2.ServerReflectionResponse(
            valid_host=request.host,
            original_request=request,
            error_response=pb2.ErrorResponse(
                error_code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
                error_message="no question in the request",
            ),
        )

    def ServerReflectionInfo(self, request_iterator, context):
        for request in request_iterator:
            yield self.answer(request)


def add_reflection(server, version: str, service_names, pool) -> str:
    pb2 = VERSIONS[version]
    service = pb2.DESCRIPTOR.services_by_name["ServerReflection"]
    servicer = ReflectionServicer(pb2, service_names, pool)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=pb2.ServerReflectionRequest.FromString,
        response_serializer=pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(
            service.full_name, {"ServerReflectionInfo": handler}),
    ))
    return service.full_name


def main() -> int:
    parser = argparse.ArgumentParser(
        description="gRPC server with reflection in chosen version(s) only")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--reflection", choices=("v1", "v1alpha", "both", "none"),
                        default="both", help="reflection version(s) to serve (default: both)")
    parser.add_argument("--service", action="append", default=None,
                        help="fully-qualified service name(s), comma-separated or repeated "
                             f"(default: {DEFAULT_SERVICE})")
    parser.add_argument("--no-list-reflection", action="store_true",
                        help="leave the reflection service name(s) out of list_services")
    args = parser.parse_args()

    services = []
    for chunk in args.service or [DEFAULT_SERVICE]:
        services.extend(name.strip() for name in chunk.split(",") if name.strip())
    versions = {"both": ["v1", "v1alpha"], "none": []}.get(args.reflection, [args.reflection])

    import_all_stubs()
    pool = descriptor_pool.Default()
    stop = fixturelib.termination_event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))

    for name in services:
        if not add_unimplemented_service(server, name, pool):
            fixturelib.log(f"{name} is not defined in Proto/; listing it without serving it")

    listed = list(services)
    if not args.no_list_reflection:
        listed += [VERSIONS[v].DESCRIPTOR.services_by_name["ServerReflection"].full_name
                   for v in versions]
    served_reflection = [add_reflection(server, v, listed, pool) for v in versions]

    fixturelib.prepare_socket_path(args.socket)
    server.add_insecure_port(fixturelib.unix_target(args.socket))
    server.start()
    fixturelib.log(f"serving {services} with reflection {served_reflection or 'none'} "
                   f"on unix:{args.socket}")
    try:
        fixturelib.wait_for(stop)
    finally:
        server.stop(grace=0.5).wait()
        fixturelib.remove_socket(args.socket)
        fixturelib.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
