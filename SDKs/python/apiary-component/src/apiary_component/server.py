"""Serving building blocks on one Unix socket.

::

    from apiary_component import serve
    serve("my-store", MyStore)            # until SIGTERM/SIGINT, then exit 0

Besides the building blocks it is given, every server offers what the sidecar
relies on: server reflection v1 and v1alpha listing every service,
``grpc.health.v1.Health`` (SERVING for "" and each service; NOT_SERVING once
stopping) and ``apiary.proto.components.v1.ComponentLogs/Tail``.

Before listening it creates the socket's folder (mode 0700) when missing,
removes a stale socket file (one nobody listens on) and refuses a live socket
or anything that is not a socket.  :meth:`Server.run` stops gracefully on
SIGTERM or SIGINT: health turns NOT_SERVING, new calls are refused, open
streams (PullMessages, Read, Tail) end, instances are closed, the socket file is
removed, and it returns 0.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import bindings, hello, pubsub, reflection, secrets, state
from .component import Block, StreamTracker, generic_handler
from .errors import describe
from .logs import NOTICE, LogStore, log, tail_handler
from .proto import logs_pb2
from .sockets import SocketPathError, prepare_socket, socket_path as resolve_socket_path

__all__ = ["Server", "serve", "HEALTH_SERVICE_NAME", "LOGS_SERVICE_NAME"]

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
LOGS_SERVICE_NAME = logs_pb2.DESCRIPTOR.services_by_name["ComponentLogs"].full_name

# (base class, kind, builder), in the order services are listed.
_BLOCKS = (
    (state.StateStore, "state store", state.build),
    (pubsub.PubSub, "pub/sub", pubsub.build),
    (bindings.InputBinding, "input binding", bindings.build_input),
    (bindings.OutputBinding, "output binding", bindings.build_output),
    (secrets.SecretStore, "secret store", secrets.build),
    (hello.Hello, "hello", hello.build),
)


class HealthService(health.HealthServicer):
    """grpcio-health-checking's servicer, in its blocking mode (each Watch holds
    a thread, like every other stream here), plus :meth:`finish_watchers`, so
    that a graceful stop is not held open by the sidecar's Watch streams."""

    def __init__(self):
        super().__init__(experimental_non_blocking=False)

    def finish_watchers(self) -> None:
        """Ends every open Watch (after the status it was last sent)."""
        # grpcio-health-checking 1.85.1 keeps each Watch's callback in
        # _send_response_callbacks; calling one with None ends that Watch.  The
        # test suite checks that a Watch ends when the server stops.
        with self._lock:
            callbacks = [callback for registered in self._send_response_callbacks.values()
                         for callback in registered]
        for callback in callbacks:
            callback(None)


def _class_and_factory(item):
    """(class, zero-argument factory) of a class or a functools.partial of one."""
    if isinstance(item, type):
        return item, item
    if isinstance(item, functools.partial) and isinstance(item.func, type):
        return item.func, item
    raise TypeError(f"{item!r} is neither a building-block class nor a functools.partial of one")


