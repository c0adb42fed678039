"""What every building block shares: the base class authors subclass, and the
plumbing that turns its methods into gRPC handlers (instance lookup, error
mapping, logging of refused calls, streams that end when the server stops)."""

from __future__ import annotations

import functools
import logging
import threading

import grpc
from google.protobuf import message_factory

from .errors import ComponentError, abort, bounded, describe
from .instances import InstanceRegistry, _CallScope, instance_name
from .logs import log
from .proto import common_pb2

__all__ = ["Component", "AckStream"]


class Component:
    """The base of every building block class.

    The SDK makes one object per configured instance (gRPC header
    ``x-component-instance``) on that instance's ``Init``, sets :attr:`name`,
    then calls :meth:`init`.  Methods may be called from several threads at
    once (one per concurrent call): guard shared state with a lock.

    Class attributes an author may set:

    - ``logger``: where the SDK logs refused calls (``Get refused: ...``) and
      failures, with fields ``instance`` and ``code``.
    """

    #: Where the SDK logs this block's refused and failed calls.
    logger: logging.Logger = logging.getLogger("apiary_component")

    #: The configured component's name (the x-component-instance header; "" without one).
    name: str = ""

    def init(self, metadata: dict[str, str]) -> None:
        """Prepares the instance with its component metadata (``spec.metadata``
        of the component YAML, secrets resolved).  Raise to refuse it, e.g.
        ``InvalidArgument`` for metadata that does not parse."""

    def ping(self) -> None:
        """Answers the sidecar's heartbeat; raise (e.g. ``Unavailable``) when the
        backend is unreachable, and the sidecar marks the component DOWN."""

    def close(self) -> None:
        """Called once for each live instance when the server stops, after
        every stream has ended."""

    @classmethod
    def translate_error(cls, error: Exception) -> ComponentError | None:
        """Maps an exception the author's code let through (e.g. a database
        driver's) to a ComponentError; None leaves it an INTERNAL error."""
        return None


def _aborted(context) -> bool:
    """True when the call was already aborted by ``context.abort`` (which raises
    a bare Exception that must pass through untouched)."""
    state = getattr(context, "_state", None)
    return bool(getattr(state, "aborted", False))


class StreamTracker:
    """The server's open streams, so that stopping can end them and wait."""

    def __init__(self):
        self._cond = threading.Condition()
        self._streams: set = set()
        self._count = 0
        self.stopping = threading.Event()

    def enter(self) -> None:
        """A streaming handler started."""
        with self._cond:
            self._count += 1

    def leave(self) -> None:
        """A streaming handler finished."""
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def track(self, stream: "AckStream") -> None:
        """`stream` is ended by end_all() (at once when already stopping)."""
        with self._cond:
            self._streams.add(stream)
        if self.stopping.is_set():
            stream.end()

    def untrack(self, stream: "AckStream") -> None:
        with self._cond:
            self._streams.discard(stream)

    def end_all(self) -> None:
        with self._cond:
            streams = list(self._streams)
        for stream in streams:
            stream.end()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no streaming handler runs; False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)

    @property
    def count(self) -> int:
        with self._cond:
            return self._count


