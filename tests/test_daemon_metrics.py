"""
Issue 17, logs and metrics, end to end: the real daemon over TLS on
127.0.0.1 with C{[metrics]} on a loopback port of its own, a moto EC2
server, a proxy and an OIDC issuer's tokens, curl as the OCCI client and
urllib (plain HTTP, no certificate) as the scraper.

  - C{/metrics} parses with prometheus-client's parser, and its counters
    move with the requests made (N GETs of /compute/ raise the request
    counter of compute/GET/200 by N, and the EC2 call counters rise);
    C{/healthz} is 200; C{/readyz} is 200 once the catalogues are loaded,
    and 503 naming the catalogue while EC2 cannot be reached; the metrics
    port takes no certificate while the OCCI port still wants one.
  - Each request's log line carries method, path and query, status,
    duration, bytes, peer, user (DN or token subject), account and request
    id; with C{--log-format json} every line is one JSON object and the
    request events carry the same fields as keys; no token and no byte of
    the proxy appears in either log.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, metrics_listener
from tests.issuer import serving_issuer
from tests.motoserver import free_port

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

SUBJECT = "alice@egi.eu"

#: A query parameter a careless client might put a secret in.
SECRET = "s3cr3t-in-the-query"

#: The request line's fields, in the text output (L{occid.server.pipeline.REQUEST_LOG}).
REQUEST_LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>[\d.]+)ms (?P<bytes>\d+)B "
    r"peer=(?P<peer>127\.0\.0\.1:\d+) user=(?P<user>'[^']*'|\"[^\"]*\") account=(?P<account>\S+) "
    r"request=(?P<request>[0-9a-f]{32})$")


@pytest.fixture(scope="module")
def issuer():
    """The module's OIDC issuer, its users members of testvo."""
    from occid.demo.issuer import entitlement

    with serving_issuer() as (issuer, _):
        issuer.users.update({SUBJECT: (entitlement("testvo", "vm_operator"),)})
        yield issuer


def make_daemon(directory, pki, endpoint, issuer, *options: str) -> Daemon:
    """
    A daemon taking proxies and tokens for testvo, with EC2 at C{endpoint}
    and [metrics] on a free loopback port.
    """
    metrics, url = metrics_listener()
    accounts = f"""
[[accounts]]
name = "testvo"
fqans = ["/testvo"]

[oidc]
[[oidc.issuers]]
url = "{issuer.url}"
{metrics}"""
    daemon = Daemon(directory, pki, endpoint, accounts=accounts, options=options)
    daemon.metrics_url = url
    return daemon


@pytest.fixture(scope="module")
def daemon(pki, moto_server, issuer, tmp_path_factory):
    """One daemon for the module, logging text."""
    moto_server.reset()
    daemon = make_daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint, issuer)
    daemon.start()
    wait_ready(daemon)
    yield daemon
    assert daemon.stop()


