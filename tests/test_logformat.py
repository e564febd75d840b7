"""
Tests for L{occid.server.logformat}: C{--log-format json} writes one JSON
object per line and event, with the event's keys and its text; it writes
where twistd would; and twistd's application gets the observer as its
L{ILogObserver} component, which twistd prefers to its text observer.
"""

from __future__ import annotations

import io
import json
import logging
import sys

from twisted.application.service import Application, IServiceCollection
from twisted.logger import ILogObserver, Logger, LogLevel, LogPublisher, globalLogPublisher
from twisted.python.logfile import LogFile

from occid.server.logformat import JSONLines, JSONLogged, forward_stdlib, log_file, top_service


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
    """--logfile FILE, '-' or --nodaemon without one: stdout; daemonised: twistd.log."""
    assert log_file(None) is sys.stdout
    assert log_file({"logfile": "-", "nodaemon": False}) is sys.stdout
    assert log_file({"logfile": None, "nodaemon": True}) is sys.stdout
    path = str(tmp_path / "occid.log")
    chosen = log_file({"logfile": path, "nodaemon": True})
    assert isinstance(chosen, LogFile) and chosen.path == path
    chosen.close()


def test_application_gets_the_observer():
    """Once under twistd's application, the JSON top service is its log observer."""
    observer = JSONLines(io.StringIO())
    application = Application("occid")
    top = JSONLogged(observer)
    top.setServiceParent(application)
    assert application.getComponent(ILogObserver) is observer
    assert list(IServiceCollection(application)) == [top]


def test_text_is_twistd_default():
    """With the text format, the application keeps no observer of occid's."""
    application = Application("occid")
    top_service("text", None).setServiceParent(application)
    assert application.getComponent(ILogObserver, None) is None
    assert isinstance(top_service("json", None), JSONLogged)


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
