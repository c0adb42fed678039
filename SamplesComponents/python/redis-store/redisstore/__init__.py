"""redis-store, a Dapr pluggable state store and pub/sub on Redis, written on
apiary-component (SDKs/python/apiary-component).

    bootstrap.py  finds apiary-component (installed, else the repository's copy)
    config.py     Init metadata, the Redis connection and key namespace, errors
    state.py      the state store (StateStore + TransactionalStateStore)
    pubsub.py     the pub/sub on Redis Streams
    main.py       the command line and the server

Run it with ../redis_store.py; see ../README.md.
"""
