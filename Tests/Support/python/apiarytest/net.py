"""Ports, sockets and plain HTTP calls on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import stat
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def socket_answers(path: str) -> bool:
    """True when something listens on the Unix socket `path` (a stale file refuses)."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except OSError:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 10.0):
    """(status, headers, body bytes); HTTP errors are answers too. A dict or list body
    goes as JSON (Content-Type application/json unless `headers` say otherwise), a str
    as UTF-8, bytes as they are."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        body = body.encode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers or {}), error.read()


def http_get(port: int, path: str, timeout: float = 3.0):
    """(status, body) of a plain GET on 127.0.0.1:`port`; (None, error text) when
    nothing answers."""
    try:
        status, _, body = http("GET", f"http://127.0.0.1:{port}{path}", timeout=timeout)
        return status, body
    except (OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


def http_json(port: int, path: str, timeout: float = 5.0):
    """(status, parsed JSON body or None) of a GET on 127.0.0.1:`port`; (None, None)
    when nothing answers or the body is not JSON."""
    status, body = http_get(port, path, timeout)
    if status is None:
        return None, None
    if status >= 400:
        return status, None
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return None, None