class Server:
    """A component server on one Unix socket.

    - `name`: the component's name; the socket is ``<sockets folder>/<name>.sock``
      unless `socket_path` is given (see :mod:`apiary_component.sockets`).
    - `components`: building-block classes (subclasses of StateStore, PubSub,
      InputBinding, OutputBinding, SecretStore, Hello), or
      ``functools.partial(Class, arg=...)`` to pass constructor arguments.
      Each is instantiated once per configured instance, on its Init.
    - `log_store`: the records Tail streams (see ``install_logging``); an empty
      store when not given.
    - `logger`: where the server logs its own start and stop.
    - `max_workers`: gRPC threads; every open stream (PullMessages, Read, Tail,
      health Watch) holds one, so keep it well above the number of streams.
    """

    def __init__(self, name: str, components, *, socket_path: str | None = None,
                 max_workers: int = 64, log_store: LogStore | None = None,
                 logger: logging.Logger | None = None, options=(),
                 stop_timeout: float = 3.0):
        self.name = name
        self.socket_path = resolve_socket_path(name, socket_path)
        self.log_store = log_store if log_store is not None else LogStore()
        self.logger = logger or logging.getLogger("apiary_component")
        self.stop_timeout = stop_timeout
        self.streams = StreamTracker()
        self.blocks: list[Block] = []
        self.stop_signal: int | None = None
        self._started = False
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopping = False
        self._inode = None

        handlers, names = [], []
        for item in components:
            cls, factory = _class_and_factory(item)
            matched = False
            for base, kind, build in _BLOCKS:
                if issubclass(cls, base):
                    matched = True
                    block = Block(cls, factory, kind, self.streams)
                    self.blocks.append(block)
                    for service_name, handler in build(block):
                        if service_name in names:
                            raise ValueError(f"{service_name} is served twice "
                                             f"(second time by {cls.__name__})")
                        names.append(service_name)
                        handlers.append(handler)
            if not matched:
                raise TypeError(f"{cls.__name__} subclasses no building block (StateStore, PubSub, "
                                "InputBinding, OutputBinding, SecretStore, Hello)")
        infrastructure = [reflection.V1_SERVICE_NAME, reflection.V1ALPHA_SERVICE_NAME,
                          HEALTH_SERVICE_NAME, LOGS_SERVICE_NAME]
        #: Every service served, as reflection lists them.
        self.service_names = names + infrastructure
        #: The grpc.health.v1 servicer; ``health.set(service, status)`` reports trouble.
        self.health = HealthService()
        for service_name in [""] + self.service_names:
            self.health.set(service_name, health_pb2.HealthCheckResponse.SERVING)

        tail = tail_handler(self.log_store, self.streams.stopping)

        def counted_tail(request, context):
            self.streams.enter()
            try:
                yield from tail(request, context)
            finally:
                self.streams.leave()

        logs_service = logs_pb2.DESCRIPTOR.services_by_name["ComponentLogs"]
        handlers.append(generic_handler(logs_service, {"Tail": counted_tail}))
        handlers.extend(reflection.handlers(self.service_names))
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers,
                                       thread_name_prefix=f"{name}-grpc"),
            handlers=handlers, options=list(options))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)

    # -- life cycle

    def start(self) -> None:
        """Prepares the socket and starts serving.  Raises SocketPathError when
        the path cannot be served."""
        if self._started:
            return
        if prepare_socket(self.socket_path):
            log(self.logger, logging.INFO, f"removed the stale socket {self.socket_path}",
                socket=self.socket_path)
        try:
            bound = self._server.add_insecure_port(f"unix:{self.socket_path}")
        except RuntimeError as error:
            raise SocketPathError(f"cannot listen on {self.socket_path}: {error}") from None
        if bound == 0:  # some grpcio versions answer 0 instead of raising
            raise SocketPathError(f"cannot listen on {self.socket_path}")
        self._server.start()
        self._started = True
        try:
            self._inode = os.stat(self.socket_path).st_ino
        except FileNotFoundError:
            self._inode = None
        log(self.logger, NOTICE, f"serving {', '.join(self.service_names)} on "
            f"unix:{self.socket_path}", socket=self.socket_path)

    def stop(self, timeout: float | None = None) -> None:
        """Stops gracefully (see the module doc); waits at most about `timeout`
        seconds (default `stop_timeout`) for open streams to end."""
        with self._stop_lock:
            if self._stopping:
                already = True
            else:
                already, self._stopping = False, True
        if already:
            self._stopped.wait()
            return
        timeout = self.stop_timeout if timeout is None else timeout
        try:
            self.streams.stopping.set()
            self.health.enter_graceful_shutdown()
            self.health.finish_watchers()
            self.log_store.finish_all()
            self.streams.end_all()
            finished = self._server.stop(grace=max(timeout, 0.1))
            if not self.streams.wait_idle(timeout):
                self.logger.warning(f"{self.streams.count} streams did not end within {timeout} s "
                                    "of the stop (a generator that does not check `active`?)")
            finished.wait()
            for block in self.blocks:
                for instance in block.registry.all():
                    try:
                        instance.close()
                    except Exception as error:
                        block.logger.error(f"closing instance {instance.name!r} failed: "
                                           f"{describe(error)}", exc_info=error)
            self._remove_socket()
        finally:
            self._stopped.set()

    def _remove_socket(self) -> None:
        """Removes the socket file if it is still the one this server made."""
        try:
            if self._inode is not None and os.stat(self.socket_path).st_ino == self._inode:
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until the server has stopped; False after `timeout` seconds."""
        return self._stopped.wait(timeout)

    def run(self, ready=None) -> int:
        """Serves until SIGTERM or SIGINT, then stops gracefully; answers 0.

        Signal handlers are installed before the socket appears, so a signal is
        never missed; `ready(server)` runs once the server listens.  Must be
        called from the main thread.  Raises SocketPathError when the socket
        cannot be served."""
        received = threading.Event()

        def on_signal(signum, _frame):
            if self.stop_signal is None:
                self.stop_signal = signum
            received.set()

        previous = {signum: signal.signal(signum, on_signal)
                    for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if ready is not None:
                ready(self)
            while not received.wait(0.5):
                pass
            log(self.logger, NOTICE, f"stopping on {signal.Signals(self.stop_signal).name}",
                socket=self.socket_path)
            self.stop()
        finally:
            if not self._stopped.is_set() and self._started:
                self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0


def serve(name: str, *components, **options) -> None:
    """``Server(name, components, **options).run()``, then exits the process:
    0 after a graceful stop, 1 (with the reason on stderr) when the socket
    cannot be served.

    When a stream's generator is still running after the stop (one that never
    checks ``active``), the process exits at once anyway (``os._exit``, after
    flushing logs and standard streams): its gRPC worker thread would otherwise
    keep the interpreter from ever finishing."""
    server = Server(name, components, **options)
    try:
        code = server.run()
    except SocketPathError as error:
        print(f"{name}: {error}", file=sys.stderr, flush=True)
        code = 1
    if server.streams.count:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
