#!/usr/bin/env python3
"""A Dapr HTTP subscriber app on FastAPI with the Dapr SDK's FastAPI extension.

    python3 http_app.py --port P --events FILE [--config FILE]

Serves on 127.0.0.1:P with uvicorn.  `GET /dapr/subscribe` is the extension's
(`dapr.ext.fastapi.DaprApp`): every entry of the config's "programmatic" list with
only pubsubname/topic/route/deadLetterTopic/metadata is registered through
`DaprApp.subscribe`; entries with `routes` (CEL rules) or `bulkSubscribe`, which the
extension cannot express, are appended to the same list as raw items.  Every other
POST path is served by one catch-all handler, so declarative Subscription files can
name any route.  `GET /healthz` answers 200.

Every POST is recorded as a JSON line in FILE:
    {"path", "headers", "content_type", "body" (JSON, or text when not JSON),
     "answer", "bulk" (true for a bulk envelope), "statuses" (bulk answers)}
and answered as applib.Answers says (per route, else from the event's data.answer;
for a bulk envelope, per entry).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import applib  # noqa: E402

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

from dapr.ext.fastapi import DaprApp  # noqa: E402


def build(config: dict, log: applib.EventLog) -> FastAPI:
    answers = applib.Answers(config, log)
    app = FastAPI()
    dapr_app = DaprApp(app)

    async def handle(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        path = request.url.path
        record = {"path": path, "headers": dict(request.headers),
                  "content_type": request.headers.get("content-type"), "body": body}
        if isinstance(body, dict) and body.get("type") == "com.dapr.event.sent.bulk":
            statuses = []
            for entry in body.get("entries") or []:
                event = entry.get("event")
                data = event.get("data") if isinstance(event, dict) else None
                event_id = event.get("id") if isinstance(event, dict) else entry.get("entryId")
                answer = await asyncio.to_thread(answers.answer_for, path, data, str(event_id))
                statuses.append({"entryId": entry.get("entryId"), "status": answer})
            record.update(bulk=True, statuses=statuses)
            log.record(record)
            return JSONResponse({"statuses": statuses})
        data = body.get("data") if isinstance(body, dict) else None
        event_id = body.get("id") if isinstance(body, dict) else ""
        answer = await asyncio.to_thread(answers.answer_for, path, data, str(event_id))
        record["answer"] = answer
        log.record(record)
        if answer in ("404", "500"):
            return Response(status_code=int(answer))
        if answer == "error":
            return Response(status_code=500)
        return JSONResponse({"status": answer})

    for item in config.get("programmatic", []):
        if set(item) <= {"pubsubname", "topic", "route", "deadLetterTopic", "metadata"}:
            dapr_app.subscribe(pubsub=item["pubsubname"], topic=item["topic"], route=item["route"],
                               metadata=item.get("metadata") or {},
                               dead_letter_topic=item.get("deadLetterTopic"))(handle)
        else:
            # Rules and bulk subscribe: DaprApp.subscribe has no parameters for them.
            dapr_app._subscriptions.append(item)

    @app.get("/healthz")
    async def healthz():
        return Response(status_code=200)

    app.add_api_route("/{rest:path}", handle, methods=["POST", "PUT"])
    return app


def main() -> int:
    args, config, log = applib.command_line(__doc__)
    app = build(config, log)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
