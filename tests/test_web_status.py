"""
Every row of the status table (docs/status.md) that the web layer produces, through
the real HTTP stack: the status, the OCCI error body, and the C{Server} and
C{Accept} headers on each.
"""

import json
import re
from datetime import UTC, datetime

import pytest
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from occid.gsi.principal import CertificateRejected
from occid.occi import infrastructure as infra
from occid.occi import rendering
from occid.occi.errors import BadGateway, GatewayTimeout, ServiceUnavailable
from occid.server.respond import SERVER_HEADER
from occid.testing import (
    MemoryBackend,
    StaticPolicy,
    make_binding,
    make_principal,
    refuse_identity,
)
from tests.gateway import make_gateway

AMI = "ami-0123456789abcdef0"
OS_TPL = infra.os_tpl_mixin(AMI, "", "occi.example.org")
KIND = 'Category: {term}; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
ACTION = (
    'Category: {term}; '
    'scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"\n'
)
COMPUTE = (
    KIND.format(term="compute")
    + f'Category: {AMI}; scheme="{OS_TPL.scheme}"; class="mixin"\n'
    + 'X-OCCI-Attribute: occi.core.title="vm"\n'
)
TEXT = [("Content-Type", "text/plain")]


def check(response, status):
    """The response has C{status}, the Server and Accept headers, and a body."""
    assert response.status == status, response
    assert response.header("Server") == SERVER_HEADER
    assert response.header("Accept") == ", ".join(rendering.MEDIA_TYPES)
    assert response.body.strip()
    return response


def create(gateway):
    response = gateway.request("POST", "/compute/", TEXT, COMPUTE.encode())
    assert response.status == 201, response
    return response.header("Location").split("11443", 1)[1]


@pytest.fixture
def gateway():
    return make_gateway()


@pytest.mark.parametrize(
    "case, method, path, headers, body",
    [
        ("malformed body", "POST", "/compute/", TEXT, b"this is not OCCI\n"),
        ("unknown category", "POST", "/compute/", TEXT,
         (COMPUTE + 'Category: nope; scheme="http://example.org/x#"; class="mixin"\n').encode()),
        ("bad attribute value", "POST", "/compute/", TEXT,
         (COMPUTE + 'X-OCCI-Attribute: occi.compute.cores="many"\n').encode()),
        ("not exactly action=term", "POST", "{vm}?verb=stop", TEXT, b""),
        ("unknown action", "POST", "{vm}?action=fly", TEXT, b""),
        ("action mismatch", "POST", "{vm}?action=stop", TEXT, ACTION.format(term="start").encode()),
        ("uri-list on entity", "GET", "{vm}", [("Accept", "text/uri-list")], b""),
        ("uri-list on the QI", "GET", "/-/", [("Accept", "text/uri-list")], b""),
        ("bad page", "GET", "/compute/?page=zero&number=2", [], b""),
        ("create without os_tpl", "POST", "/compute/", TEXT,
         (KIND.format(term="compute") + 'X-OCCI-Attribute: occi.core.title="vm"\n').encode()),
    ],
)
def test_400(gateway, case, method, path, headers, body):
    """Malformed requests, unknown categories and actions, bad values: 400."""
    vm = create(gateway)
    before = list(gateway.backend.store.operations)
    check(gateway.request(method, path.format(vm=vm), headers, body), 400)
    assert gateway.backend.store.operations == before, "a bad request changed nothing"


def test_401_unauthenticated():
    """A request without a valid principal gets 401 naming the reason; the backend is not asked."""
    backend = MemoryBackend()
    gateway = make_gateway(backend=backend, identify=refuse_identity("no client certificate; use --voms"))
    for path in ("/-/", "/compute/", "/nowhere"):
        response = check(gateway.request("GET", path), 401)
        assert b"no client certificate" in response.body
    assert backend.catalog_calls == 0


def test_401_certificate_rejected():
    """An identify that rejects the chain (CertificateRejected) is a 401 with reason and fix."""

    def identify(request):
        raise CertificateRejected("C3", "the proxy chain is broken", "create a new proxy")

    response = check(make_gateway(identify=identify).request("GET", "/-/"), 401)
    assert b"the proxy chain is broken; create a new proxy" in response.body
    assert response.header("WWW-Authenticate") == 'X509 realm="occid"'


def test_401_expired_principal():
    """A principal that expired since the handshake (on the reactor's clock) gets 401."""
    principal = make_principal()
    gateway = make_gateway(principal=principal)
    gateway.clock.advance(
        principal.not_after.timestamp() - datetime.now(UTC).timestamp() + 1
    )
    response = check(gateway.request("GET", "/-/"), 401)
    assert b"expired" in response.body
    assert response.header("WWW-Authenticate") == 'X509 realm="occid"'



def test_403_no_account():
    """A principal no account serves gets 403 everywhere, /-/ included, naming its VO."""
    stranger = make_principal(dn="/CN=Stranger", vo="other.vo")
    gateway = make_gateway(principal=stranger, policy=StaticPolicy({}))
    for path in ("/-/", "/compute/"):
        assert b"other.vo" in check(gateway.request("GET", path), 403).body
    assert gateway.backend.catalog_calls == 0


