"""apiary-component: write Dapr/Apiary pluggable components in Python.

Subclass a building block, override plain methods, and serve it::

    from apiary_component import StateStore, serve

    class MyStore(StateStore):
        def init(self, metadata): self.values = {}
        def get(self, request): ...
        def set(self, request): ...
        def delete(self, request): ...

    serve("my-store", MyStore)      # <sockets folder>/my-store.sock, until SIGTERM

See README.md for every building block, the errors, logging and testing.
"""

from .bindings import InputBinding, OutputBinding, ReadStream
from .component import AckStream, Component
from .errors import (MAXIMUM_MESSAGE_LENGTH, ComponentError, EtagInvalid, EtagMismatch,
                     FailedPrecondition, InvalidArgument, NotFound, Unavailable, Unsupported,
                     bounded)
from .hello import Hello
from .instances import INSTANCE_HEADER, current_context
from .logs import (NOTICE, TRACE, ComponentLogHandler, FieldsFormatter, LogStore,
                   install_logging, log, parse_level)
from .pubsub import PubSub, Subscription
from .secrets import SecretStore
from .server import Server, serve
from .sockets import SocketPathError, prepare_socket, socket_path, sockets_folder
from .state import StateStore

__version__ = "0.1.0"

__all__ = [
    "StateStore", "PubSub", "Subscription", "InputBinding", "OutputBinding", "ReadStream",
    "SecretStore", "Hello", "Component", "AckStream",
    "ComponentError", "EtagMismatch", "EtagInvalid", "InvalidArgument", "NotFound",
    "FailedPrecondition", "Unsupported", "Unavailable", "bounded", "MAXIMUM_MESSAGE_LENGTH",
    "INSTANCE_HEADER", "current_context",
    "TRACE", "NOTICE", "LogStore", "ComponentLogHandler", "FieldsFormatter", "install_logging",
    "log", "parse_level",
    "Server", "serve", "SocketPathError", "prepare_socket", "socket_path", "sockets_folder",
]
