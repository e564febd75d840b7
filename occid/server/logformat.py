# -*- test-case-name: tests.test_logformat,tests.test_daemon_metrics -*-
"""
C{twistd occid --log-format json}: one JSON object per line and per event
(twisted.logger's own serialisation, L{eventAsJSON}), for journald, ELK or
Loki, with the event's text line as C{"text"}.  Events keep their keys, so
a request event carries C{method}, C{path}, C{query}, C{status},
C{duration_ms}, C{bytes}, C{peer}, C{dn}, C{account} and C{request_id}.

twistd chooses the log observer after the plugin made its service: it uses
the application's L{ILogObserver} component when there is one.  So the
daemon's top service, when twistd adds it to the application, gives the
application an observer writing where twistd would have written its text:
C{--logfile FILE}, or standard output for C{--logfile -} or C{--nodaemon}
without C{--logfile} (systemd's journal), else C{twistd.log}.

The blocking layer (code run in the EC2 thread pool, which knows no
Twisted) and botocore log through the standard library's C{logging};
L{forward_stdlib} hands their records of level warning and above to the
daemon's log, with the fields a record carries as C{extra={"fields": ...}}
kept as the event's keys.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

from twisted.application.service import IServiceCollection, MultiService
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, eventAsJSON, formatEvent
from twisted.python.logfile import LogFile
from zope.interface import implementer

#: The values of C{--log-format}.
FORMATS = ("text", "json")

#: The log file of a daemonised twistd given no C{--logfile}.
TWISTD_LOG = "twistd.log"


@implementer(ILogObserver)
class JSONLines:
    """Writes each event as one line of JSON, with its text as C{"text"}."""

    def __init__(self, out: IO[str]):
        self._out = out

    def __call__(self, event: LogEvent) -> None:
        line = eventAsJSON({**event, "text": formatEvent(event)})
        self._out.write(line + "\n")
        self._out.flush()


def log_file(twistd_options: Any) -> IO[str]:
    """
    Where twistd would write its log, from its options (those of
    C{twistd}, the parent of occid's): standard output without them.
    """
    name = twistd_options.get("logfile") if twistd_options is not None else "-"
    nodaemon = twistd_options.get("nodaemon") if twistd_options is not None else True
    if name == "-" or (not name and nodaemon):
        return sys.stdout
    return LogFile.fromFullPath(name or TWISTD_LOG)


class JSONLogged(MultiService):
    """
    A top service that, once it is a child of twistd's application, has
    twistd log through C{observer} (L{ILogObserver} component).
    """

    def __init__(self, observer: ILogObserver):
        super().__init__()
        self.observer = observer

    def setServiceParent(self, parent: IServiceCollection) -> None:
        super().setServiceParent(parent)
        set_component = getattr(parent, "setComponent", None)
        if set_component is not None:
            set_component(ILogObserver, self.observer)


def top_service(log_format: str, twistd_options: Any) -> MultiService:
    """The daemon's top service, logging in C{log_format} (one of L{FORMATS})."""
    if log_format == "json":
        return JSONLogged(JSONLines(log_file(twistd_options)))
    return MultiService()


#: The standard library's levels as twisted.logger's, the highest first.
_LEVELS = ((logging.CRITICAL, LogLevel.critical), (logging.ERROR, LogLevel.error),
           (logging.WARNING, LogLevel.warn), (logging.INFO, LogLevel.info))


class Forwarded(logging.Handler):
    """Emits each standard library record as an event of the daemon's log."""

    def emit(self, record: logging.LogRecord) -> None:
        level = next((ours for theirs, ours in _LEVELS if record.levelno >= theirs),
                     LogLevel.debug)
        fields = getattr(record, "fields", {})
        Logger(namespace=record.name).emit(level, "{text}", text=record.getMessage(), **fields)


def forward_stdlib(*names: str) -> None:
    """
    Have the standard library loggers C{names} (and their children) log
    warnings and above to the daemon's log, once each.
    """
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, Forwarded) for handler in logger.handlers):
            logger.addHandler(Forwarded(logging.WARNING))
            logger.propagate = False
