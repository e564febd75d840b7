"""
Tests for L{occid.server.pipeline} and its handlers: the URL space and the
verbs, through the real HTTP stack (raw HTTP/1.1 over an in-memory transport to L{make_site}, and
C{treq.testing.StubTreq} over L{make_root}) with the memory fakes behind.
"""

import json

import pytest
from treq.testing import StubTreq
from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from occid.config import Visibility
from occid.occi import infrastructure as infra
from occid.occi import rendering
from occid.server.pipeline import make_root
from occid.server.respond import SERVER_HEADER
from occid.testing import (
    MemoryBackend,
    StaticPolicy,
    identify_as,
    make_binding,
    make_principal,
)
from tests.gateway import make_gateway

BASE = "https://occi.example.org:11443"
AMI = "ami-0123456789abcdef0"
OS_TPL = infra.os_tpl_mixin(AMI, "", "occi.example.org")
ACTION = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
COMPUTE_BODY = (
    'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    f'Category: {AMI}; scheme="{OS_TPL.scheme}"; class="mixin"\n'
    'X-OCCI-Attribute: occi.core.title="{title}"\n'
)
TEXT = [("Content-Type", "text/plain")]


def create(gateway, title="vm1"):
    """Create a compute through the web layer and return its path."""
    response = gateway.request("POST", "/compute/", TEXT, COMPUTE_BODY.format(title=title).encode())
    assert response.status == 201, response
    return response.header("Location")[len(BASE):]


def locations(response):
    """The locations of a text/plain collection rendering."""
    return [
        line.split(": ", 1)[1][len(BASE):]
        for line in response.body.decode().splitlines()
        if line.startswith("X-OCCI-Location: ")
    ]


@pytest.fixture
def gateway():
    return make_gateway()


def test_query_interface_paths_identical(gateway):
    """/-/ and /.well-known/org/ogf/occi/-/ answer byte-identical bodies."""
    first = gateway.request("GET", "/-/")
    second = gateway.request("GET", "/.well-known/org/ogf/occi/-/")
    assert first.status == second.status == 200
    assert first.body == second.body
    assert f"Category: {AMI};" in first.body.decode()
    assert first.header("Server") == SERVER_HEADER


def test_query_interface_cached_per_account_and_version(monkeypatch):
    """The QI is rendered once per (account, catalog version, type) and never shared between accounts."""
    backend = MemoryBackend()
    alice = make_gateway(backend=backend)
    other = make_gateway(
        principal=make_principal(dn="/CN=Other"),
        binding=make_binding(account="other"),
        backend=backend,
    )
    renderer = rendering.renderer("text/plain")
    calls = []
    original = renderer.categories

    def counting(catalog, base_url):
        calls.append(catalog.version)
        return original(catalog, base_url)

    monkeypatch.setattr(renderer, "categories", counting)
    for _ in range(3):
        assert alice.request("GET", "/-/").status == 200
    assert len(calls) == 1
    backend.offer("fedcloud", "ami-00000000000000042", "extra")
    assert "ami-00000000000000042" in alice.request("GET", "/-/").body.decode()
    assert len(calls) == 2
    assert "ami-00000000000000042" not in other.request("GET", "/-/").body.decode()
    assert len(calls) == 3


def test_catalog_asked_for_the_principal(monkeypatch):
    """
    The web layer asks the backend for the catalog of the requesting
    principal, so that images a user saved are offered to those who may see
    them and to nobody else.
    """
    backend = MemoryBackend()
    principal = make_principal(dn="/CN=Saver")
    asked = []
    original = backend.catalog

    def recording(binding, principal=None):
        asked.append(principal)
        return original(binding, principal)

    monkeypatch.setattr(backend, "catalog", recording)
    gateway = make_gateway(backend=backend, principal=principal)
    assert gateway.request("GET", "/-/").status == 200
    assert asked == [principal]


