"""
Tests for L{occid.server.logformat}: C{--log-format json} writes one JSON
object per line and event, with the event's keys and its text; the text
format writes the very lines of twistd's text observer; both write where
twistd would; and twistd's application gets the observer as its
L{ILogObserver} component, which twistd prefers to its own.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import sys

from twisted.application.service import Application, IServiceCollection
from twisted.logger import (
    ILogObserver,
    Logger,
    LogLevel,
    LogPublisher,
    globalLogPublisher,
    textFileLogObserver,
)
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile

from occid.server.logformat import (
    JSONLines,
    Logged,
    TextLines,
    forward_stdlib,
    log_file,
    top_service,
)
from occid.server.pipeline import REQUEST_LOG


def test_one_json_object_per_line():
    """Each event is one line of JSON with its keys and its text line."""
    out = io.StringIO()
    publisher = LogPublisher(JSONLines(out))
    log = Logger(observer=publisher, namespace="occid.test")
    log.info("{method} {path} {status}", method="GET", path="/compute/\nx", status=200)
    log.warn("second")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["method"] == "GET" and first["status"] == 200
    assert first["text"] == "GET /compute/\nx 200"
    assert first["log_namespace"] == "occid.test" and second["text"] == "second"


def test_log_file_as_twistd_chooses(tmp_path):
    """
    --logfile FILE, '-' or --nodaemon without one: stdout; daemonised:
    twistd.log; a file is rotated on SIGUSR1, as twistd's.
    """
    assert log_file(None) is sys.stdout
    assert log_file({"logfile": "-", "nodaemon": False}) is sys.stdout
    assert log_file({"logfile": None, "nodaemon": True}) is sys.stdout
    path = str(tmp_path / "occid.log")
    before = signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    try:
        chosen = log_file({"logfile": path, "nodaemon": True})
        assert callable(signal.getsignal(signal.SIGUSR1))
    finally:
        signal.signal(signal.SIGUSR1, before)
    assert isinstance(chosen, LogFile) and chosen.path == path
    chosen.close()


def test_application_gets_the_observer():
    """Once under twistd's application, the JSON top service is its log observer."""
    observer = JSONLines(io.StringIO())
    application = Application("occid")
    top = Logged(observer)
    top.setServiceParent(application)
    assert application.getComponent(ILogObserver) is observer
    assert list(IServiceCollection(application)) == [top]


def test_observer_of_each_format():
    """Text and JSON have occid's observer; text under twistd's --syslog is twistd's."""
    for log_format, kind in (("text", TextLines), ("json", JSONLines)):
        application = Application("occid")
        top_service(log_format, None).setServiceParent(application)
        assert isinstance(application.getComponent(ILogObserver), kind)
    application = Application("occid")
    top_service("text", {"syslog": True}).setServiceParent(application)
    assert application.getComponent(ILogObserver, None) is None


def _failed() -> Failure:
    try:
        1 / 0  # noqa: B018 - the failure logged
    except ZeroDivisionError:
        return Failure()


def test_text_lines_are_twistd_lines():
    """
    TextLines writes what twistd's text observer writes, for a request's
    line, a field called or converted, continuation lines, a traceback, a
    system of its own, a format that fails and an event without text, in
    the same second and across seconds.
    """
    fields = {"method": "GET", "path": "/-/", "query": "?action=*", "status": 200,
              "duration_ms": 1.5, "bytes": 11000, "peer": "127.0.0.1:4242",
              "dn": "/DC=org/CN=O'Neil", "account": "main", "request_id": "ab12"}
    events = [
        {"log_format": REQUEST_LOG, **fields},
        {"log_format": "{count()} calls, {dn!r:>30}", "count": lambda: 3, "dn": "x"},
        {"log_format": "first\nsecond {n:04d}", "n": 7},
        {"log_format": "failed: {request_id}", "request_id": "cd34", "log_failure": _failed()},
        {"log_format": "own system", "log_system": "tls"},
        {"log_format": "{missing} field"},
        {"log_format": "{0} positional"},
        {"log_format": b"bytes {n}", "n": 1},
        {"log_format": ""},
        {"log_format": "no level or time", "log_level": None, "log_time": None},
    ]
    ours, twistds = io.StringIO(), io.StringIO()
    observers = (TextLines(ours), textFileLogObserver(twistds))
    for when in (1_700_000_000.25, 1_700_000_000.75, 1_700_000_001.5):
        for event in events:
            full = {"log_level": LogLevel.info, "log_namespace": "occid.test",
                    "log_time": when, **event}
            for observer in observers:
                observer(dict(full))
    assert ours.getvalue() == twistds.getvalue()
    assert "GET /-/?action=* 200 1.5ms 11000B peer=127.0.0.1:4242" in ours.getvalue()


def test_stdlib_warnings_reach_the_daemon_log():
    """
    The blocking layer's standard library warnings become events of the
    daemon's log with their fields; info stays out, and forwarding twice
    logs once.
    """
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    logger = logging.getLogger("occid.test_logformat")
    try:
        forward_stdlib("occid.test_logformat")
        forward_stdlib("occid.test_logformat")
        logger.info("not forwarded")
        logger.warning("volume %s left out", "vol-1", extra={"fields": {"id": "vol-1"}})
        logger.error("failed")
    finally:
        globalLogPublisher.removeObserver(events.append)
        parent = logging.getLogger("occid.test_logformat")
        parent.handlers.clear()
        parent.propagate = True
    ours = [e for e in events if e.get("log_namespace") == "occid.test_logformat"]
    assert [(e["log_level"], e["text"]) for e in ours] == [
        (LogLevel.warn, "volume vol-1 left out"), (LogLevel.error, "failed")]
    assert ours[0]["id"] == "vol-1"
