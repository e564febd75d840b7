# -*- test-case-name: tests.test_processes -*-
"""
The keys that let several occid processes serve one host:
C{[server] reuse_port} (every process binds C{[server] listen} itself with
C{SO_REUSEPORT} and the kernel spreads the connections between them) and
C{[server] coordination_dir} (where the processes elect the one that runs
the reconciler), and the metrics address of each process (C{twistd occid
--instance N}).

Pure core, below L{occid.config}, which reports through the
C{fail(key, problem)} it hands in (L{occid.accountconfig.Fail}).  It reads
the C{tcp:} endpoint descriptions itself, since Twisted's parser is
outside the core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from occid.accountconfig import Fail

__all__ = ["TcpAddress", "check_processes", "instance_listen", "tcp_address"]

#: The listen queue of a socket occid binds itself (Twisted's default).
DEFAULT_BACKLOG = 50


@dataclass(frozen=True)
class TcpAddress:
    """
    What a C{tcp:} endpoint description binds.

    @ivar interface: the address, C{""} for every IPv4 one.
    """

    port: int
    interface: str = ""
    backlog: int = DEFAULT_BACKLOG

    @property
    def ipv6(self) -> bool:
        """Whether C{interface} is an IPv6 address."""
        return ":" in self.interface


def _fields(description: str) -> list[str]:
    """The colon-separated fields of an endpoint description, C{\\:} unescaped."""
    fields, current, escaped = [], "", False
    for character in description:
        if escaped:
            current, escaped = current + character, False
        elif character == "\\":
            escaped = True
        elif character == ":":
            fields.append(current)
            current = ""
        else:
            current += character
    return [*fields, current]


def tcp_address(description: str) -> TcpAddress | None:
    """
    The address of C{tcp:PORT[:interface=ADDRESS][:backlog=N]} (the port
    also as C{port=PORT}), or C{None} for any other endpoint or a malformed one.
    """
    kind, *rest = _fields(description.strip())
    if kind != "tcp" or not rest:
        return None
    keywords: dict[str, str] = {}
    if "=" not in rest[0]:
        keywords["port"] = rest.pop(0)
    for field in rest:
        name, equals, value = field.partition("=")
        if not equals or name not in ("port", "interface", "backlog") or name in keywords:
            return None
        keywords[name] = value
    try:
        port = int(keywords["port"])
        backlog = int(keywords.get("backlog", DEFAULT_BACKLOG))
    except (KeyError, ValueError):
        return None
    if not 0 <= port < 65536 or backlog < 1:
        return None
    return TcpAddress(port, keywords.get("interface", ""), backlog)


def instance_listen(listen: str, instance: int) -> str:
    """
    The metrics address of process C{instance} (1, 2, ...) of a host: the
    C{tcp:} endpoint C{listen} with its port moved up by C{instance - 1}, so
    that every process has its own (and Prometheus scrapes each).

    @raise ValueError: C{listen} is not a C{tcp:} endpoint with a port, or
        the port would leave the range.
    """
    address = tcp_address(listen)
    if address is None or address.port == 0:
        raise ValueError(f"{listen!r} is not a tcp:PORT endpoint")
    port = address.port + instance - 1
    if not 0 < port < 65536:
        raise ValueError(f"instance {instance} would listen on port {port}")
    description = f"tcp:{port}"
    if address.interface:
        description += ":interface=" + address.interface.replace(":", "\\:")
    if address.backlog != DEFAULT_BACKLOG:
        description += f":backlog={address.backlog}"
    return description


def check_processes(listen: str, reuse_port: bool, coordination_dir: str, fail: Fail) -> None:
    """
    C{reuse_port} needs a C{tcp:} C{listen} (occid binds it itself);
    C{coordination_dir}, when set, is an absolute path.
    """
    if reuse_port and tcp_address(listen) is None:
        fail("[server] reuse_port", "needs [server] listen of the form "
                                    "\"tcp:PORT[:interface=ADDRESS][:backlog=N]\", "
                                    f"not {listen!r}")
    if coordination_dir and not os.path.isabs(coordination_dir):
        fail("[server] coordination_dir", "must be an absolute path, such as \"/run/occid\", "
                                          f"not {coordination_dir!r}")
