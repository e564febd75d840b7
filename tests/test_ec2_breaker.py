"""
Tests for L{occid.ec2.breaker}: the states of a breaker on a fake clock, and
a breaker guarding a real client (L{occid.ec2.clients.guard}).
"""

import time

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, ReadTimeoutError
from twisted.logger import capturedLogs, formatEvent

from occid.config import AccountConfig
from occid.ec2.accounts import make_accounts
from occid.ec2.adapter import OPERATIONS, EC2Collection
from occid.ec2.backend import EC2Backend
from occid.ec2.breaker import COOL_DOWN, FAILURES_TO_OPEN, Breaker, BreakerOpen, State
from occid.ec2.clients import build_clients, guard
from occid.ec2.errors import Refused, translate
from occid.ec2.scope import Scope
from occid.occi import infrastructure as infra
from occid.occi.errors import ServiceUnavailable
from occid.occi.model import EntityFilter
from tests.ec2hooks import count_calls, inject, no_backoff, raise_on_send
from tests.motoserver import JANE, InlineReactor, SyncPool, binding, failureResultOf, make_config


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def changes():
    return []


@pytest.fixture
def breaker(clock, changes):
    breaker = Breaker(failures_to_open=3, cool_down=5.0, clock=clock)
    breaker.on_change = lambda state, reason: changes.append((state, reason))
    return breaker


def open_(breaker):
    for _ in range(3):
        breaker.admit()
        breaker.failed("DescribeInstances: ReadTimeoutError")


def test_closed_lets_calls_go(breaker):
    """A new breaker is closed: calls go, a failure or two change nothing."""
    assert breaker.state() is State.CLOSED
    breaker.failed("x")
    breaker.failed("x")
    breaker.admit()
    assert breaker.refusal() is None
    assert breaker.state() is State.CLOSED


def test_an_answer_resets_the_count(breaker, changes):
    """Only failures in a row open it: an answer between them starts the count again."""
    for _ in range(5):
        breaker.failed("x")
        breaker.failed("x")
        breaker.succeeded()
    assert breaker.state() is State.CLOSED
    assert changes == []


