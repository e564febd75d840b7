"""
Tests for L{occid.accountingconfig} through L{occid.config.parse}: the
C{[accounting]} section is optional for the daemon, takes its defaults,
reads its C{[accounting.benchmarks]} table, and a bad value stops
C{occid-accounting} with a message naming the file and the key.
"""

import pytest

from occid import config
from occid.accountingconfig import AccountingConfig
from tests.test_config import PATHS, minimal

SECTION = '[accounting]\nsite_name = "EXAMPLE-AWS"\n'


def parse(accounting: str) -> config.Config:
    """The minimal configuration with C{accounting} text before it."""
    return config.parse(accounting + minimal(PATHS), "/etc/occid/occid.toml")


def test_absent_section_is_none():
    """A file without C{[accounting]} serves the daemon; the command will refuse it."""
    assert parse("").accounting is None


def test_defaults():
    """Only the site name is needed; every other key has its default."""
    loaded = parse(SECTION).accounting
    assert loaded == AccountingConfig(site_name="EXAMPLE-AWS")
    assert loaded.cloud_spool == "/var/spool/apel/outgoing/occid-cloud"
    assert loaded.storage_spool == "/var/spool/apel/outgoing/occid-storage"
    assert loaded.ip_spool == "/var/spool/apel/outgoing/occid-ip"
    assert loaded.cache == "/var/lib/occid/accounting.json"
    assert loaded.benchmark_type == "HEPSPEC06"
    assert loaded.cloudwatch is False
    assert loaded.benchmark("t3.micro") == 0.0


def test_every_key_set():
    """Every key is read, the benchmarks per instance type as numbers."""
    loaded = parse(SECTION + """service = "occi-aws.example.org"
cloud_spool = "/spool/c"
storage_spool = "/spool/s"
ip_spool = "/spool/i"
cache = "/var/cache/acct.json"
benchmark_type = "HEPscore23"
cloudwatch = true
[accounting.benchmarks]
"t3.micro" = 10
"m5.large" = 21.5
""").accounting
    assert loaded.service == "occi-aws.example.org"
    assert (loaded.cloud_spool, loaded.storage_spool, loaded.ip_spool) == ("/spool/c", "/spool/s", "/spool/i")
    assert loaded.cache == "/var/cache/acct.json"
    assert loaded.benchmark_type == "HEPscore23" and loaded.cloudwatch is True
    assert dict(loaded.benchmarks) == {"t3.micro": 10.0, "m5.large": 21.5}
    assert loaded.benchmark("m5.large") == 21.5


@pytest.mark.parametrize("text, key, problem", [
    ("[accounting]\n", "[accounting] site_name", "is required"),
    (SECTION + "colour = 1\n", "[accounting] colour", "unknown key"),
    (SECTION + "cloudwatch = 1\n", "[accounting] cloudwatch", "must be true or false"),
    (SECTION + 'cloud_spool = "spool"\n', "[accounting] cloud_spool", "absolute path"),
    (SECTION + 'ip_spool = "/var/spool/apel/outgoing/occid-cloud/"\n', "[accounting] ip_spool",
     "its own spool"),
    (SECTION + 'benchmark_type = ""\n', "[accounting] benchmark_type", "1 to 50 characters"),
    (SECTION + "benchmarks = 3\n", "[accounting] benchmarks", "must be a table"),
    (SECTION + '[accounting.benchmarks]\n"t3.micro" = "fast"\n',
     "[accounting.benchmarks] 't3.micro'", "must be a number"),
    (SECTION + '[accounting.benchmarks]\n"t3.micro" = -1\n',
     "[accounting.benchmarks] 't3.micro'", "must be a number"),
    (SECTION + '[accounting.benchmarks]\nlarge = 1\n',
     "[accounting.benchmarks] 'large'", "not an instance type name"),
])
def test_bad_section(text, key, problem):
    """Each bad C{[accounting]} is refused with one line naming file and key."""
    with pytest.raises(config.ConfigError) as e:
        parse(text)
    assert (e.value.key, e.value.path) == (key, "/etc/occid/occid.toml")
    assert problem in e.value.problem
