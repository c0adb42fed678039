#!/usr/bin/env python3
"""An HTTP application that the sidecar delivers pub/sub and binding events to.

Usage: python3 http_app.py --port P --events FILE

Listens on 127.0.0.1:P (P = 0 picks a free port) and prints `listening on P`
(the real port) on stdout once ready.  GET /dapr/subscribe answers the
programmatic subscription list; every POST is answered as below and recorded
as one JSON line appended to FILE (flushed per line):

  {"path", "query", "content_type", "headers", "body", "id", "status", "http_status"}

`body` is the request body as text (UTF-8, undecodable bytes replaced), `id` the
CloudEvent id when the body is a JSON object with an "id" (else null), `status`
what the app answered: the `status` of its JSON answer ("RETRY"/"SUCCESS") or,
for an answer without a body, the HTTP status as a string ("200", "404");
`http_status` the HTTP status as a number.

Answers to POST:
  /orders        first time a CloudEvent id is seen: 200 {"status":"RETRY"};
                 any later time: 200 {"status":"SUCCESS"}
  /programmatic  200, empty body
  /events        200, empty body (input binding deliveries)
  /dropme        404, empty body
  anything else  200 {"status":"SUCCESS"}, every time (e.g. /steady, the route
                 of the lifecycle test's subscription, which must always
                 succeed while lifecycle_load.py publishes)

Per-request logging only with APIARY_FIXTURE_VERBOSE=1.  Exits 0 on SIGTERM
or SIGINT.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Support", "python"))
from apiarytest import apps  # noqa: E402

VERBOSE = os.environ.get("APIARY_FIXTURE_VERBOSE") == "1"

SUBSCRIPTIONS = [{"pubsubname": "pubsub", "topic": "programmatic", "route": "/programmatic"}]


class EventLog(apps.EventLog):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._seen_order_ids: set = set()

    def first_time(self, event_id) -> bool:
        """True the first time `event_id` is seen on /orders."""
        with self._lock:
            if event_id in self._seen_order_ids:
                return False
            self._seen_order_ids.add(event_id)
            return True


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out as two writes; without this, Nagle holds the body back
    # until the sidecar acknowledges the headers (a delayed ACK, ~40 ms per delivery).
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"
    server_version = "apiary-e2e-http-app"
    events: EventLog  # set on the class before serving

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        if VERBOSE:
            sys.stderr.write("http_app: " + (format % args) + "\n")

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after the chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/dapr/subscribe":
            self._send(200, json.dumps(SUBSCRIPTIONS).encode(), "application/json")
        elif path == "/healthz":
            self._send(200)
        else:
            self._send(404)

    def do_POST(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        path = parts.path
        raw = self._read_body()
        text = raw.decode("utf-8", errors="replace")
        event_id = None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "id" in parsed:
            event_id = parsed["id"]

        if path == "/orders":
            answer = "RETRY" if self.events.first_time(event_id) else "SUCCESS"
            status, body, recorded = 200, json.dumps({"status": answer}).encode(), answer
        elif path in ("/programmatic", "/events"):
            status, body, recorded = 200, b"", "200"
        elif path == "/dropme":
            status, body, recorded = 404, b"", "404"
        else:
            status, body, recorded = 200, json.dumps({"status": "SUCCESS"}).encode(), "SUCCESS"

        self.events.record(
            {
                "path": path,
                "query": parts.query,
                "content_type": self.headers.get("Content-Type"),
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": text,
                "id": event_id,
                "status": recorded,
                "http_status": status,
            }
        )
        self._send(status, body, "application/json" if body else None)

    def do_PUT(self) -> None:  # noqa: N802
        self._read_body()
        self._send(404)

    do_DELETE = do_PUT

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._send(200)


def main() -> int:
    args = apps.arguments(__doc__)
    events = EventLog(args.events)
    Handler.events = events
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def start() -> int:
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http-app",
                                   daemon=True)
        serving.start()
        return server.server_address[1]

    def stop() -> None:
        server.shutdown()
        server.server_close()

    status = apps.serve_until_signalled(start, stop)
    events.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