def get(daemon, path: str) -> tuple[int, str]:
    """GET C{path} of the metrics listener over plain HTTP: status and body."""
    try:
        with urllib.request.urlopen(daemon.metrics_url + path, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_ready(daemon, timeout: float = 60.0) -> None:
    """Wait until /readyz answers 200 (every catalogue loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = get(daemon, "/readyz")
        except OSError:
            status, body = 0, "not listening"
        if status == 200:
            return
        assert time.monotonic() < deadline, f"/readyz still {status}: {body}\n{daemon.log()}"
        time.sleep(0.2)


def samples(daemon) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by name and labels."""
    status, body = get(daemon, "/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def value(found, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found, name: str) -> float:
    """The sum of every sample of C{name}."""
    return sum(v for (n, _), v in found.items() if n == name)


def test_metrics_move_with_requests(daemon, proxy):
    """
    N GETs of /compute/ (a connection each) raise compute/GET/200 by N; EC2
    calls are counted and timed, handshakes counted, the chain found in the
    principal cache after the first.
    """
    before = samples(daemon)
    for _ in range(3):
        assert curl(daemon, proxy, "/compute/").status == 200
    after = samples(daemon)
    name = "occid_requests_total"
    assert value(after, name, kind="compute", method="GET", status="200") - value(
        before, name, kind="compute", method="GET", status="200") == 3
    assert value(after, "occid_request_duration_seconds_count", kind="compute") - value(
        before, "occid_request_duration_seconds_count", kind="compute") == 3
    calls = value(after, "occid_ec2_calls_total", operation="DescribeInstances", outcome="ok")
    assert calls - value(before, "occid_ec2_calls_total", operation="DescribeInstances",
                         outcome="ok") >= 3
    assert value(after, "occid_ec2_call_duration_seconds_count",
                 operation="DescribeInstances") >= calls
    assert total(after, "occid_tls_authentications_total") > total(
        before, "occid_tls_authentications_total")
    assert value(after, "occid_principal_cache_lookups_total", result="hit") - value(
        before, "occid_principal_cache_lookups_total", result="hit") >= 2
    assert value(after, "occid_catalogue_age_seconds", account="testvo", region="eu-west-1") >= 0
    assert ("occid_open_connections", frozenset()) in after


def test_health_and_readiness(daemon):
    """/healthz and /readyz answer 200 with JSON; an unknown path is 404."""
    assert get(daemon, "/healthz")[0] == 200
    status, body = get(daemon, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "problems": []}
    assert get(daemon, "/nothing")[0] == 404


def test_not_ready_without_ec2(pki, issuer, tmp_path):
    """
    With EC2 unreachable, /readyz is 503 naming the catalogue (and, once
    the catalogue's attempts opened it, the account's breaker); /healthz
    stays 200.
    """
    daemon = make_daemon(str(tmp_path), pki, f"http://127.0.0.1:{free_port()}", issuer)
    daemon.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(daemon, "/readyz")
                break
            except OSError:
                assert time.monotonic() < deadline, daemon.log()
                time.sleep(0.2)
        ready = json.loads(body)
        assert status == 503 and ready["ready"] is False
        assert ready["problems"][0] == "the catalogue of account testvo in eu-west-1 is not loaded yet"
        assert ready["problems"][1:] in ([], [
            "EC2 does not answer account testvo in eu-west-1: its breaker is open"])
        assert get(daemon, "/healthz")[0] == 200
    finally:
        assert daemon.stop()


def test_metrics_port_plain_occi_port_certificate(daemon):
    """The metrics port is served without a certificate; the OCCI port still wants one."""
    assert get(daemon, "/metrics")[0] == 200
    assert curl(daemon, None, "/compute/").status == 401


def request_lines(log: str) -> list[re.Match]:
    """The request events of a text log."""
    return [m for line in log.splitlines() if (m := REQUEST_LINE.search(line))]


def test_text_request_lines(daemon, proxy, issuer):
    """Each request's text line names every field; neither the token nor the proxy appears."""
    mark = daemon.log_mark()
    token = issuer.mint(SUBJECT)
    assert curl(daemon, proxy, f"/compute/?secret={SECRET}").status == 200
    assert curl(daemon, None, "/storage/", "-H", f"Authorization: Bearer {token}").status == 200
    assert curl(daemon, None, "/compute/", "-H", "Authorization: Bearer not-a-token").status == 401
    deadline = time.monotonic() + 10
    while len(request_lines(daemon.log(mark))) < 3:
        assert time.monotonic() < deadline, daemon.log(mark)
        time.sleep(0.1)
    by_proxy, by_token, refused = request_lines(daemon.log(mark))
    assert by_proxy["method"] == "GET" and by_proxy["path"] == "/compute/?secret=*"
    assert by_proxy["status"] == "200" and float(by_proxy["ms"]) > 0
    assert by_proxy["user"].startswith("'/DC=") and by_proxy["account"] == "testvo"
    assert by_token["path"] == "/storage/" and by_token["status"] == "200"
    assert by_token["user"] == repr(f"{issuer.url} {SUBJECT}") and by_token["account"] == "testvo"
    assert refused["status"] == "401" and int(refused["bytes"]) > 0
    assert refused["user"] == "'-'" and refused["account"] == "-"
    assert len({by_proxy["request"], by_token["request"], refused["request"]}) == 3
    assert_no_secrets(daemon.log(), proxy, token)


def assert_no_secrets(log: str, proxy: str, token: str) -> None:
    """Neither C{token}, nor the query secret, nor any base64 line of the proxy file is in C{log}."""
    assert token not in log and token.split(".")[-1] not in log
    assert SECRET not in log and "not-a-token" not in log
    with open(proxy, encoding="ascii") as f:
        pem_lines = [line.strip() for line in f if line.strip() and "-----" not in line]
    assert pem_lines and not [line for line in pem_lines if line in log]


def test_json_log_format(pki, moto_server, issuer, proxy, tmp_path):
    """--log-format json: every line one JSON object; the request events carry the fields."""
    daemon = make_daemon(str(tmp_path), pki, moto_server.endpoint, issuer, "--log-format", "json")
    daemon.start()
    try:
        wait_ready(daemon)
        token = issuer.mint(SUBJECT)
        assert curl(daemon, proxy, "/compute/?action=stop").status > 0
        assert curl(daemon, None, "/compute/", "-H", f"Authorization: Bearer {token}").status == 200
    finally:
        assert daemon.stop()
    log = daemon.log()
    events = [json.loads(line) for line in log.splitlines()]
    assert all(isinstance(event, dict) for event in events) and len(events) > 5
    requests = [event for event in events if "request_id" in event and "duration_ms" in event]
    assert len(requests) == 2, requests
    fields = {"method", "path", "query", "status", "duration_ms", "bytes", "peer", "dn",
              "account", "request_id", "text"}
    assert all(fields <= event.keys() for event in requests)
    by_proxy, by_token = requests
    assert by_proxy["query"] == "?action=stop" and by_proxy["dn"].startswith("/DC=")
    assert by_token["dn"] == f"{issuer.url} {SUBJECT}" and by_token["status"] == 200
    assert by_token["peer"].startswith("127.0.0.1:") and by_token["account"] == "testvo"
    assert REQUEST_LINE.search(by_token["text"])
    assert_no_secrets(log, proxy, token)
