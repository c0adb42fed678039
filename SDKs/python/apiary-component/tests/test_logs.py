"""ComponentLogs/Tail fed by ComponentLogHandler: levels, the ring, fields.

Each test has its own process: the ring of waiting records is process-wide.
Records are made through everything.py's output operation "log" (a message at
a level, on a logger, with a `marker` field)."""

import itertools
import logging

import pytest
from conftest import ComponentProcess, StreamReader, meta

from apiary_component import logs as sdk_logs
from apiary_component.proto import bindings_pb2, bindings_pb2_grpc, logs_pb2, logs_pb2_grpc

L = logs_pb2
MARKERS = itertools.count(1)


class Logs:
    def __init__(self, component):
        self.component = component
        self.output = bindings_pb2_grpc.OutputBindingStub(component.channel)
        self.output.Init(bindings_pb2.OutputBindingInitRequest(), metadata=meta("logger"), timeout=5)
        self.tails = []

    def log(self, level: str, message: str, logger: str = "everything.tools") -> str:
        marker = f"m{next(MARKERS)}"
        self.output.Invoke(bindings_pb2.InvokeRequest(
            operation="log", data=message.encode(),
            metadata={"level": level, "marker": marker, "logger": logger}),
            metadata=meta("logger"), timeout=5)
        return marker

    def tail(self, level: int) -> StreamReader:
        call = logs_pb2_grpc.ComponentLogsStub(self.component.channel).Tail(
            logs_pb2.TailLogsRequest(min_level=level))
        reader = StreamReader(call)
        self.tails.append(call)
        return reader

    def until_live(self, reader: StreamReader, level: str = "critical") -> list:
        """Logs probes until one reaches `reader` (the Tail is then registered);
        answers what arrived meanwhile."""
        seen = []
        for _ in range(100):
            marker = self.log(level, "probe")
            got = reader.drain(0.1)
            seen.extend(got)
            if any(r.fields.get("marker") == marker for r in got):
                return seen
        raise AssertionError("the Tail never received a probe")

    def close(self):
        for call in self.tails:
            call.cancel()


@pytest.fixture
def logs(folder):
    component = ComponentProcess("everything.py", folder, "--log-level", "off", "--log-buffer", "5")
    component.wait_ready()
    helper = Logs(component)
    yield helper
    helper.close()
    component.stop()


def by_marker(records, marker):
    return [r for r in records if r.fields.get("marker") == marker]


def test_levels_follow_each_tail(logs):
    warning, debug = logs.tail(L.LOG_LEVEL_WARNING), logs.tail(L.LOG_LEVEL_DEBUG)
    logs.until_live(warning)
    logs.until_live(debug)
    markers = {level: logs.log(level, f"a {level} record")
               for level in ("trace", "debug", "info", "notice", "warning", "error", "critical")}
    # Each Tail receives records in order: once the last one (CRITICAL) is there,
    # everything logged before it that the Tail wants is there too.
    last = markers["critical"]
    got_warning = warning.until(lambda r: r.fields.get("marker") == last)
    got_debug = debug.until(lambda r: r.fields.get("marker") == last)
    assert {r.fields["marker"] for r in got_warning} >= {markers[l] for l in ("warning", "error", "critical")}
    assert not any(by_marker(got_warning, markers[l]) for l in ("trace", "debug", "info", "notice"))
    assert not by_marker(got_debug, markers["trace"])
    wanted = {"debug": L.LOG_LEVEL_DEBUG, "info": L.LOG_LEVEL_INFO, "notice": L.LOG_LEVEL_NOTICE,
              "warning": L.LOG_LEVEL_WARNING, "error": L.LOG_LEVEL_ERROR,
              "critical": L.LOG_LEVEL_CRITICAL}
    for level, wire in wanted.items():
        (record,) = by_marker(got_debug, markers[level])
        assert record.level == wire and record.message == f"a {level} record"
        assert record.logger == "everything.tools" and record.fields["instance"] == "logger"
        assert record.time.seconds > 0


