"""
L{occid.ec2.readable} and L{occid.ec2.mapping.readable}: an EC2 answer
holding what XML cannot carry still parses, and a description occid cannot
map is one L{Unreadable} entity that a listing leaves out.
"""

from __future__ import annotations

import logging

import pytest

from occid.ec2.mapping import REPLACED, Unreadable, entity_from_vpc, readable
from occid.ec2.readable import each, mend
from occid.occi import infrastructure as infra

VPC = {"VpcId": "vpc-0123456789abcdef0", "CidrBlock": "10.0.0.0/16", "State": "available"}


@pytest.mark.parametrize("body", [
    b"<Value>a\x01b</Value>", b"<Value>a&#x1;b</Value>", b"<Value>a&#01;b</Value>",
    b"<Value>a&#xFFFE;b</Value>", b"<Value>a\xffb</Value>", b"<Value>a\x1fb</Value>",
])
def test_mend(body):
    """What XML 1.0 forbids becomes U+FFFD; the rest is left alone."""
    answer = {"body": body}
    mend(answer)
    assert answer["body"] == "<Value>a\ufffdb</Value>".encode()


@pytest.mark.parametrize("forbidden", ["\x0b", "&#x1f;"])
def test_mend_beyond_ascii(forbidden):
    """A forbidden character is found in an answer that is not ASCII too."""
    answer = {"body": f"<Value>\u00e9{forbidden}</Value>".encode()}
    mend(answer)
    assert answer["body"] == "<Value>\u00e9\ufffd</Value>".encode()


@pytest.mark.parametrize("body", [
    b"<Value>a&#10;b&amp;&#x9;\xc3\xa9</Value>", b"",
    b"<Value>a\tb\r\nc\x7f</Value>", b"<Value>a&amp;#1;</Value>",
])
def test_mend_leaves_xml_alone(body):
    """Allowed references, whitespace and UTF-8 pass unchanged."""
    answer = {"body": body}
    mend(answer)
    assert answer["body"] == body


def test_readable():
    """A readable VPC maps; a replaced tag or a missing field is Unreadable, 502."""
    assert readable(infra.NETWORK, VPC, entity_from_vpc).id == VPC["VpcId"]
    tagged = dict(VPC, Tags=[{"Key": "Name", "Value": f"a{REPLACED}"}])
    with pytest.raises(Unreadable) as raised:
        readable(infra.NETWORK, tagged, entity_from_vpc)
    assert raised.value.status == 502
    assert raised.value.message.startswith(f"EC2 holds network {VPC['VpcId']}, but occid "
                                           "cannot read it (its tag 'Name' holds")
    missing = {k: v for k, v in VPC.items() if k != "State"}
    with pytest.raises(Unreadable, match="its description has no 'State'"):
        readable(infra.NETWORK, missing, entity_from_vpc)


def test_each_skips_and_logs(caplog):
    """A listing keeps the readable and logs one warning per unreadable one."""
    other = {"VpcId": "vpc-0123456789abcdef1", "CidrBlock": "10.1.0.0/16"}
    with caplog.at_level(logging.WARNING, logger="occid.ec2.readable"):
        found = list(each("fedcloud (r)", infra.NETWORK, [VPC, other],
                          lambda vpc: readable(infra.NETWORK, vpc, entity_from_vpc)))
    assert [e.id for e in found] == [VPC["VpcId"]]
    [warning] = caplog.records
    assert warning.fields["id"] == "vpc-0123456789abcdef1"
    assert warning.fields["account"] == "fedcloud (r)"
    assert warning.getMessage().startswith(
        "network vpc-0123456789abcdef1 of account fedcloud (r) left out of a listing: ")
