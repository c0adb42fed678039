"""A small OTLP trace receiver for the observability tests: OTLP/gRPC
(opentelemetry.proto.collector.trace.v1.TraceService/Export) and OTLP/HTTP with
protobuf bodies (POST /v1/traces), built from the `opentelemetry-proto` package.

Every span it receives is kept as a plain dict (hex ids, name, kind, attributes,
status, service.name of its resource) for the checks to look at.  `delay` makes
every export wait that many seconds before it answers (a slow collector); the
export is still accepted afterwards.
"""

from __future__ import annotations

import http.server
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

KINDS = {value: name for name, value in trace_pb2.Span.SpanKind.items()}


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind in ("array_value", "kvlist_value"):
        return str(value)
    if kind == "bytes_value":
        return value.hex()
    return value


def flatten(request: trace_service_pb2.ExportTraceServiceRequest, protocol: str) -> list:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                    "status_code": trace_pb2.Status.StatusCode.Name(span.status.code),
                    "status_message": span.status.message,
                    "service": resource.get("service.name"),
                    "protocol": protocol,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                })
    return spans


class OTLPReceiver:
    """Serves OTLP on two free ports of 127.0.0.1 until `stop()`."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.spans: list = []
        self.exports = 0
        self.headers: list = []
        receiver = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):  # noqa: N802 (gRPC's name)
                receiver._received(request, "grpc", dict(context.invocation_metadata()))
                return trace_service_pb2.ExportTraceServiceResponse()

        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.grpc_server)
        self.grpc_port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_server.start()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._received(request, "http", {k.lower(): v for k, v in self.headers.items()})
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http_port = self.http_server.server_address[1]
        self.http_thread = threading.Thread(target=self.http_server.serve_forever, daemon=True)
        self.http_thread.start()

    def _received(self, request, protocol: str, headers: dict) -> None:
        if self.delay:
            time.sleep(self.delay)
        spans = flatten(request, protocol)
        with self.lock:
            self.exports += 1
            self.spans.extend(spans)
            self.headers.append(headers)

    def all(self) -> list:
        with self.lock:
            return list(self.spans)

    def where(self, **fields) -> list:
        return [s for s in self.all() if all(s.get(k) == v for k, v in fields.items())]

    def count(self) -> int:
        with self.lock:
            return self.exports

    def stop(self) -> None:
        self.grpc_server.stop(grace=0)
        self.http_server.shutdown()
        self.http_server.server_close()
