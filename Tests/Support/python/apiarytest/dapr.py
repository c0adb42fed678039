"""The Dapr Python SDK's client for a test's sidecar (imported only when called)."""

from __future__ import annotations

import os


def dapr_client(grpc_port: int, http_port: int):
    """A DaprClient on 127.0.0.1:`grpc_port`. The SDK reads $DAPR_HTTP_PORT and
    $DAPR_GRPC_PORT while the client is made, so they are set to this sidecar's ports
    for that moment and put back after."""
    from dapr.clients import DaprClient

    saved = {k: os.environ.get(k) for k in ("DAPR_HTTP_PORT", "DAPR_GRPC_PORT")}
    os.environ["DAPR_HTTP_PORT"] = str(http_port)
    os.environ["DAPR_GRPC_PORT"] = str(grpc_port)
    try:
        return DaprClient(address=f"127.0.0.1:{grpc_port}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def close_quietly(client) -> None:
    """Closes a client (None too), ignoring whatever closing raises."""
    if client is None:
        return
    try:
        client.close()
    except Exception:  # noqa: BLE001
        pass
