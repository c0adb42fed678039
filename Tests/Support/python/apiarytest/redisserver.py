"""Talking to a test's own redis-server on 127.0.0.1 without a client library."""

from __future__ import annotations

import socket


def command(port: int, *parts: str, timeout: float = 2.0) -> bytes:
    """Sends one command (RESP array of bulk strings); answers the raw reply (up to 64 KiB)."""
    payload = f"*{len(parts)}\r\n".encode() + b"".join(
        f"${len(p.encode())}\r\n".encode() + p.encode() + b"\r\n" for p in parts)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        return conn.recv(65536)


def ping(port: int, timeout: float = 2.0) -> bool:
    """True when the server answers PING with PONG."""
    try:
        return command(port, "PING", timeout=timeout).startswith(b"+PONG")
    except OSError:
        return False


def version(port: int) -> str:
    """redis_version from INFO server, "?" when it does not answer."""
    try:
        info = command(port, "INFO", "server").decode(errors="replace")
        for line in info.splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"
