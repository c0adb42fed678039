#!/usr/bin/env python3
"""Many Unix sockets that accept connections and then never say anything.

    python3 silent_servers.py --dir DIR --count N [--prefix silent-]

Binds DIR/silent-000.sock, DIR/silent-001.sock, ... (N of them), accepts
every connection and keeps it open without ever writing to it, reading from
it or closing it, so a client waiting for a reply (an HTTP/2 SETTINGS frame,
a reflection answer) waits until its own deadline.  Used to check that
discovery gives up on unresponsive sockets in time and in parallel.

Prints "ready" on stdout once every socket is listening.  Runs until
SIGTERM/SIGINT, then closes everything and removes the socket files.
"""

import argparse
import os
import selectors
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="Unix sockets that accept and stay silent")
    parser.add_argument("--dir", required=True, help="folder for the socket files")
    parser.add_argument("--count", type=int, required=True, help="how many sockets")
    parser.add_argument("--prefix", default="silent-", help="file name prefix (default: silent-)")
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must not be negative")

    stop = fixturelib.termination_event()
    os.makedirs(args.dir, exist_ok=True)
    selector = selectors.DefaultSelector()
    listeners = []
    paths = []
    accepted = []  # kept referenced so they are never closed
    try:
        for index in range(args.count):
            path = os.path.join(args.dir, f"{args.prefix}{index:03d}.sock")
            fixturelib.prepare_socket_path(path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(128)
            listener.setblocking(False)
            selector.register(listener, selectors.EVENT_READ)
            listeners.append(listener)
            paths.append(path)
        print("ready", flush=True)
        fixturelib.log(f"{args.count} silent sockets in {args.dir}")

        while not stop.is_set():
            for key, _events in selector.select(timeout=0.2):
                try:
                    connection, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                accepted.append(connection)
    finally:
        for connection in accepted:
            connection.close()
        for listener in listeners:
            selector.unregister(listener)
            listener.close()
        for path in paths:
            fixturelib.remove_socket(path)
        fixturelib.log(f"stopped ({len(accepted)} connections held)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
