"""The pub/sub on Redis Streams: one stream per topic, one consumer group per
subscriber group, delivery at least once (XACK on a successful acknowledgement
only, XAUTOCLAIM after a visibility timeout).  See ../README.md, "Pub/sub"."""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import socket
import threading
import time

import grpc
import redis
from apiary_component import ComponentError, InvalidArgument, PubSub, log
from apiary_component.logs import NOTICE
from apiary_component.proto import pubsub_pb2

from .config import Backend, int_property, text

PUBSUB_LOG = logging.getLogger("redis_store.pubsub")
PUBSUB_FEATURES = ["BULK_PUBSUB"]

DEFAULT_VISIBILITY_MS = 10_000
DEFAULT_MAX_IN_FLIGHT = 100
# A consumer of a group with nothing pending and idle this long (or 10
# visibility timeouts, if longer) is removed when a new subscription opens.
STALE_CONSUMER_MS = 60_000

# At the end of a subscription: remove its consumer from the group when it
# holds no pending entry (a consumer with pending entries must stay, or they
# would be lost).  KEYS[1] stream; ARGV group, consumer.
FORGET_CONSUMER_LUA = r"""
local mine = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #mine == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""

# When a subscription opens: remove the group's consumers that hold nothing
# and have been idle at least ARGV[2] ms (left by ended or killed
# subscriptions, after their entries were reclaimed).  KEYS[1] stream.
SWEEP_CONSUMERS_LUA = r"""
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for j = 1, #consumer, 2 do info[consumer[j]] = consumer[j + 1] end
  if info['pending'] == 0 and info['idle'] and info['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
"""

# Set when the process is stopping (by main, after the server stopped).
STOPPING = threading.Event()


class Keeper(threading.Thread):
    """Every open subscription's held entries (read from Redis, not yet
    acknowledged or refused by the sidecar) are claimed again every third of
    the visibility timeout, which resets their idle time: while a
    subscription is alive, nobody else reclaims what it holds."""

    def __init__(self):
        super().__init__(name="keeper", daemon=True)
        self.lock = threading.Lock()
        self.subscriptions: set = set()

    def add(self, subscription) -> None:
        with self.lock:
            self.subscriptions.add(subscription)

    def remove(self, subscription) -> None:
        with self.lock:
            self.subscriptions.discard(subscription)

    def run(self) -> None:
        while not STOPPING.wait(0.05):
            with self.lock:
                subscriptions = list(self.subscriptions)
            now = time.monotonic()
            for subscription in subscriptions:
                if now >= subscription.next_beat:
                    subscription.next_beat = now + subscription.beat_interval
                    subscription.heartbeat()


KEEPER = Keeper()


class RedisPubSub(Backend, PubSub):
    """One configured pub/sub (x-component-instance): its own connection,
    namespace, consumer group and limits, made by its Init."""

    logger = PUBSUB_LOG
    features_answer = PUBSUB_FEATURES

    def __init__(self, redis_url: str):
        self.redis_url = redis_url

    def init(self, metadata: dict[str, str]) -> None:
        self.connect_backend(metadata)
        self.group = (metadata.get("consumerGroup", "").strip()
                      or metadata.get("consumerID", "").strip() or self.name or "default")
        self.visibility_ms = int_property(metadata, "visibilityTimeoutMs",
                                          DEFAULT_VISIBILITY_MS, minimum=50)
        self.max_in_flight = int_property(metadata, "maxInFlight", DEFAULT_MAX_IN_FLIGHT,
                                          minimum=1)
        self.max_len = int_property(metadata, "maxLenApprox", 0, minimum=0)
        self.forget_consumer = self.client.register_script(FORGET_CONSUMER_LUA)
        self.sweep_consumers = self.client.register_script(SWEEP_CONSUMERS_LUA)
        self.connect()
        label = self.name if self.name else "(none: no x-component-instance header)"
        log(PUBSUB_LOG, logging.INFO, f"initialised pub/sub instance {label} on {self.where}, "
            f"streams {self.prefix}topic:*, consumer group {self.group}, visibility timeout "
            f"{self.visibility_ms} ms", instance=self.name)

    def stream(self, topic: str) -> str:
        return self.prefix + "topic:" + topic

    def entry(self, data: bytes, content_type: str, metadata) -> dict:
        return {b"data": bytes(data), b"contentType": content_type.encode(),
                b"metadata": json.dumps(dict(metadata), sort_keys=True).encode()}

    def add(self, pipe, topic: str, fields: dict) -> None:
        if self.max_len:
            pipe.xadd(self.stream(topic), fields, maxlen=self.max_len, approximate=True)
        else:
            pipe.xadd(self.stream(topic), fields)

    def publish(self, request) -> None:
        if not request.topic:
            raise InvalidArgument("topic is required")
        pipe = self.client.pipeline(transaction=False)
        self.add(pipe, request.topic, self.entry(request.data, request.content_type,
                                                 request.metadata))
        (entry_id,) = pipe.execute()
        log(PUBSUB_LOG, logging.DEBUG, f"published {text(entry_id)} to {request.topic}",
            instance=self.name, topic=request.topic)

    def bulk_publish(self, request):
        """All entries in one MULTI (all or none); on a Redis failure every entry
        is reported failed."""
        if not request.topic:
            raise InvalidArgument("topic is required")
        pipe = self.client.pipeline(transaction=True)
        for entry in request.entries:
            metadata = dict(request.metadata)
            metadata.update(entry.metadata)
            self.add(pipe, request.topic, self.entry(entry.event, entry.content_type, metadata))
        try:
            pipe.execute()
        except redis.exceptions.RedisError as error:
            log(PUBSUB_LOG, logging.ERROR, f"bulk publish to {request.topic} failed: {error}",
                instance=self.name, topic=request.topic)
            return {entry.entry_id: str(error) for entry in request.entries}
        log(PUBSUB_LOG, logging.DEBUG,
            f"published {len(request.entries)} messages to {request.topic}",
            instance=self.name, topic=request.topic)
        return {}

    def pull_messages(self, subscription):
        group = subscription.metadata.get("consumerGroup", "").strip() or self.group
        try:
            yield from Subscriber(self, subscription, group).messages()
        except redis.exceptions.RedisError as error:
            # As the sample always answered a broken subscription: UNAVAILABLE
            # when the connection broke, INTERNAL otherwise, "redis: ...".
            code = (grpc.StatusCode.UNAVAILABLE
                    if isinstance(error, redis.exceptions.ConnectionError)
                    else grpc.StatusCode.INTERNAL)
            raise ComponentError(f"redis: {error}", code=code, log_level=logging.ERROR) from None


class Subscriber:
    """One PullMessages stream: consumer `consumer` of group `group` on the
    topic's stream.  `held` are the entry ids it read into its pending list
    and has not seen acknowledged or refused; at most maxInFlight."""

    numbers = itertools.count(1)

    def __init__(self, instance: RedisPubSub, subscription, group: str):
        self.number = next(Subscriber.numbers)
        self.instance = instance
        self.client = instance.client
        self.subscription = subscription
        self.topic = subscription.topic
        self.stream = instance.stream(self.topic)
        self.group = group
        self.consumer = (f"{socket.gethostname()}-{os.getpid()}-{self.number}-"
                         f"{secrets.token_hex(3)}")
        self.visibility_ms = instance.visibility_ms
        self.beat_interval = max(0.05, instance.visibility_ms / 3000)
        self.next_beat = time.monotonic() + self.beat_interval
        self.reclaim_interval = min(1.0, max(0.05, instance.visibility_ms / 4000))
        self.held: dict[str, float] = {}
        self.cond = threading.Condition()
        self.beat_lock = threading.Lock()
        self.released = False
        self.delivered = self.acked = self.refused = 0
        subscription.on_ack(self.acknowledge)

    def log(self, level: int, message: str, **fields) -> None:
        log(PUBSUB_LOG, level, message, instance=self.instance.name, topic=self.topic,
            group=self.group, consumer=self.consumer, **fields)

    def alive(self) -> bool:
        return self.subscription.active and not STOPPING.is_set()

    # Redis operations

    def ensure_group(self) -> None:
        try:
            # From "0": a new group gets every entry still in the stream,
            # including those published before anyone subscribed.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            self.log(logging.INFO, f"created consumer group {self.group}")
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, count: int, block_ms: int) -> list:
        answer = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                        count=count, block=block_ms)
        entries = []
        for _stream, items in answer or []:
            entries.extend(items)
        return entries

    def reclaim(self, cursor: str, count: int) -> tuple[str, list]:
        answer = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                        self.visibility_ms, start_id=cursor, count=count)
        next_cursor, entries = text(answer[0]), answer[1]
        if entries:
            self.log(logging.INFO, f"reclaimed {len(entries)} entries idle for more than "
                     f"{self.visibility_ms} ms", count=len(entries))
        return next_cursor, entries

    def heartbeat(self) -> None:
        with self.beat_lock:
            if not self.released:
                self.extend_visibility()

    def extend_visibility(self) -> None:
        with self.cond:
            ids = list(self.held)
        try:
            for start in range(0, len(ids), 500):
                self.client.xclaim(self.stream, self.group, self.consumer, 0,
                                   ids[start:start + 500], justid=True)
        except redis.exceptions.RedisError as error:
            self.log(logging.WARNING, f"could not extend the visibility of held entries: {error}")

    def room(self) -> int:
        with self.cond:
            return self.instance.max_in_flight - len(self.held)

    def wait_for_room(self, timeout: float) -> None:
        with self.cond:
            if len(self.held) >= self.instance.max_in_flight:
                self.cond.wait(timeout)

    # The sidecar's acknowledgements (on the SDK's reader thread)

    def acknowledge(self, entry_id: str, error: str | None) -> None:
        with self.cond:
            known = self.held.pop(entry_id, None)
            self.cond.notify_all()
        if known is None:
            self.log(logging.DEBUG, f"ack for an id this stream does not hold: {entry_id}",
                     id=entry_id)
            return
        try:
            if error is not None:
                # Stays pending; claiming it again restarts its idle time, so
                # it is reclaimed one visibility timeout later.
                self.client.xclaim(self.stream, self.group, self.consumer, 0, [entry_id],
                                   justid=True)
                self.refused += 1
                self.log(logging.INFO, f"message {entry_id} refused ({error}); redelivered after "
                         f"{self.visibility_ms} ms", id=entry_id)
            else:
                self.client.xack(self.stream, self.group, entry_id)
                self.acked += 1
                self.log(logging.DEBUG, f"message {entry_id} acknowledged", id=entry_id)
        except redis.exceptions.RedisError as failure:
            # Left pending: reclaimed and delivered again later.
            self.log(logging.ERROR, f"could not record the ack of {entry_id}: {failure}",
                     id=entry_id)

    # Delivery

    def response(self, entry_id: str, fields: dict):
        if b"data" in fields:
            data = fields[b"data"]
            content_type = text(fields.get(b"contentType"))
            try:
                metadata = {str(k): str(v) for k, v in
                            json.loads(text(fields.get(b"metadata")) or "{}").items()}
            except (ValueError, AttributeError):
                metadata = {}
        else:  # an entry someone else added: its fields as a JSON object
            data = json.dumps({text(k): text(v) for k, v in fields.items()}).encode()
            content_type, metadata = "application/json", {}
        return pubsub_pb2.PullMessagesResponse(data=data, topic_name=self.topic,
                                               metadata=metadata, content_type=content_type,
                                               id=entry_id)

    def messages(self):
        """The PullMessages responses, for as long as the stream is alive."""
        self.ensure_group()
        try:
            removed = self.instance.sweep_consumers(
                keys=[self.stream],
                args=[self.group, max(STALE_CONSUMER_MS, 10 * self.visibility_ms)])
            if removed:
                self.log(logging.INFO, f"removed {removed} stale consumers from the group")
        except redis.exceptions.RedisError as error:
            self.log(logging.DEBUG, f"consumer sweep skipped: {error}")
        self.log(logging.INFO, f"subscribed to {self.topic} as {self.consumer} of group "
                 f"{self.group}")
        KEEPER.add(self)
        cursor, next_reclaim = "0-0", 0.0
        backoff, outage = 0.2, False
        block_ms = max(10, int(min(self.reclaim_interval, 0.5) * 1000))
        try:
            while self.alive():
                room = self.room()
                if room <= 0:
                    self.wait_for_room(0.2)
                    continue
                now = time.monotonic()
                try:
                    if now >= next_reclaim:
                        cursor, entries = self.reclaim(cursor, room)
                        # A scan that has not wrapped around goes on at once.
                        next_reclaim = now if cursor != "0-0" else now + self.reclaim_interval
                    else:
                        entries = self.read(min(room, 32), block_ms)
                    if outage:
                        self.log(NOTICE, "redis answers again")
                    backoff, outage = 0.2, False
                except redis.exceptions.ResponseError as error:
                    if "NOGROUP" not in str(error):
                        raise
                    self.log(logging.WARNING, "the stream or its group was deleted; recreating")
                    self.ensure_group()
                    continue
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                    if not outage:
                        self.log(logging.ERROR, f"redis unreachable, retrying: {error}")
                    outage = True
                    self.subscription.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                batch = []
                with self.cond:
                    for raw_id, fields in entries:
                        entry_id = text(raw_id)
                        # Skipped: entries trimmed from the stream (Redis 6.2
                        # answers them without fields; 7 drops them itself),
                        # and entries this stream delivered and still holds.
                        if fields is not None and entry_id not in self.held:
                            self.held[entry_id] = time.monotonic()
                            batch.append((entry_id, fields))
                for entry_id, fields in batch:
                    if not self.alive():
                        break  # still held: handed back by release()
                    self.delivered += 1
                    self.log(logging.DEBUG, f"delivering {entry_id}", id=entry_id)
                    yield self.response(entry_id, fields)
        finally:
            KEEPER.remove(self)
            self.release()

    def release(self) -> None:
        """The stream ended: what it holds stays pending, with its idle time
        set to the visibility timeout so that the next subscriber of the group
        reclaims it at once."""
        with self.beat_lock:
            self.released = True
        with self.cond:
            ids = list(self.held)
            self.held.clear()
        try:
            for start in range(0, len(ids), 500):
                self.client.xclaim(self.stream, self.group, self.consumer, 0,
                                   ids[start:start + 500], idle=self.visibility_ms, justid=True)
            self.instance.forget_consumer(keys=[self.stream], args=[self.group, self.consumer])
        except redis.exceptions.RedisError as error:
            self.log(logging.WARNING, f"could not release held entries (they are reclaimed "
                     f"after the visibility timeout): {error}")
        self.log(logging.INFO, f"subscription ended: {self.delivered} delivered, {self.acked} "
                 f"acknowledged, {self.refused} refused, {len(ids)} handed back")
