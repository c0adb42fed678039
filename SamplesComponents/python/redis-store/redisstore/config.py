"""What the state store and the pub/sub share: Init metadata, the Redis
connection and key namespace, and how Redis errors reach the sidecar."""

from __future__ import annotations

import logging
import urllib.parse

import grpc
import redis
from apiary_component import ComponentError, FailedPrecondition, InvalidArgument, Unavailable, log
from apiary_component.logs import TRACE

NAME = "redis-store"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_ROOT = "redis-store"


def text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def int_property(properties: dict, name: str, default, minimum: int | None = None):
    value_text = properties.get(name, "").strip()
    if not value_text:
        return default
    try:
        value = int(value_text)
    except ValueError:
        raise InvalidArgument(f"metadata {name} must be an integer, got {value_text!r}") from None
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"metadata {name} must be at least {minimum}, got {value}")
    return value


def redis_options(url: str, properties: dict) -> dict:
    """redis.Redis arguments from --redis-url, overridden by the Init metadata
    redisHost (host or host:port), redisUsername, redisPassword, redisDB and
    enableTLS.  Raises ValueError for a URL of another scheme, InvalidArgument
    for metadata that does not parse."""
    parts = urllib.parse.urlsplit(url)
    options: dict = {}
    if parts.scheme == "unix":
        options["unix_socket_path"] = parts.path
    elif parts.scheme in ("redis", "rediss"):
        options["host"] = parts.hostname or "127.0.0.1"
        options["port"] = parts.port or 6379
        if parts.scheme == "rediss":
            options["ssl"] = True
    else:
        raise ValueError(f"--redis-url must start with redis://, rediss:// or unix://, got {url!r}")
    if parts.username:
        options["username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        options["password"] = urllib.parse.unquote(parts.password)
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    query = urllib.parse.parse_qs(parts.query)
    db = query.get("db", [db])[0] or "0"
    options["db"] = int(db)

    host = properties.get("redisHost", "").strip()
    if host:
        options.pop("unix_socket_path", None)
        address = urllib.parse.urlsplit("//" + host)
        try:
            port = address.port
        except ValueError:
            raise InvalidArgument(f"metadata redisHost {host!r} has a bad port") from None
        if not address.hostname:
            raise InvalidArgument(f"metadata redisHost {host!r} names no host")
        options["host"], options["port"] = address.hostname, port or 6379
    if properties.get("redisUsername"):
        options["username"] = properties["redisUsername"]
    if properties.get("redisPassword"):
        options["password"] = properties["redisPassword"]
    options["db"] = int_property(properties, "redisDB", options["db"], minimum=0)
    tls = properties.get("enableTLS", "").strip().lower()
    if tls:
        if tls not in ("true", "false"):
            raise InvalidArgument(f"metadata enableTLS must be true or false, got {tls!r}")
        options["ssl"] = tls == "true"
    return options


def describe(options: dict) -> str:
    if "unix_socket_path" in options:
        where = f"unix:{options['unix_socket_path']}"
    else:
        where = f"{options['host']}:{options['port']}"
    return f"{'rediss' if options.get('ssl') else 'redis'} {where} db {options['db']}"


def foreign(key: str, what: str) -> FailedPrecondition:
    """A key holding something redis-store did not write."""
    return FailedPrecondition(f"key {key!r} holds {what} in Redis, not a value written by {NAME}",
                              fields={"key": key})


class Backend:
    """What state and pub/sub instances share: the Redis connection and the key
    namespace ``redis-store:{<namespace>}:`` (namespace: metadata `namespace`,
    default the instance name; percent-encoded, so any name is safe, and in
    braces, a Redis Cluster hash tag).

    A mixin for the SDK's building blocks: the instance's `name` is set by the
    SDK before ``init``, which calls :meth:`connect_backend`. It answers Features
    (the class's `features_answer`) and Ping (a Redis PING, logged at TRACE)."""

    name: str
    redis_url: str
    logger: logging.Logger
    features_answer: list[str]

    def connect_backend(self, properties: dict) -> None:
        self.properties = properties
        try:
            self.options = redis_options(self.redis_url, properties)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
        self.where = describe(self.options)
        self.client = redis.Redis(**self.options, socket_connect_timeout=3, socket_timeout=15,
                                  health_check_interval=30)
        self.namespace = properties.get("namespace", "").strip() or self.name
        self.prefix = f"{KEY_ROOT}:{{{urllib.parse.quote(self.namespace, safe='')}}}:"

    def redis_ping(self, failure: str) -> None:
        """PING; a Redis error is UNAVAILABLE (logged as a warning): "`failure`: error"."""
        try:
            self.client.ping()
        except redis.exceptions.RedisError as error:
            raise Unavailable(f"{failure}: {error}", log_level=logging.WARNING) from None

    def connect(self) -> None:
        self.redis_ping(f"cannot reach {self.where}")

    def features(self) -> list[str]:
        return self.features_answer

    def ping(self) -> None:
        log(self.logger, TRACE, "ping", instance=self.name)
        self.redis_ping(f"redis {self.where} does not answer")

    @classmethod
    def translate_error(cls, error: Exception):
        """Redis failures that escape a call: UNAVAILABLE when Redis cannot be
        reached, INTERNAL otherwise (the SDK makes every other exception INTERNAL)."""
        if isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return Unavailable(f"redis unreachable: {error}")
        if isinstance(error, redis.exceptions.RedisError):
            return ComponentError(f"redis: {error}", code=grpc.StatusCode.INTERNAL)
        return None
