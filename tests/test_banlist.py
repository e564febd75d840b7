"""
Tests for L{occid.server.banlist}: the file's form, and the refusal of a
banned principal, which names no rule and logs the identity.
"""

from datetime import UTC, datetime

import pytest
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from occid.gsi.principal import Principal, TokenSubject
from occid.occi.errors import Forbidden
from occid.server.banlist import SUSPENDED, BanList

ISSUER = "https://aai.example.org/oidc/"


def test_parse():
    """DNs (with spaces) and token subjects, comments and blank lines skipped."""
    banned = BanList.parse(
        "# suspended\n\n/DC=org/DC=example/CN=Jane Doe   # ticket 42\n"
        f"  {ISSUER}   1234@example.org \n")
    assert banned.names == {"/DC=org/DC=example/CN=Jane Doe", f"{ISSUER} 1234@example.org"}


@pytest.mark.parametrize("line", ["jane", "CN=Jane Doe", f"{ISSUER}", "http://issuer.example.org sub"])
def test_parse_refuses(line):
    """A line that is neither a DN nor '<issuer> <sub>' is refused, naming its number."""
    with pytest.raises(ValueError, match=r"^line 2: .* is neither a DN"):
        BanList.parse(f"# comment\n{line}\n")


def test_read_names_the_file(tmp_path):
    """No path is an empty list; a bad file's error names it."""
    assert BanList.read("").names == frozenset()
    path = tmp_path / "banned"
    path.write_text("nobody\n")
    with pytest.raises(ValueError, match=rf"^{path}: line 1:"):
        BanList.read(str(path))


def _principal(dn="/DC=org/DC=example/CN=Jane Doe", token=None):
    return Principal(dn=dn, not_after=datetime(2030, 1, 1, tzinfo=UTC), token=token)


def test_check():
    """A banned DN or token subject is 403 with a message naming no rule, logged with its name."""
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        banned = BanList.parse(f"/DC=org/DC=example/CN=Jane Doe\n{ISSUER} 1234\n")
        for principal in (_principal(), _principal(dn="", token=TokenSubject(ISSUER, "1234"))):
            with pytest.raises(Forbidden) as e:
                banned.check(principal)
            assert e.value.message == SUSPENDED
        other = _principal(dn="/DC=org/DC=example/CN=John Doe")
        assert banned.check(other) is other
    finally:
        globalLogPublisher.removeObserver(events.append)
    warnings = [formatEvent(e) for e in events if e["log_level"] == LogLevel.warn]
    assert warnings == ["Refused /DC=org/DC=example/CN=Jane Doe: on the ban list",
                        f"Refused {ISSUER} 1234: on the ban list"]
