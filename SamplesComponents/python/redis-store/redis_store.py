#!/usr/bin/env python3
"""redis-store: a Dapr pluggable state store and pub/sub on Redis, in Python.

    python3 redis_store.py [--socket PATH] [--redis-url redis://127.0.0.1:6379/0]
                           [--log-level info] [--log-buffer 1000] [--max-workers 64]

Serves on one Unix socket (default <sockets folder>/redis-store.sock, the folder
being $APIARY_SOCKETS_DIR, else $DAPR_COMPONENTS_SOCKETS_FOLDER, else
/tmp/dapr-components-sockets), written on apiary-component
(SDKs/python/apiary-component):

  * dapr.proto.components.v1.StateStore + TransactionalStateStore
    (features ETAG, TRANSACTIONAL, TTL): each key is a Redis hash
    {data, version, contentType}, its etag the key's own version (1 on the first
    write, one more on each write); every write goes through one Lua script
    that checks all etags first and then applies all operations, atomically.
  * dapr.proto.components.v1.PubSub (feature BULK_PUBSUB) on Redis Streams:
    one stream per topic, one consumer group per subscriber group, delivery at
    least once (XACK on a successful ack only, XAUTOCLAIM after a visibility
    timeout).
  * apiary.proto.components.v1.ComponentLogs/Tail: this process's Python
    logging records.
  * grpc.reflection.v1 and v1alpha, grpc.health.v1.

The configured components (header `x-component-instance`) each get their own
Redis connection and key namespace, made by their Init.  The code lives in
redisstore/ beside this file; see README.md for the metadata, the Redis
layout and the guarantees.  Exits 0 on SIGTERM/SIGINT and removes its socket
file.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redisstore import bootstrap  # noqa: E402

bootstrap.ensure_sdk("redis-store")

from redisstore.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