def test_opens_after_the_threshold_and_refuses_at_once(breaker, clock, changes):
    """N failures in a row open it: calls are refused, with the seconds left to wait."""
    open_(breaker)
    assert breaker.state() is State.OPEN
    assert changes == [(State.OPEN, "DescribeInstances: ReadTimeoutError")]
    with pytest.raises(BreakerOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 5
    assert "ReadTimeoutError" in str(refused.value)
    clock.now += 3.5
    assert breaker.refusal().retry_after == 2
    clock.now += 1.4
    assert breaker.refusal().retry_after == 1


def test_half_open_lets_one_probe_through(breaker, clock):
    """After the cool-down one call probes; the others are refused while it is out."""
    open_(breaker)
    clock.now += 5.0
    assert breaker.state() is State.HALF_OPEN
    assert breaker.refusal() is None
    breaker.admit()
    with pytest.raises(BreakerOpen):
        breaker.admit()
    assert breaker.refusal() is not None


def test_an_answered_probe_closes_it(breaker, clock, changes):
    """An answer to the probe (any answer, a NotFound too) closes it and says so once."""
    open_(breaker)
    clock.now += 5.0
    breaker.admit()
    breaker.succeeded()
    assert breaker.state() is State.CLOSED
    assert changes[-1] == (State.CLOSED, "")
    breaker.admit()
    breaker.succeeded()
    assert len(changes) == 2


def test_a_failed_probe_opens_it_again(breaker, clock, changes):
    """A failed probe opens it for another cool-down, without a second 'opened' line."""
    open_(breaker)
    clock.now += 5.0
    breaker.admit()
    clock.now += 2.0
    breaker.failed("DescribeInstances: ConnectTimeoutError")
    assert breaker.state() is State.OPEN
    assert breaker.refusal().retry_after == 5
    assert changes == [(State.OPEN, "DescribeInstances: ReadTimeoutError")]


def test_a_probe_that_never_ends_lets_another_probe(breaker, clock):
    """A probe whose outcome never came does not hold the breaker half-open for ever."""
    open_(breaker)
    clock.now += 5.0
    breaker.admit()
    clock.now += 5.0
    breaker.admit()


def test_late_failures_of_calls_made_before_opening_change_nothing(breaker, clock, changes):
    """Calls that were already waiting when it opened fail later: no new cool-down, no line."""
    open_(breaker)
    clock.now += 4.0
    breaker.failed("x")
    breaker.failed("x")
    assert breaker.refusal().retry_after == 1
    assert len(changes) == 1


def test_refusal_is_503_with_retry_after():
    """A refused call is answered 503 with the breaker's Retry-After and the reason."""
    error = translate(BreakerOpen(4, "DescribeInstances: ReadTimeoutError"))
    assert error.status == 503
    assert ("Retry-After", "4") in error.headers
    assert "ReadTimeoutError" in error.message


@pytest.mark.moto
def test_guarded_client_opens_on_timeouts_not_on_client_errors(moto, monkeypatch):
    """
    Through a real client: 4xx answers (NotFound) never open the breaker;
    timeouts after the retries do, and then calls are refused before any
    request is sent; after the cool-down the next call probes and closes it.
    """
    no_backoff(monkeypatch)
    clock = Clock()
    breaker = Breaker(failures_to_open=2, cool_down=5.0, clock=clock)
    client = build_clients(make_config(moto.endpoint, attempts=2))["fedcloud"]
    guard(client, breaker)
    for _ in range(3):
        with pytest.raises(ClientError):
            client.describe_instances(InstanceIds=["i-0123456789abcdef0"])
    inject(client, "DescribeVolumes", 400, "InvalidVolume.NotFound")
    for _ in range(3):
        with pytest.raises(ClientError):
            client.describe_volumes()
    assert breaker.state() is State.CLOSED

    sends = raise_on_send(client, "DescribeVpcs", ReadTimeoutError(endpoint_url=moto.endpoint),
                          times=4)
    for _ in range(2):
        with pytest.raises(ReadTimeoutError) as timed_out:
            client.describe_vpcs()
    assert timed_out.value.operation_name == "DescribeVpcs"
    assert len(sends) == 4
    assert breaker.state() is State.OPEN
    calls = count_calls(client)
    with pytest.raises(Refused) as refused:
        client.describe_vpcs()
    assert len(sends) == 4 and calls["DescribeVpcs"] == 1
    error = translate(refused.value)
    assert error.status == 503 and dict(error.headers)["Retry-After"] == "5"

    clock.now += 5.0
    assert client.describe_vpcs()["Vpcs"]
    assert breaker.state() is State.CLOSED


class NoPool:
    """A thread pool that must not be used."""

    def callInThreadWithCallback(self, *args, **kwargs):
        raise AssertionError("a thread was used while the breaker is open")


@pytest.mark.moto
def test_open_breaker_answers_without_a_thread(account):
    """
    While the account's breaker is open, its collections answer 503 with
    Retry-After at once, in the calling thread, without using the pool.
    """
    clock = Clock()
    account.breaker = Breaker(failures_to_open=1, cool_down=5.0, clock=clock)
    account.breaker.failed("DescribeInstances: ReadTimeoutError")
    computes = EC2Collection(InlineReactor(), NoPool(), account,
                             Scope(JANE, binding(vo=JANE.vo)), OPERATIONS[infra.COMPUTE])
    for answer in (computes.list(EntityFilter()), computes.get("i-0123456789abcdef0")):
        error = failureResultOf(answer, ServiceUnavailable).value
        assert ("Retry-After", "5") in error.headers


@pytest.mark.moto
def test_errors_that_are_not_outages_leave_it_closed(moto):
    """Missing credentials are the site's to fix (502), not an outage: the breaker stays closed."""
    breaker = Breaker(failures_to_open=1, cool_down=5.0, clock=Clock())
    client = build_clients(make_config(moto.endpoint))["fedcloud"]
    guard(client, breaker)
    raise_on_send(client, "DescribeVpcs", NoCredentialsError())
    for _ in range(3):
        with pytest.raises(NoCredentialsError):
            client.describe_vpcs()
    assert breaker.state() is State.CLOSED


@pytest.mark.moto
def test_backend_shows_and_logs_its_breakers(moto, monkeypatch):
    """
    The backend built from the config guards each account's client with a
    breaker, shows every (account, region) breaker's state, and logs one
    line naming account, region and last error when one opens, one when it
    closes.
    """
    no_backoff(monkeypatch)
    reactor = InlineReactor()
    config = make_config(moto.endpoint, attempts=1,
                         accounts=(AccountConfig(name="a", fqans=("/a",)),
                                   AccountConfig(name="b", fqans=("/b",))))
    backend = EC2Backend(reactor, SyncPool(), make_accounts(config, build_clients(config)))
    assert sorted(backend.breaker_states()) == [
        ("a", "eu-west-1", "closed"), ("b", "eu-west-1", "closed")]
    account = backend._served["a"].accounts[0]
    raise_on_send(account.client, "DescribeVpcs", ReadTimeoutError(endpoint_url=moto.endpoint),
                  times=FAILURES_TO_OPEN)
    with capturedLogs() as events:
        for _ in range(FAILURES_TO_OPEN):
            with pytest.raises(ReadTimeoutError):
                account.client.describe_vpcs()
        assert sorted(backend.breaker_states()) == [
            ("a", "eu-west-1", "open"), ("b", "eu-west-1", "closed")]
        with pytest.raises(Refused):
            account.client.describe_vpcs()
        monkeypatch.setattr(account.breaker, "_clock", lambda: time.monotonic() + COOL_DOWN)
        assert backend.breaker_states()[0] == ("a", "eu-west-1", "half-open")
        account.client.describe_vpcs()
    assert backend.breaker_states()[0] == ("a", "eu-west-1", "closed")
    lines = [formatEvent(event) for event in events if "breaker" in event]
    assert lines == [
        f"EC2 breaker of account a region eu-west-1 opened after {FAILURES_TO_OPEN} calls "
        f"without an answer (last: DescribeVpcs: ReadTimeoutError): its calls are answered "
        f"503 for {COOL_DOWN:g} s, then one probes",
        "EC2 breaker of account a region eu-west-1 closed: EC2 answers again"]