def test_query_interface_filter(gateway):
    """A Category header on GET /-/ restricts the QI to that category."""
    response = gateway.request(
        "GET", "/-/",
        [("Category", 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"')],
    )
    assert response.status == 200
    lines = response.body.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Category: compute;")


def test_query_interface_json(gateway):
    """The JSON QI lists kinds, mixins and actions."""
    response = gateway.request("GET", "/-/", [("Accept", "application/occi+json")])
    assert response.status == 200
    assert response.header("Content-Type").startswith("application/occi+json")
    model = json.loads(response.body)
    assert {"kinds", "mixins", "actions"} <= set(model)


def test_create_get_update_delete(gateway):
    """The entity life cycle: 201 + absolute Location, read, update, replace, delete."""
    response = gateway.request("POST", "/compute/", TEXT, COMPUTE_BODY.format(title="vm1").encode())
    assert response.status == 201
    location = response.header("Location")
    assert location.startswith(BASE + "/compute/i-")
    assert response.header("X-OCCI-Location") == location
    path = location[len(BASE):]
    entity = gateway.request("GET", path)
    assert entity.status == 200
    assert 'occi.core.title="vm1"' in entity.body.decode()
    updated = gateway.request(
        "POST", path, TEXT, b'X-OCCI-Attribute: occi.core.title="renamed"\n'
    )
    assert updated.status == 200
    assert 'occi.core.title="renamed"' in updated.body.decode()
    replaced = gateway.request(
        "PUT", path, TEXT,
        COMPUTE_BODY.format(title="replaced").encode(),
    )
    assert replaced.status == 200, replaced
    assert 'occi.core.title="replaced"' in replaced.body.decode()
    deleted = gateway.request("DELETE", path)
    assert deleted.status == 200
    assert gateway.request("GET", path).status == 404


def test_create_text_occi_and_json(gateway):
    """Creates in text/occi headers and in OCCI JSON answer 201 too."""
    occi = gateway.request(
        "POST", "/compute/",
        [
            ("Content-Type", "text/occi"),
            ("Accept", "text/occi"),
            ("Category", 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind", '
                         f'{AMI}; scheme="{OS_TPL.scheme}"; class="mixin"'),
            ("X-OCCI-Attribute", 'occi.core.title="by-headers"'),
        ],
    )
    assert occi.status == 201, occi
    assert occi.body == b"OK"
    body = json.dumps({
        "kind": infra.COMPUTE.identifier, "mixins": [OS_TPL.identifier],
        "attributes": {"occi.core.title": "by-json"}, "id": "ignored",
    }).encode()
    created = gateway.request(
        "POST", "/compute/",
        [("Content-Type", "application/occi+json"), ("Accept", "application/occi+json")], body,
    )
    assert created.status == 201, created
    assert json.loads(created.body)["location"] == created.header("Location")


def test_listing_and_uri_list(gateway):
    """A collection lists absolute locations in text/plain and text/uri-list; empty is 200."""
    empty = gateway.request("GET", "/compute/")
    assert empty.status == 200 and empty.body == b""
    paths = [create(gateway, f"vm{n}") for n in range(2)]
    assert locations(gateway.request("GET", "/compute/")) == paths
    uris = gateway.request("GET", "/compute/", [("Accept", "text/uri-list")])
    assert uris.status == 200
    assert uris.body.decode().split() == [BASE + p for p in paths]


def test_listing_filter_header(gateway):
    """An X-OCCI-Attribute header on a collection GET filters the entities."""
    create(gateway, "keep")
    create(gateway, "drop")
    response = gateway.request(
        "GET", "/compute/", [("X-OCCI-Attribute", 'occi.core.title="keep"')]
    )
    assert len(locations(response)) == 1


def test_pagination(gateway):
    """?page=N&number=M slices the listing; past the end is an empty 200."""
    paths = [create(gateway, f"vm{n}") for n in range(5)]
    assert locations(gateway.request("GET", "/compute/?page=2&number=2")) == paths[2:4]
    assert locations(gateway.request("GET", "/compute/?page=3&number=2")) == paths[4:]
    beyond = gateway.request("GET", "/compute/?page=9&number=2")
    assert beyond.status == 200 and beyond.body == b""


def test_collection_delete_only_owned():
    """DELETE on a collection removes only the principal's own entities, whatever it sees."""
    backend = MemoryBackend()
    manager = make_gateway(
        principal=make_principal(dn="/CN=Manager"),
        binding=make_binding(visibility=Visibility.MANAGER), backend=backend,
    )
    member = make_gateway(backend=backend)
    mine = create(manager, "manager-vm")
    theirs = create(member, "member-vm")
    assert manager.request("DELETE", "/compute/").status == 200
    assert manager.request("GET", mine).status == 404
    assert manager.request("GET", theirs).status == 200


def test_entity_actions(gateway):
    """
    ?action=stop answers 200 with no rendering (issue 10, point 12: rOCCI-cli
    reads a trigger's answer as the categories of a save), and the entity is
    stopped; save answers the new os_tpl category.
    """
    path = create(gateway)
    stopped = gateway.request(
        "POST", path + "?action=stop", TEXT,
        f'Category: stop; scheme="{ACTION}"; class="action"\n'.encode(),
    )
    assert stopped.status == 200
    assert stopped.body == b""
    assert 'occi.compute.state="inactive"' in gateway.request("GET", path).body.decode()
    saved = gateway.request(
        "POST", path + "?action=save", TEXT,
        f'Category: save; scheme="{ACTION}"; class="action"\n'
        'X-OCCI-Attribute: name="golden"\n'.encode(),
    )
    assert saved.status == 200
    assert saved.body.decode().startswith("Category: ami-")
    assert 'title="golden"' in saved.body.decode()


def test_collection_action(gateway):
    """
    ?action=stop on a collection stops every member it applies to, and
    answers 200 without renderings, like a trigger on one entity.
    """
    first, second = create(gateway), create(gateway)
    gateway.request("POST", first + "?action=stop")
    response = gateway.request("POST", "/compute/?action=stop")
    assert response.status == 200
    assert response.body == b""
    assert [op[2] for op in gateway.backend.store.operations if op[0] == "trigger"] == [
        first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]]
    for path in (first, second):
        assert 'state="inactive"' in gateway.request("GET", path).body.decode()


def test_head_and_options(gateway):
    """HEAD is GET without a body; OPTIONS lists Allow and Accept."""
    path = create(gateway)
    got = gateway.request("GET", path)
    head = gateway.request("HEAD", path)
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == got.header("Content-Length")
    options = gateway.request("OPTIONS", "/compute/")
    assert options.status == 200
    assert options.header("Allow") == "GET, HEAD, OPTIONS, POST, DELETE"
    assert options.header("Accept") == ", ".join(rendering.MEDIA_TYPES)


def test_mixin_collections(gateway):
    """Mixin collections list the entities carrying the mixin (or a template of the parent)."""
    path = create(gateway)
    assert locations(gateway.request("GET", f"/mixin/os_tpl/{AMI}/")) == [path]
    assert locations(gateway.request("GET", "/mixin/os_tpl/")) == [path]
    assert locations(gateway.request("GET", "/mixin/resource_tpl/t3_micro/")) == []
    assert gateway.request("POST", f"/mixin/os_tpl/{AMI}/").status == 403


def test_links(gateway):
    """A link is created at its kind's location and lives there."""
    compute = create(gateway)
    body = (
        'Category: networkinterface; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
        f'X-OCCI-Attribute: occi.core.source="{compute}"\n'
        'X-OCCI-Attribute: occi.core.target="/network/public"\n'
    ).encode()
    response = gateway.request("POST", "/link/networkinterface/", TEXT, body)
    assert response.status == 201, response
    link = response.header("Location")[len(BASE):]
    assert link.startswith("/link/networkinterface/")
    assert gateway.request("GET", link).status == 200


class StructuredLogTests(SynchronousTestCase):
    """The request log."""

    def test_structured_log(self):
        """Each request logs one event with method, path, status, dn, account and request id."""
        gateway = make_gateway()
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        gateway.request("GET", "/compute/")
        [event] = [e for e in events if e.get("status") == 200]
        assert event["method"] == "GET" and event["path"] == "/compute/"
        assert event["dn"] == make_principal().dn and event["account"] == "fedcloud"
        assert len(event["request_id"]) == 32


def test_root_through_stubtreq():
    """make_root alone serves OCCI with Server and Accept headers (treq StubTreq)."""
    principal = make_principal()
    clock = MemoryReactorClock()
    root = make_root(
        MemoryBackend(), StaticPolicy({principal.dn: make_binding()}),
        identify_as(principal), BASE, clock,
    )
    stub = StubTreq(root)
    results = []
    stub.get(BASE + "/-/").addCallback(results.append)
    stub.flush()
    [response] = results
    assert response.code == 200
    assert response.headers.getRawHeaders("Server") == [SERVER_HEADER]
    assert response.headers.getRawHeaders("Accept") == [", ".join(rendering.MEDIA_TYPES)]
