# -*- test-case-name: tests.test_logformat,tests.test_daemon_metrics -*-
"""
The daemon's log observers.  C{twistd occid --log-format json}: one JSON
object per line and per event (twisted.logger's own serialisation,
L{eventAsJSON}), for journald, ELK or Loki, with the event's text line as
C{"text"}.  Events keep their keys, so a request event carries C{method},
C{path}, C{query}, C{status}, C{duration_ms}, C{bytes}, C{peer}, C{dn},
C{account} and C{request_id}.  C{--log-format text} (the default): the
lines twistd's own text observer writes, made at a fraction of its cost
(L{TextLines}), as one is written per request.

twistd chooses the log observer after the plugin made its service: it uses
the application's L{ILogObserver} component when there is one.  So the
daemon's top service, when twistd adds it to the application, gives the
application an observer writing where twistd would have written its text:
C{--logfile FILE} (rotated on C{SIGUSR1}, as twistd does), or standard
output for C{--logfile -} or C{--nodaemon} without C{--logfile} (systemd's
journal), else C{twistd.log}.  With twistd's C{--syslog}, the text goes to
twistd's syslog observer instead.

The blocking layer (code run in the EC2 thread pool, which knows no
Twisted) and botocore log through the standard library's C{logging};
L{forward_stdlib} hands their records of level warning and above to the
daemon's log, with the fields a record carries as C{extra={"fields": ...}}
kept as the event's keys.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import IO, Any

from twisted.application.service import IServiceCollection, MultiService
from twisted.logger import (
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    eventAsJSON,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)
from twisted.python.logfile import LogFile
from zope.interface import implementer

#: The values of C{--log-format}.
FORMATS = ("text", "json")

#: The log file of a daemonised twistd given no C{--logfile}.
TWISTD_LOG = "twistd.log"


def event_text(event: LogEvent) -> str:
    """
    The text of C{event}, as L{formatEvent} makes it.  A format naming
    plain fields only (no C{{name()}} call) is filled by C{str.format_map},
    in C, instead of twisted.logger's C{string.Formatter}, in Python (a
    tenth of the cost for a request's line); any other event, or one that
    does not format, is left to L{formatEvent}.
    """
    format = event.get("log_format")
    if type(format) is str and "()" not in format and "log_flattened" not in event:
        try:
            return format.format_map(event)
        except Exception:  # noqa: BLE001, S110 - formatEvent says what is wrong
            pass
    return formatEvent(event)


@implementer(ILogObserver)
class JSONLines:
    """Writes each event as one line of JSON, with its text as C{"text"}."""

    def __init__(self, out: IO[str]):
        self._out = out

    def __call__(self, event: LogEvent) -> None:
        line = eventAsJSON({**event, "text": event_text(event)})
        self._out.write(line + "\n")
        self._out.flush()


def _twistd_time(when: float | None) -> str:
    """A timestamp as twistd's text observer writes it."""
    return formatTime(when, timeFormatRFC3339)


@implementer(ILogObserver)
class TextLines:
    """
    Writes each event as twistd's text observer does
    (L{formatEventAsClassicLogText}: C{<time> [<namespace>#<level>] <text>},
    continuation lines indented by a tab), with the text of L{event_text}
    and the timestamp formatted once per second.  An event with a traceback
    or a C{log_system} of its own is written by Twisted's formatter.
    """

    def __init__(self, out: IO[str]):
        self._out = out
        self._second: int | None = None
        self._stamp = ""

    def __call__(self, event: LogEvent) -> None:
        if "log_failure" in event or "log_system" in event:
            line = formatEventAsClassicLogText(event, formatTime=_twistd_time)
        else:
            text = event_text(event)
            if not text:
                return
            level = event.get("log_level")
            line = (f"{self._time(event.get('log_time'))} "
                    f"[{event.get('log_namespace', '-')}#{'-' if level is None else level.name}] "
                    f"{text}").replace("\n", "\n\t") + "\n"
        if line:
            self._out.write(line)
            self._out.flush()

    def _time(self, when: float | None) -> str:
        """C{when} as twistd writes it; the text of the second, kept while it lasts."""
        if when is None:
            return _twistd_time(when)
        second = int(when)
        if second != self._second:
            self._second, self._stamp = second, _twistd_time(when)
        return self._stamp


def log_file(twistd_options: Any) -> IO[str]:
    """
    Where twistd would write its log, from its options (those of
    C{twistd}, the parent of occid's): standard output without them.
    """
    name = twistd_options.get("logfile") if twistd_options is not None else "-"
    nodaemon = twistd_options.get("nodaemon") if twistd_options is not None else True
    if name == "-" or (not name and nodaemon):
        return sys.stdout
    logfile = LogFile.fromFullPath(name or TWISTD_LOG)
    _rotate_on_sigusr1(logfile)
    return logfile


def _rotate_on_sigusr1(logfile: LogFile) -> None:
    """
    Rotate C{logfile} on C{SIGUSR1}, as twistd does for its own log file,
    unless the signal already has a handler.
    """
    if signal.getsignal(signal.SIGUSR1):
        return

    def rotate(signum: int, frame: object) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(logfile.rotate)  # type: ignore[attr-defined]

    signal.signal(signal.SIGUSR1, rotate)


class Logged(MultiService):
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
    """
    The daemon's top service, logging in C{log_format} (one of
    L{FORMATS}); text under twistd's C{--syslog} is left to twistd.
    """
    if log_format == "json":
        return Logged(JSONLines(log_file(twistd_options)))
    if twistd_options is not None and twistd_options.get("syslog"):
        return MultiService()
    return Logged(TextLines(log_file(twistd_options)))


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
