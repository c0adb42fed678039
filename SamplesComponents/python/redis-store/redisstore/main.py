"""The command line and the server (see ../README.md, "Run")."""

from __future__ import annotations

import argparse
import functools
import logging
import sys

from apiary_component import (ComponentLogHandler, FieldsFormatter, LogStore, Server,
                              SocketPathError, log, parse_level)
from apiary_component.logs import NOTICE

from . import pubsub
from .config import DEFAULT_REDIS_URL, NAME, describe, redis_options
from .pubsub import RedisPubSub
from .state import RedisStateStore

LOG = logging.getLogger("redis_store")


def level(value: str) -> int:
    try:
        return parse_level(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown level {value!r}") from None


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redis_store.py",
        description="Dapr pluggable state store and pub/sub on Redis (Apiary sample, written on "
                    "apiary-component)")
    parser.add_argument("--socket", default=None,
                        help="Unix socket to serve (default: <sockets folder>/redis-store.sock)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis to use unless Init metadata says otherwise "
                             "(redis://, rediss:// or unix://; default %(default)s)")
    parser.add_argument("--log-level", type=level, default=logging.INFO,
                        help="stderr log level: trace, debug, info, notice, warning, error, "
                             "critical or off (default info; Tail has its own)")
    parser.add_argument("--log-buffer", type=int, default=1000, metavar="N",
                        help="log records kept per Tail stream and while none is open "
                             "(default %(default)s)")
    parser.add_argument("--max-workers", type=int, default=64,
                        help="gRPC worker threads; each open PullMessages or Tail stream "
                             "holds one (default %(default)s)")
    parser.add_argument("--proto-root", default=None,
                        help="accepted for compatibility and ignored: the contracts' stubs now "
                             "come with apiary-component")
    return parser


def main() -> int:
    arguments = parser()
    args = arguments.parse_args()
    if args.log_buffer < 1 or args.max_workers < 4:
        arguments.error("--log-buffer must be >= 1 and --max-workers >= 4")
    try:
        default_redis = describe(redis_options(args.redis_url, {}))
    except ValueError as error:
        arguments.error(str(error))

    # stderr at --log-level; Tail at what the sidecar asks.  The `redis_store`
    # loggers' level follows both, so debug records are made only when wanted.
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(args.log_level)
    stderr.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    store = LogStore(args.log_buffer)
    ComponentLogHandler(store, echo=stderr).attach(LOG)

    server = Server(NAME, [functools.partial(RedisStateStore, redis_url=args.redis_url),
                           functools.partial(RedisPubSub, redis_url=args.redis_url)],
                    socket_path=args.socket, max_workers=args.max_workers, log_store=store,
                    logger=LOG)
    pubsub.KEEPER.start()
    try:
        server.run(ready=lambda _server: log(LOG, NOTICE, f"redis default {default_redis}"))
    except SocketPathError as error:
        print(f"{NAME}: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        pubsub.STOPPING.set()
    print(f"{NAME}: stopped", file=sys.stderr, flush=True)
    return 0

