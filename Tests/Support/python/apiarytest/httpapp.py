"""The plumbing of the small HTTP apps the suites serve for a sidecar to deliver to."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class AppHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, quiet, one send per response and no Nagle (else, with
    keep-alive, the body of a response written apart from its head waits for the
    sidecar's delayed ACK, ~40 ms a delivery). `content_type` is the Content-Type
    of every response that names none."""

    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    content_type: str | None = None

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type or self.content_type:
            self.send_header("Content-Type", content_type or self.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self) -> bytes:
        """The request body, Content-Length or chunked."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""
