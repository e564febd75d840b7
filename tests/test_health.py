"""
Tests for L{occid.server.health} (the readiness check of the trust store,
and the three resources of the metrics listener) and for the bounded
labels of L{occid.metrics} and the query as L{occid.server.context} logs it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from occid import metrics
from occid.config import CrlMode
from occid.gsi.trust import TrustStore
from occid.server.context import loggable_query
from occid.server.health import Alive, Metrics, Ready, trust_current
from tests.pki import CA_DN, PKI


@pytest.fixture
def pki(tmp_path):
    """A PKI whose CA has a current CRL."""
    return PKI(str(tmp_path / "pki"))


def clock_at(pki: PKI, later: timedelta = timedelta(0)) -> Clock:
    """A clock at the PKI's time plus C{later}."""
    clock = Clock()
    clock.advance((pki.now + later).timestamp())
    return clock


def store_of(pki: PKI) -> TrustStore:
    """The PKI's trust dir, loaded at its time."""
    return TrustStore.load(pki.certificates_dir, pki.now)


def test_trust_current(pki):
    """A trust store with current CRLs is ready."""
    store = store_of(pki)
    assert trust_current(lambda: store, CrlMode.IF_VALID, clock_at(pki))() == []


def test_crl_past_next_update(pki):
    """A CRL past its nextUpdate is a problem naming the CA (not with crl = off)."""
    store = store_of(pki)
    month = clock_at(pki, timedelta(days=31))
    [problem] = trust_current(lambda: store, CrlMode.IF_VALID, month)()
    assert CA_DN in problem and "nextUpdate" in problem and "fetch-crl" in problem
    assert trust_current(lambda: store, CrlMode.OFF, month)() == []


def test_crl_missing_under_require(pki):
    """Under crl = require, a CA without a CRL is a problem; under if-valid it is not."""
    pki.write_crl(missing=True)
    store = store_of(pki)
    [problem] = trust_current(lambda: store, CrlMode.REQUIRE, clock_at(pki))()
    assert CA_DN in problem and "no CRL" in problem
    assert trust_current(lambda: store, CrlMode.IF_VALID, clock_at(pki))() == []


def test_empty_trust_dir(tmp_path):
    """A trust dir without a usable CA is a problem naming [grid] ca_dir."""
    empty = TrustStore.load(str(tmp_path), datetime.fromtimestamp(0, UTC))
    assert trust_current(lambda: empty, CrlMode.OFF, Clock())() == [
        "the trust store holds no usable CA: check [grid] ca_dir"]


def render(resource, path: bytes = b"") -> tuple[int, bytes, DummyRequest]:
    """Render C{resource} for a GET: status, body and the request."""
    request = DummyRequest([path])
    body = resource.render(request)
    return request.responseCode or 200, body, request


def test_ready_and_not_ready():
    """/readyz: 200 without problems, else 503 naming every problem of every check, as JSON."""
    checks = [lambda: [], lambda: []]
    status, body, request = render(Ready(checks))
    assert status == 200 and json.loads(body) == {"ready": True, "problems": []}
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"application/json"]
    checks.append(lambda: ["one", "two"])
    checks.append(lambda: ["three"])
    status, body, _ = render(Ready(checks))
    assert status == 503 and json.loads(body) == {"ready": False,
                                                  "problems": ["one", "two", "three"]}


def test_alive():
    """/healthz answers 200."""
    status, body, _ = render(Alive())
    assert status == 200 and json.loads(body) == {"alive": True}


def test_metrics_parse():
    """/metrics is occid's registry, which prometheus-client's parser reads."""
    metrics.REQUESTS.labels("compute", "GET", "200").inc()
    status, body, request = render(Metrics())
    [content_type] = request.responseHeaders.getRawHeaders(b"content-type")
    assert status == 200 and content_type.startswith(b"text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"occid_requests", "occid_ec2_calls", "occid_open_connections"} <= names
    assert all(name.startswith("occid_") for name in names)


@pytest.mark.parametrize("path, kind", [
    ("/compute/", "compute"), ("/compute/i-0123", "compute"), ("/storage/vol-1", "storage"),
    ("/network/public", "network"), ("/link/storagelink/x", "link"), ("/-/", "query"),
    ("/.well-known/org/ogf/occi/-/", "query"), ("/mixin/os_tpl/x/", "other"), ("/", "other"),
    ("/" + "x" * 10_000, "other"),
])
def test_request_kind(path, kind):
    """Every path falls in one of six kinds."""
    assert metrics.request_kind(path) == kind


def test_method_label():
    """A method outside the usual few is OTHER: the label stays bounded."""
    assert metrics.method_label("DELETE") == "DELETE"
    assert metrics.method_label("BREW") == "OTHER"


@pytest.mark.parametrize("query, logged", [
    ("", ""), ("?action=stop", "?action=stop"),
    ("?access_token=eyJhbGciOi", "?access_token=*"),
    ("?action=stop&password=x&flag", "?action=stop&password=*&flag"),
])
def test_loggable_query(query, logged):
    """Query values other than action's are hidden from the log."""
    assert loggable_query(query) == logged
