#!/usr/bin/env python3
"""The demo's application: prints what the sidecar delivers to it.

Usage: python3 Scripts/demo-app.py --port P

Subscribes (GET /dapr/subscribe) to topic `orders` of pub/sub `pubsub`, delivered to
POST /orders; the ticker's input binding `ticks` arrives as POST /ticks. Every
delivery is printed as one line and answered 200 SUCCESS. Standard library only.
"""

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUBSCRIPTIONS = [{"pubsubname": "pubsub", "topic": "orders", "route": "/orders"}]


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out as two writes; without this, Nagle holds the body back
    # until the sidecar acknowledges the headers (a delayed ACK, ~40 ms per delivery).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/dapr/subscribe":
            self.answer(200, SUBSCRIPTIONS)
        else:
            self.answer(404)

    def do_OPTIONS(self):
        self.answer(200)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if self.path.startswith("/orders") and isinstance(body, dict):
            print(f"app: message on topic orders: {json.dumps(body.get('data'))}", flush=True)
        elif self.path.startswith("/ticks") and isinstance(body, dict):
            print(f"app: tick {body.get('tick')} from the ticker: {body.get('message')!r}", flush=True)
        else:
            print(f"app: POST {self.path}: {raw[:200].decode('utf-8', 'replace')}", flush=True)
        self.answer(200, {"status": "SUCCESS"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
