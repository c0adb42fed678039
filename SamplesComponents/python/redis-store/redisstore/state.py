"""The state store: each key is a Redis hash {data, version, contentType}.

Etags are per key, as in Dapr's own Redis state store: the hash's `version`
field, which starts at 1 on the key's first write and goes up by one on every
write (HINCRBY).  Every write (Set, Delete, their bulk forms, Transact) runs
one Lua script that checks all etags first and only then applies all
operations: Redis runs a script atomically, so a failed check applies nothing.
"""

from __future__ import annotations

import datetime
import logging

import redis
from apiary_component import EtagInvalid, EtagMismatch, InvalidArgument, StateStore, log
from apiary_component.proto import state_pb2

from .config import Backend, foreign, text

STATE_LOG = logging.getLogger("redis_store.state")
STATE_FEATURES = ["ETAG", "TRANSACTIONAL", "TTL"]
TTL_KEY = "ttlInSeconds"

# Checks every operation's etag / first-write condition, then applies them
# all.
#   KEYS[i]     the key of operation i
#   ARGV[6(i-1)+1 .. +6] for operation i: 'set' | 'delete', etag ('' = none),
#               first-write ('1' | '0'), ttl seconds ('' = never expires),
#               content type, data
# Answers {'ok', etag_1, ..., etag_n} ('' for deletes) or the first refusal:
# {'mismatch', i, current etag or ''}, {'exists', i, etag}, {'foreign', i, what}.
# A set's new etag is HINCRBY of the key's own `version`: 1 for a key that did
# not exist (or was deleted, also earlier in the same script), else one more.
APPLY_LUA = r"""
local n = #KEYS
local staged = {}
local function version_of(key)
  local v = staged[key]
  if v ~= nil then return v end
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then
    v = false
  elseif kind == 'hash' then
    v = redis.call('HGET', key, 'version')
    if not v then return nil, 'a hash without a version field' end
  else
    return nil, 'a ' .. kind
  end
  staged[key] = v
  return v
end
for i = 1, n do
  local key, at = KEYS[i], (i - 1) * 6
  local op, etag, first = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local current, foreign = version_of(key)
  if current == nil then return {'foreign', i, foreign} end
  if etag ~= '' then
    if current ~= etag then return {'mismatch', i, current or ''} end
  elseif first == '1' and current then
    return {'exists', i, current}
  end
  if op == 'set' then staged[key] = '?' else staged[key] = false end
end
local reply = {'ok'}
for i = 1, n do
  local key, at = KEYS[i], (i - 1) * 6
  if ARGV[at + 1] == 'set' then
    redis.call('HSET', key, 'data', ARGV[at + 6], 'contentType', ARGV[at + 5])
    local version = string.format('%d', redis.call('HINCRBY', key, 'version', 1))
    if ARGV[at + 4] == '' then
      redis.call('PERSIST', key)
    else
      redis.call('EXPIRE', key, ARGV[at + 4])
    end
    reply[i + 1] = version
  else
    redis.call('DEL', key)
    reply[i + 1] = ''
  end
end
return reply
"""


def parse_ttl(value: str, where: str) -> str:
    """'' (never expires) or a positive number of seconds, as text."""
    value = value.strip()
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds == -1:
        return ""
    if seconds <= 0:
        raise InvalidArgument(f"{where} {TTL_KEY} must be a positive number of seconds or -1 "
                              f"(never expires), got {value!r}")
    return str(seconds)


