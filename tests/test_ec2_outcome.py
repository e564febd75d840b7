"""
L{occid.ec2.outcome}: which failures leave a create's outcome unknown, the
bounded lookup, and the answer when the lookup fails too.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from occid.ec2 import outcome
from occid.occi import infrastructure as infra
from occid.occi.errors import GatewayTimeout, NotFound, ServiceUnavailable

URL = "http://127.0.0.1:1"
CUT = ConnectionClosedError(endpoint_url=URL)


def refusal(status: int) -> ClientError:
    return ClientError({"Error": {"Code": "X", "Message": "x"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "RunInstances")


@pytest.mark.parametrize(("error", "lost"), [
    (CUT, True), (ReadTimeoutError(endpoint_url=URL), True), (refusal(500), True),
    (refusal(400), False), (EndpointConnectionError(endpoint_url=URL), False),
    (ConnectTimeoutError(endpoint_url=URL), False), (NotFound("no"), False),
])
def test_lost(error, lost):
    """Sent and not refused: maybe made.  Never connected, or refused: not made."""
    assert outcome.lost(error) is lost


def test_settle_finds_after_a_wait():
    """Looked up again after each delay while nothing is found."""
    answers, slept = iter([None, None, "made"]), []
    assert outcome.settle(infra.COMPUTE, CUT, False, lambda: next(answers),
                          delays=(1, 2, 3), sleep=slept.append) == "made"
    assert slept == [1, 2]


def test_settle_gives_up():
    """Nothing found after the delays: not made."""
    slept: list[float] = []
    assert outcome.settle(infra.COMPUTE, CUT, False, lambda: None, delays=(1, 2),
                          sleep=slept.append) is None
    assert slept == [1, 2]


def test_settle_lookup_fails():
    """The lookup failing too: the unknown answer, chained to the lost one."""
    def find():
        raise EndpointConnectionError(endpoint_url=URL)

    with pytest.raises(ServiceUnavailable) as raised:
        outcome.settle(infra.COMPUTE, CUT, True, find, delays=())
    assert raised.value.__cause__ is CUT
    assert "a retry with the same Idempotency-Key is safe" in raised.value.message
    assert any("EndpointConnectionError" in note for note in raised.value.__notes__)


@pytest.mark.parametrize(("kind", "keyed", "words"), [
    (infra.COMPUTE, True, "a retry with the same Idempotency-Key is safe"),
    (infra.COMPUTE, False, "look for it in /compute/ before retrying; sending an "
                           "Idempotency-Key header with a create makes its retries safe"),
    (infra.STORAGE, False, "look for it in /storage/ before retrying"),
])
def test_unknown(kind, keyed, words):
    """503 after a cut, 504 after a timeout; the advice fits the create."""
    cut = outcome.unknown(kind, CUT, keyed)
    assert isinstance(cut, ServiceUnavailable)
    assert cut.message.endswith(f"the {kind.term} was made: it may still appear; {words}")
    assert isinstance(outcome.unknown(kind, ReadTimeoutError(endpoint_url=URL), keyed),
                      GatewayTimeout)
