"""
Tests for L{occid.ec2.errors}: every kind of botocore and AWS failure maps
to the OCCI status of the status table (docs/status.md), with a useful
message that never holds credentials; and injected failures through a real
client.
"""

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from occid.ec2 import adapter
from occid.ec2.clients import build_clients
from occid.ec2.errors import trace, translate, translated
from occid.occi import errors as occi
from tests.ec2hooks import canned, count_calls, inject, no_backoff, raise_on_send
from tests.motoserver import make_config


def client_error(code, message="it went wrong", operation="RunInstances"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    "code, expected",
    [
        ("RequestLimitExceeded", occi.ServiceUnavailable),
        ("Unavailable", occi.ServiceUnavailable),
        ("InstanceLimitExceeded", occi.BadRequest),
        ("InsufficientInstanceCapacity", occi.BadRequest),
        ("InvalidInstanceID.NotFound", occi.NotFound),
        ("InvalidVolume.NotFound", occi.NotFound),
        ("InvalidInstanceID.Malformed", occi.NotFound),
        ("IncorrectInstanceState", occi.Conflict),
        ("IncorrectState", occi.Conflict),
        ("VolumeInUse", occi.Conflict),
        ("DependencyViolation", occi.Conflict),
        ("InvalidVolume.ZoneMismatch", occi.Conflict),
        ("UnauthorizedOperation", occi.Forbidden),
        ("AccessDenied", occi.Forbidden),
        ("AuthFailure", occi.BadGateway),
        ("SignatureDoesNotMatch", occi.BadGateway),
        ("InvalidParameterValue", occi.BadRequest),
        ("InvalidParameterCombination", occi.BadRequest),
        ("InternalError", occi.BadGateway),
        ("SomethingNew", occi.BadGateway),
    ],
)
def test_client_error_codes(code, expected):
    """Each AWS error code maps to the OCCI error of the status table (docs/status.md)."""
    error = translate(client_error(code))
    assert type(error) is expected
    assert error.message


def test_throttling_beats_limit_exceeded_and_says_when_to_retry():
    """RequestLimitExceeded is throttling (503 + Retry-After), not a quota (400)."""
    error = translate(client_error("RequestLimitExceeded"))
    assert error.status == 503
    assert ("Retry-After", "10") in error.headers


def test_state_conflict_names_the_state():
    """A 409 carries EC2's message, which names the state."""
    error = translate(client_error(
        "IncorrectInstanceState", "The instance 'i-1' is not in the 'running' state."))
    assert error.status == 409
    assert "'running' state" in error.message


@pytest.mark.parametrize(
    "exception, status",
    [
        (ReadTimeoutError(endpoint_url="https://ec2.test/"), 504),
        (ConnectTimeoutError(endpoint_url="https://ec2.test/"), 504),
        (EndpointConnectionError(endpoint_url="https://ec2.test/"), 503),
        (ResponseParserError("<html>500</html>"), 502),
        (NoCredentialsError(), 502),
    ],
)
def test_transport_failures(exception, status):
    """Timeouts are 504, unreachable 503 with Retry-After, garbage and no credentials 502."""
    error = translate(exception)
    assert error.status == status
    if status == 503:
        assert dict(error.headers)["Retry-After"]


def test_parameter_validation_is_400():
    """botocore's ParamValidationError is the user's value breaking EC2's rules: 400 naming it."""
    error = translate(ParamValidationError(
        report="Invalid length for parameter Name, value: 2, valid min length: 3"))
    assert isinstance(error, occi.BadRequest)
    assert "parameter Name" in error.message


def test_foreign_exceptions_pass_through():
    """occid's own bugs are not disguised as gateway errors (the web layer answers 500)."""
    bug = KeyError("x")
    assert translate(bug) is bug
    already = occi.Conflict("busy")
    assert translate(already) is already


def test_translated_decorator_raises_occi_errors():
    """A decorated blocking function raises the mapped error, chained to the original."""

    @translated
    def fails():
        raise client_error("InvalidVolume.NotFound")

    with pytest.raises(occi.NotFound) as caught:
        fails()
    assert isinstance(caught.value.__cause__, ClientError)


def test_messages_never_hold_credentials():
    """Credentials in the environment never reach a message, whatever EC2 says."""
    for code in ("AuthFailure", "UnauthorizedOperation", "SignatureDoesNotMatch"):
        message = translate(client_error(code, "denied", "DescribeInstances")).message
        assert "testing" not in message
        assert "DescribeInstances" in message


