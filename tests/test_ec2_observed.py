"""
Tests for L{occid.ec2.observed}: every AWS call of a client made by
L{occid.ec2.clients} is counted once by operation and outcome and timed,
whether EC2 answered it, refused it or could not be reached.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from occid import metrics
from occid.ec2.clients import make_client
from occid.ec2.observed import outcome
from tests.motoserver import free_port, make_config

pytestmark = pytest.mark.moto


def calls(operation: str, result: str) -> float:
    """The count of C{operation} calls with C{result}."""
    return metrics.REGISTRY.get_sample_value(
        "occid_ec2_calls_total", {"operation": operation, "outcome": result}) or 0.0


def timed(operation: str) -> float:
    """How many C{operation} calls were timed."""
    return metrics.REGISTRY.get_sample_value(
        "occid_ec2_call_duration_seconds_count", {"operation": operation}) or 0.0


def test_answered_and_refused_calls(moto):
    """An answered call counts as ok, a refused one as client_error; both are timed."""
    config = make_config(moto.endpoint)
    client = make_client(config.aws, config.accounts[0])
    ok, refused = calls("DescribeVolumes", "ok"), calls("DescribeVolumes", "client_error")
    before = timed("DescribeVolumes")
    client.describe_volumes()
    with pytest.raises(botocore.exceptions.ClientError):
        client.describe_volumes(VolumeIds=["vol-00000000000000000"])
    assert calls("DescribeVolumes", "ok") == ok + 1
    assert calls("DescribeVolumes", "client_error") == refused + 1
    assert timed("DescribeVolumes") == before + 2


def test_unreachable_counted_once(aws_environment):
    """A call that never got an answer (nothing listening) is one unreachable call, retries included."""
    config = make_config(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    client = make_client(config.aws, config.accounts[0])
    before = calls("DescribeKeyPairs", "unreachable")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        client.describe_key_pairs()
    assert calls("DescribeKeyPairs", "unreachable") == before + 1


@pytest.mark.parametrize("status, code, result", [
    (200, "", "ok"), (400, "InvalidVolume.NotFound", "client_error"),
    (503, "RequestLimitExceeded", "throttled"), (400, "Throttling", "throttled"),
    (500, "InternalError", "server_error"),
])
def test_outcome(status, code, result):
    """The outcome label: ok, throttled, client or server error."""
    assert outcome(status, code) == result
