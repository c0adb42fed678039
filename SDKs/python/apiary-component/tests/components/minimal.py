#!/usr/bin/env python3
"""The smallest state store: README.md's first example, served as the test suite
runs it (no transact/query, so only dapr.proto.components.v1.StateStore; the
default bulk calls; the socket from the environment unless --socket is given).

    python3 minimal.py [--socket PATH]
"""

import argparse
import threading

from apiary_component import StateStore, serve
from apiary_component.proto import state_pb2


class MemoryStore(StateStore):
    def init(self, metadata):
        self.lock = threading.Lock()
        self.values = {}

    def get(self, request):
        if request.key == "boom":
            raise RuntimeError("cannot read boom")
        with self.lock:
            value = self.values.get(request.key)
        return None if value is None else state_pb2.GetResponse(data=value)

    def set(self, request):
        with self.lock:
            self.values[request.key] = request.value

    def delete(self, request):
        with self.lock:
            self.values.pop(request.key, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default=None)
    serve("minimal", MemoryStore, socket_path=parser.parse_args().socket)
