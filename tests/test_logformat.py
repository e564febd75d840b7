"""
Tests for L{occid.server.logformat}: C{--log-format json} writes one JSON
object per line and event, with the event's keys and its text; it writes
where twistd would; and twistd's application gets the observer as its
L{ILogObserver} component, which twistd prefers to its text observer.
"""

from __future__ import annotations

import io
import json
import sys

from twisted.application.service import Application, IServiceCollection
from twisted.logger import ILogObserver, Logger, LogPublisher
from twisted.python.logfile import LogFile

from occid.server.logformat import JSONLines, JSONLogged, log_file, top_service


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