@pytest.mark.moto
def test_injected_throttling_is_retried_then_503(moto, monkeypatch):
    """Throttling on every send is retried by botocore, then answered 503 + Retry-After."""
    no_backoff(monkeypatch)
    config = make_config(moto.endpoint)
    client = build_clients(config)["fedcloud"]
    sends = inject(client, "DescribeInstances", 503, "RequestLimitExceeded")
    calls = count_calls(client)
    with pytest.raises(occi.ServiceUnavailable):
        translated(client.describe_instances)()
    assert calls["DescribeInstances"] == 1
    assert len(sends) == config.aws.attempts


@pytest.mark.moto
def test_injected_5xx_once_is_absorbed(moto, monkeypatch):
    """One 500 answer is retried by botocore and the call succeeds."""
    no_backoff(monkeypatch)
    client = build_clients(make_config(moto.endpoint))["fedcloud"]
    sends = inject(client, "DescribeInstances", 500, "InternalError", times=1)
    assert client.describe_instances()["Reservations"] == []
    assert len(sends) == 1


@pytest.mark.moto
def test_injected_timeout_is_504(moto, monkeypatch):
    """A read timeout on every attempt becomes 504."""
    no_backoff(monkeypatch)
    client = build_clients(make_config(moto.endpoint))["fedcloud"]
    raise_on_send(client, "DescribeVolumes", ReadTimeoutError(endpoint_url=moto.endpoint))
    with pytest.raises(occi.GatewayTimeout):
        translated(client.describe_volumes)()


@pytest.mark.moto
def test_garbage_answer_is_502(moto):
    """An answer that is not EC2's XML (a proxy's HTML page) becomes 502."""
    client = build_clients(make_config(moto.endpoint))["fedcloud"]

    def before_send(request, **kwargs):
        return canned(200, b"<html><body>Bad gateway")

    client.meta.events.register("before-send.ec2.DescribeInstances", before_send)
    with pytest.raises(occi.BadGateway):
        translated(client.describe_instances)()


@pytest.mark.moto
def test_answer_and_log_line_trace_the_aws_request(account, monkeypatch):
    """
    A real EC2 error (moto refusing a VPC block too large) answers a
    message naming the code and the AWS request id, and logs one line with
    the call, code, HTTP status, request id, account and region; no
    credentials in either.
    """
    events = []
    monkeypatch.setattr(adapter.log, "observer", events.append)
    try:
        translated(account.client.create_vpc)(CidrBlock="10.0.0.0/8")
    except occi.OCCIError:
        failure = Failure()
    cause = failure.value.__cause__
    request_id = cause.response["ResponseMetadata"]["RequestId"]
    assert request_id
    assert failure.value.status == 400
    assert "InvalidVpc.Range" in failure.value.message
    assert f"AWS request id {request_id}" in failure.value.message

    adapter.traced(failure, account)
    [line] = [formatEvent(event) for event in events]
    assert line == (f"EC2 CreateVpc failed in account fedcloud region eu-west-1: InvalidVpc.Range "
                    f"(HTTP 400, AWS request id {request_id}), answered 400")
    for said in (line, failure.value.message):
        assert "testing" not in said


def test_transport_errors_are_traced_with_their_call():
    """A call that got no answer is traced by its call and exception, without status or id."""
    error = ReadTimeoutError(endpoint_url="https://ec2.test/")
    error.operation_name = "DescribeInstances"
    found = trace(error)
    assert (found.operation, found.code, found.status, found.request_id) == (
        "DescribeInstances", "ReadTimeoutError", None, "")
    assert trace(KeyError("x")) is None


def test_request_id_from_headers_and_not_in_404s():
    """The request id comes from the body or the x-amzn-requestid header; a 404 names none."""
    error = ClientError({"Error": {"Code": "InternalError", "Message": "boom"},
                         "ResponseMetadata": {"HTTPStatusCode": 500,
                                              "HTTPHeaders": {"x-amzn-requestid": "abc-123"}}},
                        "DescribeInstances")
    assert translate(error).message.endswith("(AWS request id abc-123)")
    missing = ClientError({"Error": {"Code": "InvalidInstanceID.NotFound", "Message": "no"},
                           "ResponseMetadata": {"RequestId": "abc-123"}}, "DescribeInstances")
    assert "abc-123" not in translate(missing).message
