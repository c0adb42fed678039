"""Python ``logging`` records streamed to the sidecar by ComponentLogs/Tail.

``apiary.proto.components.v1.ComponentLogs/Tail(TailLogsRequest{min_level})``
streams ``LogRecord``s at or above ``min_level`` until the call ends.  The
pieces:

- :class:`LogStore` keeps records while no sidecar tails (a bounded ring, the
  oldest give way) and hands them to each ``Tail``: first the waiting records
  at or above its level (they then leave the ring, so a sidecar that reconnects
  does not see them twice), then every new record it wants.  Each open Tail
  has its own bounded queue too, so a slow reader loses its oldest records
  rather than holding memory.  Records no open Tail wants stay in the ring.
- :class:`ComponentLogHandler` is the ``logging.Handler`` that feeds a store.
  The level of the loggers it is attached to follows the sidecar: the lowest
  level any open Tail asks for, else the store's ``default_level`` (INFO), and
  never above its ``echo`` handler's level.  So DEBUG records cost nothing
  unless someone (the sidecar or the echo) wants them.

Levels: Python has no TRACE or NOTICE; this module registers ``TRACE = 5`` and
``NOTICE = 25``.  Python levels map to the wire's LogLevel by range
(``>= CRITICAL`` → CRITICAL, ``>= ERROR`` → ERROR, ``>= WARNING`` → WARNING,
``>= 25`` → NOTICE, ``>= INFO`` → INFO, ``>= DEBUG`` → DEBUG, below → TRACE).

Structured fields: pass ``extra={"fields": {"key": "value"}}`` to a logging
call (or use :func:`log`); they arrive as ``LogRecord.fields``.
"""

from __future__ import annotations

import collections
import logging
import threading

from google.protobuf import timestamp_pb2

from .proto import logs_pb2

__all__ = ["TRACE", "NOTICE", "wire_level", "python_level", "parse_level", "LogStore", "Tailer",
           "ComponentLogHandler", "FieldsFormatter", "install_logging", "log"]

TRACE = 5
NOTICE = 25
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(NOTICE, "NOTICE")

# Wire LogLevel value -> Python level (index = wire value).
_PYTHON_LEVELS = (TRACE, logging.DEBUG, logging.INFO, NOTICE, logging.WARNING, logging.ERROR,
                  logging.CRITICAL)


def wire_level(levelno: int) -> int:
    """The wire LogLevel of a Python level (a level between two takes the lower)."""
    for value in range(len(_PYTHON_LEVELS) - 1, 0, -1):
        if levelno >= _PYTHON_LEVELS[value]:
            return value
    return logs_pb2.LOG_LEVEL_TRACE


def python_level(level: int) -> int:
    """The Python level of a wire LogLevel; values past CRITICAL count as CRITICAL."""
    if level < 0:
        return TRACE
    return _PYTHON_LEVELS[min(level, len(_PYTHON_LEVELS) - 1)]


_NAMED_LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "notice": NOTICE,
                 "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
                 "critical": logging.CRITICAL, "off": logging.CRITICAL + 1}


def parse_level(name: str) -> int:
    """The Python level of a level name: trace, debug, info, notice, warning
    (warn), error, critical, or off (nothing).  Raises ValueError."""
    try:
        return _NAMED_LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown level {name!r}; one of {', '.join(_NAMED_LEVELS)}") from None


def log(logger: logging.Logger, level: int, message: str, **fields) -> None:
    """``logger.log(level, message)`` with `fields` (None values left out, the
    rest turned into strings) as the record's structured fields."""
    if logger.isEnabledFor(level):
        values = {name: str(value) for name, value in fields.items() if value is not None}
        logger.log(level, message, extra={"fields": values})


class Tailer:
    """One open Tail: its minimum level and its bounded queue."""

    def __init__(self, store: "LogStore", minimum: int, capacity: int):
        self._store = store
        self.minimum = minimum
        self.queue: collections.deque = collections.deque(maxlen=capacity)
        self.dropped = 0
        self.closed = False

    def _offer(self, record) -> None:  # under the store's lock
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(record)

    def take(self, timeout: float):
        """What is queued (waiting up to `timeout` seconds while nothing is):
        a list, possibly empty, or None once the tail is closed and drained."""
        with self._store._cond:
            if not self.queue and not self.closed:
                self._store._cond.wait(timeout)
            if self.queue:
                batch = list(self.queue)
                self.queue.clear()
                return batch
            return None if self.closed else []

    def close(self) -> None:
        self._store._close(self)


