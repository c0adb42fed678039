#!/usr/bin/env python3
"""A Dapr gRPC subscriber app on the Dapr SDK's gRPC extension (dapr.ext.grpc.App).

    python3 grpc_app.py --port P --events FILE [--config FILE]

Config (JSON):
    {"programmatic": [{"pubsub", "topic", "handler", "dead_letter_topic"?,
                       "rule"?: [match, priority], "metadata"?, "bulk"?: {"enabled", "max_messages_count",
                       "max_await_duration_ms"}}],
     "declarative": [{"pubsub", "path"}],
     "routes": {handler name: answer}}

"programmatic" entries are registered with `App.subscribe` (so ListTopicSubscriptions
lists them; a rule's path is the handler's name, as the SDK does).  `bulk` sets
TopicSubscription.bulk_subscribe on the listed subscription (the SDK's subscribe()
has no parameter for it).  "declarative" entries make the app handle deliveries of
Subscription files whose route is `path` (the SDK routes an OnTopicEvent by
(pubsub, path)) without listing them; a route nobody registered gets the SDK's own
UNIMPLEMENTED answer.

Every delivery is recorded as a JSON line in FILE: {"path" (handler name / route),
"id", "topic", "pubsub_name", "type", "source", "spec_version",
"data_content_type", "data" (text), "extensions", "answer"}; every bulk request
as {"bulk": true, "path", "id", "topic", "pubsub_name", "type", "metadata",
"entries": [{"entry_id", "kind": "cloud_event"|"bytes", "content_type",
"metadata", "event_id", "data"}], "statuses"}.  A delivery no handler takes (the SDK answers UNIMPLEMENTED) is recorded as
{"unhandled": true, "pubsub_name", "topic", "path"}.  Answers follow applib.Answers.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import applib  # noqa: E402

from google.protobuf.json_format import MessageToDict  # noqa: E402

from dapr.clients.grpc._response import TopicEventResponse  # noqa: E402
from dapr.ext.grpc import App, Rule, SubscriptionMessage  # noqa: E402
from dapr.ext.grpc import _servicer  # noqa: E402
from dapr.proto.runtime.v1 import appcallback_pb2  # noqa: E402

STATUS = {"SUCCESS": "success", "RETRY": "retry", "DROP": "drop"}


def text(data) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def main() -> int:
    args, config, log = applib.command_line(__doc__)
    answers = applib.Answers(config, log)

    # Bulk requests: the SDK calls the handler once per entry; record the request
    # as a whole first, and the statuses the SDK answers.
    original_bulk = _servicer._CallbackServicer._handle_bulk_topic_event

    def recorded_bulk(self, request, context):
        response = original_bulk(self, request, context)
        entries = []
        for entry in request.entries:
            item = {"entry_id": entry.entry_id, "content_type": entry.content_type,
                    "metadata": dict(entry.metadata)}
            if entry.HasField("cloud_event"):
                item.update(kind="cloud_event", event_id=entry.cloud_event.id, data=text(entry.cloud_event.data),
                            type=entry.cloud_event.type, source=entry.cloud_event.source)
            else:
                item.update(kind="bytes", data=text(entry.bytes))
            entries.append(item)
        statuses = None
        if response is not None:
            statuses = [{"entry_id": s.entry_id,
                         "status": appcallback_pb2.TopicEventResponse.TopicEventResponseStatus.Name(s.status)}
                        for s in response.statuses]
        log.record({"bulk": True, "path": request.path, "id": request.id, "topic": request.topic,
                    "pubsub_name": request.pubsub_name, "type": request.type,
                    "metadata": dict(request.metadata), "entries": entries, "statuses": statuses})
        return response

    _servicer._CallbackServicer._handle_bulk_topic_event = recorded_bulk

    # Deliveries no handler takes (the SDK answers UNIMPLEMENTED): record what came.
    original_lookup = _servicer._CallbackServicer._get_topic_callback

    def recorded_lookup(self, pubsub_name, topic, path):
        found = original_lookup(self, pubsub_name, topic, path)
        if found is None:
            log.record({"unhandled": True, "pubsub_name": pubsub_name, "topic": topic, "path": path})
        return found

    _servicer._CallbackServicer._get_topic_callback = recorded_lookup

    def make_handler(name: str):
        def handler(event: SubscriptionMessage):
            data = text(event.raw_data()) if event.raw_data() is not None else ""
            answer = answers.answer_for(name, data, event.id())
            try:
                extensions = MessageToDict(event.extensions()) if hasattr(event.extensions(), "ListFields") \
                    else dict(event.extensions() or {})
            except Exception:  # noqa: BLE001
                extensions = {}
            log.record({"path": name, "id": event.id(), "topic": event.topic(), "pubsub_name": event.pubsub_name(),
                        "type": event.type(), "source": event.source(), "spec_version": event.spec_version(),
                        "data_content_type": event.data_content_type(), "data": data,
                        "extensions": extensions, "answer": answer, "metadata": dict(event.metadata() or {})})
            if answer == "error":
                raise RuntimeError("the handler failed on purpose")
            return TopicEventResponse(STATUS.get(answer, answer.lower()))
        handler.__name__ = name
        handler.__annotations__ = {"event": SubscriptionMessage}
        return handler

    app = App()
    servicer = app._servicer
    for item in config.get("programmatic", []):
        rule = Rule(item["rule"][0], item["rule"][1]) if item.get("rule") else None
        app.subscribe(item["pubsub"], item["topic"], metadata=item.get("metadata") or {},
                      dead_letter_topic=item.get("dead_letter_topic"), rule=rule)(make_handler(item["handler"]))
        if item.get("bulk"):
            for subscription in servicer._registered_topics:
                if subscription.pubsub_name == item["pubsub"] and subscription.topic == item["topic"]:
                    subscription.bulk_subscribe.CopyFrom(appcallback_pb2.BulkSubscribeConfig(**item["bulk"]))
    for item in config.get("declarative", []):
        handler = make_handler(item["path"])
        servicer._route_map[(item["pubsub"], item["path"])] = handler
        servicer._topic_legacy_event[handler] = False

    app.run(args.port, listen_address="127.0.0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
