"""One object per configured component: the ``x-component-instance`` header.

The sidecar may configure several components on one socket; every call carries
the configured name in the gRPC metadata header ``x-component-instance``.  The
SDK keeps one object of the author's class per name, created by that name's
``Init`` (a later ``Init`` replaces it, so a sidecar that reconnects starts the
instance clean; when ``Init`` fails the previous object stays).  Any other call
for a name that was never initialised fails with FAILED_PRECONDITION, as
Apiary's ComponentKit does.
"""

from __future__ import annotations

import threading

from .errors import FailedPrecondition

__all__ = ["INSTANCE_HEADER", "instance_name", "instance_label", "InstanceRegistry",
           "current_context"]

#: The gRPC metadata key that names the configured component a call is for.
INSTANCE_HEADER = "x-component-instance"

_calls = threading.local()


def instance_name(context) -> str:
    """The instance a call is for: the header's value, or "" when absent."""
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value
    return ""


def instance_label(name: str) -> str:
    """How a name appears in messages ("" has no header to show)."""
    return name if name else f"(none: no {INSTANCE_HEADER} header)"


def current_context():
    """The ``grpc.ServicerContext`` of the call this thread is serving, or None.

    For the rare method that needs the raw call (its other metadata, its
    deadline); building-block methods otherwise never see gRPC."""
    return getattr(_calls, "context", None)


class _CallScope:
    """Makes `context` what current_context() answers while a handler runs."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        self.previous = getattr(_calls, "context", None)
        _calls.context = self.context
        return self

    def __exit__(self, *exc):
        _calls.context = self.previous
        return False


class InstanceRegistry:
    """The live objects of one building block, by instance name."""

    def __init__(self, factory, kind: str):
        self._factory = factory
        self.kind = kind
        self._lock = threading.Lock()
        self._instances: dict[str, object] = {}

    def initialise(self, context, setup) -> object:
        """Makes a new object for the call's instance name, gives it its `name`,
        runs ``setup(obj)`` (the author's init) and only then makes it the one
        that name's calls reach."""
        name = instance_name(context)
        instance = self._factory()
        instance.name = name
        setup(instance)
        with self._lock:
            self._instances[name] = instance
        return instance

    def get(self, context):
        """The object the call is for.

        Raises FailedPrecondition ``instance NAME is not initialised`` when the
        name never had a successful Init."""
        name = instance_name(context)
        with self._lock:
            instance = self._instances.get(name)
        if instance is None:
            raise FailedPrecondition(f"instance {instance_label(name)} is not initialised")
        return instance

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._instances)

    def all(self) -> list:
        with self._lock:
            return list(self._instances.values())
