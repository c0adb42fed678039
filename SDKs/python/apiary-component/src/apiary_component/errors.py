"""Errors a component raises, and the gRPC statuses they travel as.

Raise these from any building-block method; the SDK turns them into the status
the Dapr contract defines, in this one place:

=====================  =====================  ===========================================
error                  gRPC status            details (``grpc-status-details-bin``)
=====================  =====================  ===========================================
``EtagMismatch``       FAILED_PRECONDITION    one ``google.rpc.BadRequest`` violation on
                                              field ``etag`` (Dapr: etag mismatch, 409)
``EtagInvalid``        INVALID_ARGUMENT       one ``google.rpc.BadRequest`` violation on
                                              field ``etag`` (Dapr: invalid etag, 400)
``InvalidArgument``    INVALID_ARGUMENT       none
``NotFound``           NOT_FOUND              none
``FailedPrecondition`` FAILED_PRECONDITION    none
``Unsupported``        UNIMPLEMENTED          none
``Unavailable``        UNAVAILABLE            none
``ComponentError``     the ``code`` given     the ``details`` given (any protobuf messages)
any other exception    INTERNAL               none; the message is ``str(error)``
=====================  =====================  ===========================================

Every message is cut with :func:`bounded` before it is sent, and when there are
details the ``google.rpc.Status`` in the trailer carries the same code and the
same (cut) message as the gRPC status itself, as ``grpc_status.rpc_status``
and the Dapr SDKs require.
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = [
    "MAXIMUM_MESSAGE_LENGTH", "bounded", "ComponentError", "EtagMismatch", "EtagInvalid",
    "InvalidArgument", "NotFound", "FailedPrecondition", "Unsupported", "Unavailable",
    "status_of",
]

#: The longest status message sent whole, in characters.
MAXIMUM_MESSAGE_LENGTH = 1024
_HEAD = 768
_TAIL = 192


def bounded(message: str) -> str:
    """`message`, or its first 768 and last 192 characters around
    ``… (N characters left out) …`` when it is longer than 1024 characters.

    Messages quote what they refuse (a key, a name, an etag), which can be
    megabytes; a status travels in the trailers, which peers limit to a few
    KiB.  The same rule as Apiary's ComponentKit (``ErrorMessage.bounded``).
    """
    if len(message) <= MAXIMUM_MESSAGE_LENGTH:
        return message
    left_out = len(message) - _HEAD - _TAIL
    return f"{message[:_HEAD]} … ({left_out} characters left out) … {message[-_TAIL:]}"


class ComponentError(Exception):
    """A refused call, sent as the gRPC status `code` with `message`.

    - `details`: protobuf messages (e.g. ``google.rpc.ErrorInfo``) packed into
      the ``google.rpc.Status`` of ``grpc-status-details-bin``.
    - `fields`: extra ``key=value`` context for the log record the SDK writes
      about the refusal (e.g. ``{"key": key}``); never sent.
    - `log_level`: the level of that record (the class's ``log_level`` by
      default: INFO for etag errors, WARNING for most, ERROR for
      ``Unavailable`` and INTERNAL).
    """

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    log_level: int = logging.ERROR

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None, details=(),
                 fields: dict | None = None, log_level: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
            if log_level is None:
                log_level = logging.ERROR if code == grpc.StatusCode.INTERNAL else logging.WARNING
        self.details = list(details)
        self.fields = dict(fields or {})
        if log_level is not None:
            self.log_level = log_level

    def __str__(self) -> str:
        return self.message


class _EtagError(ComponentError):
    log_level = logging.INFO

    def __init__(self, message: str, *, fields: dict | None = None, log_level: int | None = None):
        violation = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="etag", description=bounded(message))])
        super().__init__(message, details=[violation], fields=fields, log_level=log_level)


class EtagMismatch(_EtagError):
    """The request's etag does not match the stored one (or first-write found a
    value): FAILED_PRECONDITION with one BadRequest violation on ``etag``."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class EtagInvalid(_EtagError):
    """The request's etag is malformed: INVALID_ARGUMENT with one BadRequest
    violation on ``etag``."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidArgument(ComponentError):
    """The request (or Init metadata) is malformed: INVALID_ARGUMENT."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    log_level = logging.WARNING


class NotFound(ComponentError):
    """What the request names does not exist (a secret, a record): NOT_FOUND."""

    code = grpc.StatusCode.NOT_FOUND
    log_level = logging.WARNING


class FailedPrecondition(ComponentError):
    """The call cannot run in the current state: FAILED_PRECONDITION (without
    etag details; the SDK uses it for calls to uninitialised instances)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    log_level = logging.WARNING


class Unsupported(ComponentError):
    """The component does not implement this operation: UNIMPLEMENTED."""

    code = grpc.StatusCode.UNIMPLEMENTED
    log_level = logging.WARNING


class Unavailable(ComponentError):
    """The backend cannot be reached right now: UNAVAILABLE."""

    code = grpc.StatusCode.UNAVAILABLE
    log_level = logging.ERROR


def describe(error: BaseException) -> str:
    """The message of an unexpected exception: ``str(error)``, or its type's
    name when that is empty."""
    text = str(error)
    return text if text else type(error).__name__


def status_of(error: ComponentError) -> tuple[grpc.StatusCode, str, status_pb2.Status | None]:
    """(code, bounded message, google.rpc.Status or None when there are no details)."""
    message = bounded(error.message)
    if not error.details:
        return error.code, message, None
    status = status_pb2.Status(code=error.code.value[0], message=message)
    for detail in error.details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return error.code, message, status


def abort(context: grpc.ServicerContext, error: ComponentError):
    """Ends the call with `error`'s status (raises, as ``context.abort`` does)."""
    code, message, status = status_of(error)
    if status is None:
        context.abort(code, message)
    context.abort_with_status(rpc_status.to_status(status))
