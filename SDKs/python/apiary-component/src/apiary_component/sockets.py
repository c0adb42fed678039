"""Where a component's socket lives, and preparing it.

The sockets folder is (first match) an explicit path, ``$APIARY_SOCKETS_DIR``,
``$DAPR_COMPONENTS_SOCKETS_FOLDER``, else ``/tmp/dapr-components-sockets``
(Dapr's default, which Apiary shares); a component named NAME listens on
``<folder>/NAME.sock`` and Apiary names the component type after that file.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

__all__ = ["DEFAULT_SOCKETS_FOLDER", "ENVIRONMENT_VARIABLES", "MAXIMUM_SOCKET_PATH_BYTES",
           "SocketPathError", "sockets_folder", "socket_path", "prepare_socket"]

DEFAULT_SOCKETS_FOLDER = "/tmp/dapr-components-sockets"
ENVIRONMENT_VARIABLES = ("APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER")
#: The longest path a sockaddr_un holds on Linux (108 bytes with the NUL).
MAXIMUM_SOCKET_PATH_BYTES = 107


class SocketPathError(Exception):
    """The socket path cannot be served; the message says why."""


def sockets_folder(explicit: str | None = None, environment=None) -> str:
    """The sockets folder: `explicit`, else the first non-empty variable of
    ENVIRONMENT_VARIABLES in `environment` (default os.environ), else the default."""
    if explicit:
        return explicit
    environment = os.environ if environment is None else environment
    for variable in ENVIRONMENT_VARIABLES:
        if environment.get(variable):
            return environment[variable]
    return DEFAULT_SOCKETS_FOLDER


def socket_path(name: str, explicit: str | None = None, environment=None) -> str:
    """`explicit` when given, else ``<sockets folder>/<name>.sock``, absolute."""
    if explicit:
        return os.path.abspath(explicit)
    return os.path.abspath(os.path.join(sockets_folder(environment=environment), f"{name}.sock"))


def _create_folder(folder: str) -> None:
    """Creates `folder` and its missing parents, each with mode 0700."""
    if os.path.isdir(folder):
        return
    if os.path.lexists(folder):
        raise SocketPathError(f"{folder} exists and is not a folder")
    parent = os.path.dirname(folder)
    if parent and parent != folder:
        _create_folder(parent)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        if not os.path.isdir(folder):
            raise SocketPathError(f"{folder} exists and is not a folder") from None
    except OSError as error:
        raise SocketPathError(f"cannot create the sockets folder {folder}: {error.strerror}") \
            from None


def _connect_error(path: str) -> OSError | None:
    """Connects to the Unix socket `path` (1 s timeout) and hangs up again; answers
    why it could not connect, or None when it could."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return None
    except OSError as error:
        return error
    finally:
        probe.close()


def _is_listening(path: str) -> bool:
    """True when a process accepts connections on the socket file `path`."""
    error = _connect_error(path)
    if error is None:
        return True
    if isinstance(error, (ConnectionRefusedError, FileNotFoundError)):
        return False
    if isinstance(error, (socket.timeout, BlockingIOError)):
        return True  # a listener whose backlog is full
    if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
        return False
    raise SocketPathError(f"cannot tell whether {path} is in use: {error.strerror}") from None


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return "a device or special file"


def prepare_socket(path: str) -> bool:
    """Makes `path` ready to bind: creates its folder (mode 0700) when missing,
    removes a stale socket file (one nobody listens on, left by a crash), and
    refuses a live socket or anything that is not a socket (never deleted).
    Answers True when a stale socket was removed.  Raises SocketPathError."""
    if not path:
        raise SocketPathError("the socket path is empty")
    size = len(os.fsencode(path))
    if size > MAXIMUM_SOCKET_PATH_BYTES:
        raise SocketPathError(f"socket path {path} is {size} bytes long; Unix sockets allow at "
                              f"most {MAXIMUM_SOCKET_PATH_BYTES}")
    _create_folder(os.path.dirname(os.path.abspath(path)))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        raise SocketPathError(f"{path} is a directory, not a socket; choose another socket path")
    if not stat.S_ISSOCK(mode):
        raise SocketPathError(f"{path} exists and is {_kind(mode)}, not a socket; refusing to "
                              "replace it")
    if _is_listening(path):
        raise SocketPathError(f"{path} is in use: another process is serving it")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SocketPathError(f"cannot remove the stale socket {path}: {error.strerror}") from None
    return True
