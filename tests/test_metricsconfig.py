"""
Tests for L{occid.metricsconfig} through L{occid.config.parse}: C{[metrics]}
is off unless present, listens on loopback by default, and a bad
C{listen} stops the daemon with a message naming the file and the key.
"""

import os

import pytest

from occid import config
from occid.metricsconfig import DEFAULT_LISTEN, MetricsConfig
from tests.test_config import PATHS, minimal


def parse(metrics: str) -> config.Config:
    """The minimal configuration with C{metrics} text before it."""
    return config.parse(metrics + minimal(PATHS), "/etc/occid/occid.toml")


def test_off_by_default():
    """Without C{[metrics]} there is no metrics listener."""
    assert parse("").metrics is None


def test_loopback_by_default():
    """An empty C{[metrics]} listens on 127.0.0.1 only."""
    assert parse("[metrics]\n").metrics == MetricsConfig(DEFAULT_LISTEN)
    assert DEFAULT_LISTEN.endswith(":interface=127.0.0.1")


def test_listen():
    """C{listen} takes any endpoint description."""
    listen = "tcp:9100:interface=::1"
    assert parse(f'[metrics]\nlisten = "{listen}"\n').metrics == MetricsConfig(listen)


@pytest.mark.parametrize("text, problem", [
    ('listen = ""', "must name an endpoint"),
    ('listen = "tcp:11443"', "must differ from [server] listen"),
    ("listen = 9464", "must be a string"),
    ('port = "9464"', "unknown key"),
])
def test_bad_metrics(text, problem):
    """A bad C{[metrics]} names the file, the key and the problem."""
    with pytest.raises(config.ConfigError) as raised:
        parse(f"[metrics]\n{text}\n")
    message = str(raised.value)
    assert message.startswith("/etc/occid/occid.toml: [metrics] ")
    assert problem in message


def test_sample_metrics_example_validates():
    """The commented [metrics] example of etc/occid.toml, uncommented, is the default."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "etc", "occid.toml"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n# [metrics]\n") + 1
    example = [line[2:] for line in text[start:].splitlines()[:2]]
    assert config.parse(text + "\n" + "\n".join(example)).metrics == MetricsConfig()
