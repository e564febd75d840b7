# -*- test-case-name: tests.test_banlist,tests.test_reload_daemon -*-
"""
The ban list of C{[grid] banned}: identities the site has suspended, one a
line, a DN in slash form (C{/DC=org/.../CN=Jane Doe}) or a token subject as
C{<issuer> <sub>} (the form of C{subs} in C{[[accounts]]}, and of
L{Principal.name}); C{#} starts a comment.

A banned principal is refused with 403 before anything else looks at the
request, on every request (so a reloaded list reaches open connections at
once).  The answer names no rule, so that it tells the user nothing about
what the site knows; the log line names the identity.  The file is read
with the trust directories (L{occid.server.reload}), never on the request
path.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.logger import Logger

from occid.gsi.principal import Principal
from occid.occi.errors import Forbidden

log = Logger()

#: What a banned user is told.
SUSPENDED = "access to this service is suspended for your identity; contact the site"


@dataclass(frozen=True)
class BanList:
    """The banned identities, as L{Principal.name} prints them."""

    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> BanList:
        """
        The ban list written in C{text}.

        @raise ValueError: a line is neither a DN nor C{<issuer> <sub>}; the
            message names the line.
        """
        names = set()
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.partition("#")[0].strip()
            if not entry:
                continue
            issuer, _, sub = entry.partition(" ")
            if not entry.startswith("/") and not (issuer.startswith("https://") and sub.strip()):
                raise ValueError(
                    f"line {number}: {entry!r} is neither a DN in slash form (/DC=.../CN=...) "
                    "nor a token subject '<issuer> <sub>'")
            names.add(entry if entry.startswith("/") else f"{issuer} {sub.strip()}")
        return cls(frozenset(names))

    @classmethod
    def read(cls, path: str) -> BanList:
        """
        The ban list in the file C{path}; an empty one for no path (blocking).

        @raise OSError: the file cannot be read.
        @raise ValueError: it is not a ban list.
        """
        if not path:
            return cls()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return cls.parse(text)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def check(self, principal: Principal) -> Principal:
        """
        C{principal}, unless it is banned.

        @raise Forbidden: it is; logged with its identity.
        """
        if principal.name in self.names:
            log.warn("Refused {dn}: on the ban list", dn=principal.name)
            raise Forbidden(SUSPENDED)
        return principal
