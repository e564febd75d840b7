"""
L{occid.ec2.timestamps}: EC2's timestamps read fast, and exactly as
botocore's default parser reads them; every other form is left to it; and
occid's clients use it for the timestamps of real answers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.utils import parse_timestamp

from occid.ec2 import timestamps
from occid.ec2.clients import build_clients
from tests.motoserver import DEBIAN, make_config

#: The forms EC2 writes: milliseconds (LaunchTime, AttachTime, StartTime)
#: or whole seconds, always in UTC with a Z.
EC2_FORMS = ["2026-12-06T02:15:07.000Z", "2026-12-06T02:15:07.250Z", "2019-02-28T23:59:59Z"]

#: What botocore also reads, which EC2 does not send.
OTHER_FORMS = [
    "2026-12-06T02:15:07+01:00", "2026-12-06T02:15:07.5-05:30", "2026-12-06T02:15Z",
    "Sun, 06 Dec 2026 02:15:07 GMT", "1765000000", "1765000000.5", 1765000000,
    "20261206T021507Z", "2026-12-06T02:15:07.123456789Z",
]


@pytest.mark.parametrize("value", EC2_FORMS + OTHER_FORMS)
def test_same_moment_as_botocore(value):
    """Each form gives an aware datetime of the moment botocore's default gives."""
    parsed = timestamps.parse(value)
    assert parsed.tzinfo is not None
    assert parsed == parse_timestamp(value)


@pytest.mark.parametrize("value", EC2_FORMS)
def test_ec2_forms_are_read_without_botocore(value, monkeypatch):
    """EC2's forms never reach the slow default, and are in UTC."""
    def slow(value):
        raise AssertionError(f"{value!r} went to botocore's parser")

    monkeypatch.setattr(timestamps, "parse_timestamp", slow)
    parsed = timestamps.parse(value)
    assert parsed.utcoffset().total_seconds() == 0
    assert parsed.astimezone(UTC).replace(tzinfo=None) == datetime.fromisoformat(value[:-1])


@pytest.mark.parametrize("value", [
    "2026-12-06T02:15:07.000+01:00Z", "2026-02-30T02:15:07.000Z", "2026-12-06T25:15:07Z",
    "not a timestamp at all", "",
])
def test_what_botocore_refuses_is_refused(value):
    """An impossible timestamp is botocore's ValueError, not a wrong moment."""
    with pytest.raises(ValueError):
        timestamps.parse(value)


def test_clients_parse_with_it(moto, monkeypatch):
    """The timestamps of an answer to occid's client come from L{timestamps.parse}."""
    seen = []
    parse = timestamps.parse

    def spy(value):
        seen.append(value)
        return parse(value)

    monkeypatch.setattr(timestamps, "parse", spy)
    client = build_clients(make_config(moto.endpoint))["fedcloud"]
    launched = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro",
                                    MinCount=1, MaxCount=1)["Instances"][0]
    assert launched["LaunchTime"].tzinfo is not None
    assert seen and seen[0].endswith("Z")