class AckStream:
    """One bidirectional stream the author produces messages on while the
    sidecar acknowledges them (``PullMessages``, ``Read``).

    - :attr:`active` is False once the sidecar cancelled the call, stopped
      sending (half-close), or the server is stopping: return from your
      generator then (check it between backend reads).
    - :meth:`wait` sleeps until the stream ends or `timeout` passes, for
      generators that idle.
    - :meth:`on_ack` registers the callback that receives each acknowledgement;
      it runs on the SDK's reader thread, concurrently with your generator.
    """

    def __init__(self, context, instance_name: str):
        self.context = context
        self.instance = instance_name
        self.ended = threading.Event()
        self._callback = None

    @property
    def active(self) -> bool:
        return not self.ended.is_set() and self.context.is_active()

    def wait(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds; True when the stream has ended."""
        self.ended.wait(timeout)
        return not self.active

    def on_ack(self, callback) -> None:
        self._callback = callback

    def end(self) -> None:
        self.ended.set()

    def _deliver_ack(self, logger, what: str, message_id: str, values: tuple, **fields) -> None:
        """Hands one acknowledgement to the on_ack callback, as callback(message_id,
        *values). One without a message id is skipped; without a callback it is logged
        (DEBUG, "`what` `message_id` ignored") and dropped."""
        if not message_id:
            return
        callback = self._callback
        if callback is None:
            log(logger, logging.DEBUG, f"{what} {message_id} ignored: no on_ack callback",
                instance=self.instance, **fields)
            return
        callback(message_id, *values)


class Block:
    """One registered building block: the author's class, its instances, and
    the helpers that wrap its methods as gRPC handlers."""

    def __init__(self, cls: type, factory, kind: str, streams: StreamTracker):
        self.cls = cls
        self.kind = kind
        self.registry = InstanceRegistry(factory, kind)
        self.streams = streams

    @property
    def logger(self) -> logging.Logger:
        return self.cls.logger

    def init(self, context, setup) -> None:
        """Runs an Init: a new instance, set up by `setup(instance)`."""
        instance = self.registry.initialise(context, setup)
        log(self.logger, logging.DEBUG, f"{self.kind} instance initialised", instance=instance.name)

    # -- the bodies every metadata-configured block shares

    def lifecycle_bodies(self, init_response: type, with_features: bool = False) -> dict:
        """The bodies of Init (a new instance set up with ``init(properties)``, the
        request's metadata properties as a dict; answers an empty `init_response`) and
        Ping (the instance's ``ping()``), and with `with_features` of Features (the
        instance's ``features()``), by method name."""
        registry = self.registry

        def init(request, context):
            properties = dict(request.metadata.properties)
            self.init(context, lambda instance: instance.init(properties))
            return init_response()

        def ping(request, context):
            registry.get(context).ping()
            return common_pb2.PingResponse()

        def features(request, context):
            return common_pb2.FeaturesResponse(features=list(registry.get(context).features()))

        bodies = {"Init": init, "Ping": ping}
        if with_features:
            bodies["Features"] = features
        return bodies

    # -- errors

    def fail(self, method: str, context, error: BaseException):
        """Logs `error` and ends the call with its status (raises)."""
        if _aborted(context):
            raise error
        refusal = error if isinstance(error, ComponentError) else None
        if refusal is None:
            try:
                refusal = self.cls.translate_error(error)
            except Exception:  # a broken translator must not hide the error
                refusal = None
        name = instance_name(context)
        if refusal is None:
            message = bounded(describe(error))
            if self.logger.isEnabledFor(logging.ERROR):
                self.logger.error(f"{method} failed: {message}", exc_info=error,
                                  extra={"fields": {"instance": name, "code": "INTERNAL"}})
            refusal = ComponentError(message)
        else:
            fields = {"instance": name, **{k: str(v) for k, v in refusal.fields.items()},
                      "code": refusal.code.name}
            if self.logger.isEnabledFor(refusal.log_level):
                self.logger.log(refusal.log_level, f"{method} refused: {bounded(refusal.message)}",
                                extra={"fields": fields})
        abort(context, refusal)

    # -- handler wrappers

    def unary(self, method: str, body):
        """A unary handler: `body(request, context)` with errors mapped."""

        @functools.wraps(body)
        def handler(request, context):
            with _CallScope(context):
                try:
                    return body(request, context)
                except Exception as error:
                    self.fail(method, context, error)

        return handler

    def streaming(self, method: str, body):
        """A server-streaming handler: `body(request_or_iterator, context)` is a
        generator; its errors are mapped too, and it counts as an open stream."""

        def handler(request, context):
            self.streams.enter()
            try:
                with _CallScope(context):
                    try:
                        yield from body(request, context)
                    except Exception as error:
                        self.fail(method, context, error)
            finally:
                self.streams.leave()

        return handler


def unimplemented(message: str):
    """A handler that answers UNIMPLEMENTED `message` to every call, whatever
    its instance (for optional methods the author's class does not define)."""

    def handler(request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    return handler


def generic_handler(service, bodies: dict) -> grpc.GenericRpcHandler:
    """A handler for every method of the service descriptor `service`; `bodies`
    maps method names to the wrapped handlers (each method must have one)."""
    handlers = {}
    for method in service.methods:
        body = bodies[method.name]
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        options = dict(request_deserializer=request.FromString,
                       response_serializer=response.SerializeToString)
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(body, **options)
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(body, **options)
        elif method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(body, **options)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(body, **options)
    missing = set(bodies) - set(handlers)
    if missing:
        raise ValueError(f"{service.full_name} has no methods {sorted(missing)}")
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def overrides(cls: type, base: type, method: str) -> bool:
    """True when `cls` defines `method` itself rather than inheriting `base`'s."""
    return getattr(cls, method, None) is not getattr(base, method, None)


def run_ack_reader(stream: AckStream, requests, handle, logger, what: str) -> threading.Thread:
    """Reads the sidecar's acknowledgements on a thread of its own: `handle(request)`
    for each; the stream ends when the sidecar stops sending or the call ends."""

    def read():
        try:
            for request in requests:
                try:
                    handle(request)
                except Exception as error:  # the author's callback; keep reading
                    logger.error(f"{what}: acknowledgement handler failed: {describe(error)}",
                                 exc_info=error, extra={"fields": {"instance": stream.instance}})
        except Exception as error:  # the call was cancelled or broke
            log(logger, logging.DEBUG, f"{what}: acknowledgement stream ended: {describe(error)}",
                instance=stream.instance)
        finally:
            stream.end()

    thread = threading.Thread(target=read, name=f"acks-{what}", daemon=True)
    thread.start()
    return thread
