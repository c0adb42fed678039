#!/usr/bin/env python3
"""A plain (non-gRPC) Unix stream socket server that echoes bytes back.

    python3 echo_server.py --socket PATH

Accepts any number of connections, one thread each, and writes back every
byte it reads until the peer closes its side.  Speaks no HTTP/2 and no gRPC:
it stands in for "something listening on the socket that is not a
component" in discovery tests.  Runs until SIGTERM/SIGINT, then removes its
socket file.
"""

import argparse
import os
import socket
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        connection = self.request
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                connection.sendall(chunk)
        except OSError:
            pass  # the peer went away mid-write
        finally:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EchoServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> int:
    parser = argparse.ArgumentParser(description="Unix socket echo server (not gRPC)")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    args = parser.parse_args()

    stop = fixturelib.termination_event()
    fixturelib.prepare_socket_path(args.socket)
    server = EchoServer(os.path.abspath(args.socket), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    fixturelib.log(f"echoing on unix:{args.socket}")
    try:
        fixturelib.wait_for(stop)
    finally:
        server.shutdown()
        server.server_close()
        fixturelib.remove_socket(args.socket)
        fixturelib.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