class LogStore:
    """Where a component's log records wait for the sidecar (see the module doc)."""

    def __init__(self, capacity: int = 1000, default_level: int = logging.INFO):
        self.capacity = max(1, int(capacity))
        self._default_level = default_level
        self._cond = threading.Condition()
        self._ring: collections.deque = collections.deque(maxlen=self.capacity)
        self._tailers: list[Tailer] = []
        self._listeners: list = []
        self.dropped = 0
        self._finished = False

    @property
    def minimum_level(self) -> int:
        """The Python level below which records are not worth making now."""
        with self._cond:
            return self._minimum()

    def _minimum(self) -> int:
        if self._tailers:
            return min(tailer.minimum for tailer in self._tailers)
        return self._default_level

    @property
    def default_level(self) -> int:
        return self._default_level

    @default_level.setter
    def default_level(self, level: int) -> None:
        with self._cond:
            self._default_level = level
        self._changed()

    def add_listener(self, callback) -> None:
        """`callback(minimum_level)` runs whenever the minimum level may have changed."""
        with self._cond:
            self._listeners.append(callback)
        callback(self.minimum_level)

    def _changed(self) -> None:
        level = self.minimum_level
        with self._cond:
            listeners = list(self._listeners)
        for callback in listeners:
            callback(level)

    def append(self, record, levelno: int) -> None:
        """Hands `record` (a LogRecord message) to every Tail that wants
        `levelno`, or keeps it in the ring when none does."""
        with self._cond:
            delivered = False
            for tailer in self._tailers:
                if levelno >= tailer.minimum:
                    tailer._offer(record)
                    delivered = True
            if delivered:
                self._cond.notify_all()
                return
            if len(self._ring) == self._ring.maxlen:
                self.dropped += 1
            self._ring.append((levelno, record))

    def pending(self) -> list:
        """The records waiting in the ring, oldest first."""
        with self._cond:
            return [record for _level, record in self._ring]

    def open(self, minimum: int) -> Tailer:
        """Opens a Tail for records at or above the Python level `minimum`: the
        waiting ones it wants first.  A store that has finished gives a closed tail."""
        with self._cond:
            tailer = Tailer(self, minimum, self.capacity)
            if self._finished:
                tailer.closed = True
                return tailer
            kept = collections.deque(maxlen=self.capacity)
            for levelno, record in self._ring:
                if levelno >= minimum:
                    tailer._offer(record)
                else:
                    kept.append((levelno, record))
            self._ring = kept
            self._tailers.append(tailer)
        self._changed()
        return tailer

    def _close(self, tailer: Tailer) -> None:
        with self._cond:
            tailer.closed = True
            present = tailer in self._tailers
            if present:
                self._tailers.remove(tailer)
            self._cond.notify_all()
        if present:
            self._changed()

    def finish_all(self) -> None:
        """Ends every open Tail (after what it has queued) and refuses new ones:
        the server does this when it stops."""
        with self._cond:
            self._finished = True
            for tailer in self._tailers:
                tailer.closed = True
            self._tailers.clear()
            self._cond.notify_all()
        self._changed()


class ComponentLogHandler(logging.Handler):
    """A ``logging.Handler`` that turns records into LogRecords for `store`.

    `echo`, when given, also gets every record at or above its own level (e.g.
    a ``logging.StreamHandler()`` at the level of a ``--log-level`` option).
    Pass it here rather than adding it to the logger yourself: the level of
    the loggers given to :meth:`attach` is then kept at
    ``min(store.minimum_level, echo.level)``, so the sidecar's requests and the
    echo are both served and nothing below them is made.
    """

    def __init__(self, store: LogStore, echo: logging.Handler | None = None):
        super().__init__(level=logging.NOTSET)
        self.store = store
        self.echo = echo
        self._loggers: list[logging.Logger] = []
        self._loggers_lock = threading.Lock()
        store.add_listener(self._follow)

    def attach(self, *loggers, propagate: bool = False) -> "ComponentLogHandler":
        """Adds this handler to `loggers` (Logger objects or names; the root
        logger when none is given), makes their level follow the store, and
        sets their ``propagate`` (False by default, so records are not printed
        twice by the root logger's handlers)."""
        resolved = [logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
                    for logger in (loggers or ("",))]
        for logger in resolved:
            if self not in logger.handlers:
                logger.addHandler(self)
            if logger.name != "root":
                logger.propagate = propagate
        with self._loggers_lock:
            self._loggers.extend(resolved)
        self._follow(self.store.minimum_level)
        return self

    def _follow(self, minimum: int) -> None:
        level = minimum
        if self.echo is not None:
            level = min(level, max(self.echo.level, 1))
        with self._loggers_lock:
            loggers = list(self._loggers)
        for logger in loggers:
            logger.setLevel(level)

    def emit(self, record: logging.LogRecord) -> None:
        if self.echo is not None and record.levelno >= self.echo.level:
            self.echo.handle(record)
        if record.levelno < self.store.minimum_level:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            stamp = timestamp_pb2.Timestamp()
            nanos = int(record.created * 1e9)
            stamp.seconds, stamp.nanos = divmod(nanos, 1_000_000_000)
            fields = getattr(record, "fields", None) or {}
            proto = logs_pb2.LogRecord(time=stamp, level=wire_level(record.levelno),
                                       message=message, logger=record.name,
                                       fields={str(k): str(v) for k, v in fields.items()})
        except Exception:
            self.handleError(record)
            return
        self.store.append(proto, record.levelno)


class FieldsFormatter(logging.Formatter):
    """A Formatter that appends a record's fields as ``name=value``."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        text = super().formatMessage(record)
        fields = getattr(record, "fields", None) or {}
        if fields:
            text += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        return text


def install_logging(*loggers, echo_level: int = logging.INFO, capacity: int = 1000,
                    stream=None) -> LogStore:
    """The usual set-up in one call: a LogStore of `capacity` records, fed by a
    ComponentLogHandler attached to `loggers` (names or Loggers; the root
    logger when none is given), which also prints records at `echo_level` or
    above to `stream` (default stderr; ``echo_level=parse_level("off")``
    prints nothing).  Pass the store to ``Server(log_store=...)``."""
    store = LogStore(capacity)
    echo = logging.StreamHandler(stream)
    echo.setLevel(echo_level)
    echo.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    ComponentLogHandler(store, echo=echo).attach(*loggers)
    return store


def tail_handler(store: LogStore, stopping: threading.Event):
    """The ComponentLogs/Tail method body over `store`."""

    def tail(request, context):
        tailer = store.open(python_level(request.min_level))
        context.add_callback(tailer.close)
        try:
            while True:
                batch = tailer.take(0.5)
                if batch is None:
                    return
                if batch:
                    yield from batch
                elif stopping.is_set() or not context.is_active():
                    return
        finally:
            tailer.close()

    return tail