def test_trace_tail_turns_trace_records_on(logs):
    trace = logs.tail(L.LOG_LEVEL_TRACE)
    logs.until_live(trace)
    marker = logs.log("trace", "finest detail")
    (record,) = by_marker(trace.until(lambda r: r.fields.get("marker") == marker), marker)
    assert record.level == L.LOG_LEVEL_TRACE


def test_ring_keeps_the_newest_records_for_the_next_tail(logs):
    # No Tail open: INFO and above wait in a ring of --log-buffer 5; DEBUG is not made.
    debug_marker = logs.log("debug", "not kept")
    markers = [logs.log("info", f"waiting {n}") for n in range(8)]
    reader = logs.tail(L.LOG_LEVEL_INFO)
    got = reader.until(lambda r: r.fields.get("marker") == markers[-1])
    waiting = [r.fields.get("marker") for r in got if r.message.startswith("waiting")]
    assert waiting == markers[-5:]
    assert not by_marker(got, debug_marker)
    logs.close()
    # Handed to a Tail, records leave the ring: a second Tail does not see them again.
    again = logs.tail(L.LOG_LEVEL_INFO)
    seen = logs.until_live(again, "info")
    assert not [r for r in seen if r.message.startswith("waiting")]


def test_records_no_tail_wants_are_not_made(logs):
    # While the only Tail asks for WARNING, the loggers' level is WARNING: an INFO
    # record is never made, so a later INFO Tail cannot receive it either.
    warning = logs.tail(L.LOG_LEVEL_WARNING)
    logs.until_live(warning)
    info_marker = logs.log("info", "nobody wants this")
    info = logs.tail(L.LOG_LEVEL_INFO)
    got = logs.until_live(info, "info")  # INFO probes until one arrives
    assert not by_marker(got, info_marker)
    assert not by_marker(warning.drain(0.2), info_marker)


def test_refusals_are_logged_with_instance_and_code(logs):
    reader = logs.tail(L.LOG_LEVEL_INFO)
    logs.until_live(reader)
    import grpc
    from apiary_component.proto import state_pb2, state_pb2_grpc
    with pytest.raises(grpc.RpcError):
        state_pb2_grpc.StateStoreStub(logs.component.channel).Get(
            state_pb2.GetRequest(key="k"), metadata=meta("not-there"), timeout=5)
    (record,) = [r for r in reader.until(lambda r: "not-there" in r.message) if "not-there" in r.message]
    assert record.message == "Get refused: instance not-there is not initialised"
    assert record.level == L.LOG_LEVEL_WARNING and record.logger == "everything.state"
    assert dict(record.fields) == {"instance": "not-there", "code": "FAILED_PRECONDITION"}


def test_level_mapping():
    assert [sdk_logs.wire_level(level) for level in (1, 5, 10, 15, 20, 25, 30, 40, 50, 60)] == [
        0, 0, 1, 1, 2, 3, 4, 5, 6, 6]
    assert [sdk_logs.python_level(level) for level in range(8)] == [
        5, 10, 20, 25, 30, 40, 50, 50]
    assert sdk_logs.parse_level("warn") == logging.WARNING
    with pytest.raises(ValueError):
        sdk_logs.parse_level("loud")


def test_store_unit():
    store = sdk_logs.LogStore(capacity=2)
    for n in range(3):
        store.append(logs_pb2.LogRecord(message=str(n)), logging.INFO)
    assert [r.message for r in store.pending()] == ["1", "2"] and store.dropped == 1
    assert store.minimum_level == logging.INFO
    tailer = store.open(logging.DEBUG)
    assert store.minimum_level == logging.DEBUG
    assert [r.message for r in tailer.take(0)] == ["1", "2"] and store.pending() == []
    store.finish_all()
    assert tailer.take(0) is None and store.minimum_level == logging.INFO