def expiry_metadata(pttl: int) -> dict:
    if pttl <= 0:
        return {}
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=pttl)
    return {"ttlExpireTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


class RedisStateStore(Backend, StateStore):
    """One configured state store (x-component-instance): its own connection,
    namespace and default TTL, made by its Init."""

    logger = STATE_LOG
    features_answer = STATE_FEATURES

    def __init__(self, redis_url: str):
        self.redis_url = redis_url

    def init(self, metadata: dict[str, str]) -> None:
        self.connect_backend(metadata)
        default = metadata.get(TTL_KEY, "")
        self.default_ttl = parse_ttl(default, "metadata") if default.strip() else ""
        self.apply_script = self.client.register_script(APPLY_LUA)
        self.connect()
        log(STATE_LOG, logging.INFO, f"initialised state store instance {self.label} "
            f"on {self.where}, keys {self.prefix}state:*", instance=self.name)

    @property
    def label(self) -> str:
        return self.name if self.name else "(none: no x-component-instance header)"

    # -- reading

    def key(self, key: str) -> str:
        return self.prefix + "state:" + key

    def read(self, keys: list[str]) -> list:
        """(data, version, contentType, pttl) or an exception, per key, from
        one MULTI (a consistent snapshot)."""
        pipe = self.client.pipeline(transaction=True)
        for key in keys:
            pipe.hmget(self.key(key), "data", "version", "contentType")
            pipe.pttl(self.key(key))
        results = pipe.execute(raise_on_error=False)
        answers = []
        for i, key in enumerate(keys):
            fields, pttl = results[2 * i], results[2 * i + 1]
            if isinstance(fields, redis.exceptions.ResponseError) and "WRONGTYPE" in str(fields):
                answers.append(foreign(key, "a value that is not a hash"))
            elif isinstance(fields, Exception):
                answers.append(fields)
            elif fields[1] is None and fields[0] is not None:
                answers.append(foreign(key, "a hash without a version field"))
            else:
                answers.append((fields[0], fields[1], fields[2],
                                pttl if isinstance(pttl, int) else -1))
        return answers

    def get(self, request):
        if not request.key:
            raise InvalidArgument("key is required")
        (answer,) = self.read([request.key])
        if isinstance(answer, Exception):
            raise answer
        data, version, content_type, pttl = answer
        log(STATE_LOG, logging.DEBUG, f"get {request.key}: "
            + ("missing" if version is None else f"etag {text(version)}"), instance=self.name,
            key=request.key)
        if version is None:
            return None
        return state_pb2.GetResponse(data=data or b"", etag=state_pb2.Etag(value=text(version)),
                                     content_type=text(content_type),
                                     metadata=expiry_metadata(pttl))

    def bulk_get(self, requests):
        keys = [item.key for item in requests]
        answer = state_pb2.BulkGetResponse()
        for key, found in zip(keys, self.read(keys) if keys else []):
            if isinstance(found, Exception):
                answer.items.add(key=key, error=str(found))
                continue
            data, version, content_type, pttl = found
            if version is None:
                answer.items.add(key=key)
            else:
                answer.items.add(key=key, data=data or b"",
                                 etag=state_pb2.Etag(value=text(version)),
                                 content_type=text(content_type), metadata=expiry_metadata(pttl))
        log(STATE_LOG, logging.DEBUG, f"bulk get of {len(keys)} keys", instance=self.name)
        return answer

    # -- writing

    def ttl_of(self, metadata, fallback) -> str:
        for source, where in ((metadata, "request metadata"), (fallback, "transaction metadata")):
            if TTL_KEY in source:
                return parse_ttl(source[TTL_KEY], where)
        return self.default_ttl

    def operation(self, kind: str, request, fallback_metadata) -> list:
        key = request.key
        if not key:
            raise InvalidArgument("key is required")
        etag = request.etag.value if request.HasField("etag") else ""
        if etag:
            if not (etag.isascii() and etag.isdigit()):
                raise EtagInvalid(f"invalid etag {etag!r} for key {key!r}: redis-store etags "
                                  "are decimal numbers", fields={"key": key})
            etag = str(int(etag))
        first = request.options.concurrency == state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE
        if kind == "set":
            return [kind, etag, "1" if first else "0",
                    self.ttl_of(request.metadata, fallback_metadata),
                    request.content_type, bytes(request.value)]
        return [kind, etag, "1" if first else "0", "", "", b""]

    def apply(self, operations: list) -> list:
        """operations: (kind, request, fallback metadata); all or nothing.
        Answers the new etags ('' for deletes)."""
        if not operations:
            return []
        keys, args = [], []
        for kind, request, fallback in operations:
            args.extend(self.operation(kind, request, fallback))
            keys.append(self.key(request.key))
        reply = self.apply_script(keys=keys, args=args)
        outcome = text(reply[0])
        if outcome == "ok":
            return [text(value) for value in reply[1:]]
        index = int(reply[1]) - 1
        request = operations[index][1]
        key, detail = request.key, text(reply[2])
        given = request.etag.value if request.HasField("etag") else ""
        if outcome == "mismatch":
            if not detail:
                message = f"etag mismatch for key {key!r}: the key does not exist"
            elif detail == "?":
                message = (f"etag mismatch for key {key!r}: an earlier operation of the same "
                           "request writes it")
            else:
                message = f"etag mismatch for key {key!r}: got {given}, current is {detail}"
            raise EtagMismatch(message, fields={"key": key})
        if outcome == "exists":
            raise EtagMismatch(f"first-write: key {key!r} already exists and no etag was given",
                               fields={"key": key})
        raise foreign(key, detail)

    def set(self, request):
        (etag,) = self.apply([("set", request, {})])
        log(STATE_LOG, logging.DEBUG, f"set {request.key}: etag {etag}", instance=self.name,
            key=request.key)

    def delete(self, request):
        self.apply([("delete", request, {})])
        log(STATE_LOG, logging.DEBUG, f"delete {request.key}", instance=self.name,
            key=request.key)

    def bulk_set(self, requests):
        self.apply([("set", item, {}) for item in requests])
        log(STATE_LOG, logging.DEBUG, f"bulk set of {len(requests)} keys", instance=self.name)

    def bulk_delete(self, requests):
        self.apply([("delete", item, {}) for item in requests])
        log(STATE_LOG, logging.DEBUG, f"bulk delete of {len(requests)} keys", instance=self.name)

    def transact(self, request):
        operations = []
        for number, operation in enumerate(request.operations, 1):
            kind = operation.WhichOneof("request")
            if kind is None:
                raise InvalidArgument(
                    f"transaction operation {number} carries neither set nor delete")
            operations.append((kind, getattr(operation, kind), request.metadata))
        self.apply(operations)
        log(STATE_LOG, logging.DEBUG, f"transaction of {len(operations)} operations applied",
            instance=self.name)