def test_403_limited_proxy_write():
    """A read-only binding may read but gets 403 on every write."""
    gateway = make_gateway(binding=make_binding(writable=False))
    assert gateway.request("GET", "/compute/").status == 200
    for method, path in (("POST", "/compute/"), ("DELETE", "/compute/"), ("PUT", "/compute/i-1")):
        check(gateway.request(method, path, TEXT, COMPUTE.encode()), 403)
    assert gateway.backend.store.operations == []


def test_403_mixin_not_applicable(gateway):
    """An os_tpl on a storage is a mixin not applicable to the kind: 403."""
    body = (
        KIND.format(term="storage")
        + f'Category: {AMI}; scheme="{OS_TPL.scheme}"; class="mixin"\n'
        + "X-OCCI-Attribute: occi.storage.size=1\n"
    )
    check(gateway.request("POST", "/storage/", TEXT, body.encode()), 403)


def test_403_immutable_attribute(gateway):
    """Writing an immutable attribute (the state) is 403."""
    vm = create(gateway)
    check(
        gateway.request("POST", vm, TEXT, b'X-OCCI-Attribute: occi.compute.state="inactive"\n'),
        403,
    )


@pytest.mark.parametrize(
    "path", ["/nowhere/", "/compute", "/compute/i-404", "/mixin/os_tpl/ami-unknown/", "/-"]
)
def test_404(gateway, path):
    """Unknown paths and entities are 404."""
    check(gateway.request("GET", path), 404)


def test_404_other_users_entity():
    """Another member's entity is 404, never 403, for every verb."""
    backend = MemoryBackend()
    vm = create(make_gateway(backend=backend))
    bob = make_gateway(principal=make_principal(dn="/CN=Bob"), backend=backend)
    check(bob.request("GET", vm), 404)
    check(bob.request("DELETE", vm), 404)
    check(bob.request("POST", vm + "?action=stop"), 404)


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/compute/", "GET, HEAD, OPTIONS, POST, DELETE"),
        ("PATCH", "/compute/i-1", "GET, HEAD, OPTIONS, POST, PUT, DELETE"),
        ("PUT", "/-/", "GET, HEAD, OPTIONS, POST, DELETE"),
    ],
)
def test_405(gateway, method, path, allowed):
    """A method the path does not answer is 405 with Allow."""
    assert check(gateway.request(method, path), 405).header("Allow") == allowed


def test_406(gateway):
    """Nothing acceptable in Accept is 406, in text/plain."""
    response = check(gateway.request("GET", "/-/", [("Accept", "text/html")]), 406)
    assert response.header("Content-Type").startswith("text/plain")


@pytest.mark.parametrize(
    "headers",
    [[("Accept", "text/html")], [("User-Agent", "future-client OCCI/2.0")]],
)
def test_credentials_before_the_request(headers):
    """
    An unauthenticated client hears about its credentials (401) before
    anything about its request (406, 501), and a principal without an
    account gets 403 first too.
    """
    unauthenticated = make_gateway(identify=refuse_identity("no client certificate"))
    check(unauthenticated.request("GET", "/-/", headers), 401)
    unbound = make_gateway(policy=StaticPolicy({}))
    check(unbound.request("GET", "/-/", headers), 403)


def test_409(gateway):
    """start on an active compute is 409 naming the state."""
    vm = create(gateway)
    response = check(
        gateway.request("POST", vm + "?action=start", TEXT, ACTION.format(term="start").encode()),
        409,
    )
    assert b"active" in response.body


def test_413_page_size(gateway):
    """A page size over 1000 is 413."""
    check(gateway.request("GET", "/compute/?page=1&number=1001"), 413)


def test_415(gateway):
    """A body in an unsupported Content-Type is 415."""
    check(gateway.request("POST", "/compute/", [("Content-Type", "application/xml")], b"<x/>"), 415)


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("GET", "/-/", [("User-Agent", "future-client OCCI/2.0")]),
    ],
)
def test_501(gateway, method, path, headers):
    """OCCI versions above 1.2 are 501 (user-defined mixins no longer are)."""
    check(gateway.request(method, path, headers, b""), 501)


@pytest.mark.parametrize(
    "error, status, header",
    [
        (ServiceUnavailable("EC2 is throttling us", retry_after=7), 503, ("Retry-After", "7")),
        (BadGateway("EC2 answered garbage"), 502, None),
        (GatewayTimeout("EC2 took too long"), 504, None),
    ],
)
def test_backend_errors(gateway, error, status, header):
    """Errors the backend raises keep their status and headers."""
    gateway.backend.store.failure = error
    response = check(gateway.request("GET", "/compute/"), status)
    assert error.message.encode() in response.body
    if header:
        assert response.header(header[0]) == header[1]


class UnexpectedErrorTests(SynchronousTestCase):
    """What an unexpected exception answers and logs."""

    def test_500_request_id_no_traceback(self):
        """An unexpected exception is 500 with a request id; the traceback is logged, not sent."""
        gateway = make_gateway()
        gateway.backend.store.failure = RuntimeError("secret internals")
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        response = check(gateway.request("GET", "/compute/", [("Accept", "application/occi+json")]), 500)
        message = json.loads(response.body)["error"]["message"]
        [request_id] = re.findall(r"[0-9a-f]{32}", message)
        assert b"secret" not in response.body and b"Traceback" not in response.body
        [failure_event] = [e for e in events if "log_failure" in e]
        assert failure_event["request_id"] == request_id
        assert failure_event["log_failure"].check(RuntimeError)
        self.flushLoggedErrors(RuntimeError)
