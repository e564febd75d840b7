"""
The wire fixes of issue 10, through the real HTTP stack over the memory
fakes: text/occi on one header line per field name (point 1), titles
without commas (2), 1.1 text renderings for clients announcing OCCI/1.1
(3), category locations as paths (4), Location on 201 only (9), C{GET /}
(10), and the small ones of point 12 (the "has class None" error, the
query string in the request log, triggers answered without the entity).
Answers are read with L{tests.rocci43}, as rOCCI-core 4.3 reads them.
"""

import json

import pytest
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from occid.ec2.vocabulary import EC2_KINDS
from occid.occi import infrastructure as infra
from occid.occi.negotiation import ONLY_IN_1_2, OCCIVersion, client_version
from occid.testing import MemoryBackend
from tests import rocci43
from tests.gateway import make_gateway
from tests.test_web_rocci import USER_AGENT

BASE = "https://occi.example.org:11443"
#: The kinds of the fake's catalog: the core's and EC2's (snapshots).
KINDS = infra.KINDS + EC2_KINDS
AMI = "ami-0123456789abcdef0"
OS_TPL = infra.os_tpl_mixin(AMI, "", "occi.example.org")
COMPUTE_BODY = (
    'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    f'Category: {AMI}; scheme="{OS_TPL.scheme}"; class="mixin"\n'
    'X-OCCI-Attribute: occi.core.title="vm1"\n'
)
ACTION = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
TEXT = [("Content-Type", "text/plain")]
OCCI_1_1 = [("User-Agent", USER_AGENT)]


def big_backend() -> MemoryBackend:
    """A backend offering 500 images: a query interface of over 100 KB."""
    return MemoryBackend(amis=[(AMI, "ubuntu")]
                         + [(f"ami-{i:017x}", f"image-{i}") for i in range(500)])


def create(gateway) -> str:
    """A compute's path."""
    response = gateway.request("POST", "/compute/", TEXT, COMPUTE_BODY.encode())
    assert response.status == 201, response
    return response.header("Location")[len(BASE):]


def read(response, what, *args):
    """C{response} read by rOCCI-core 4.3's rules (L{tests.rocci43})."""
    return what(response.header("Content-Type"), list(response.headers),
                response.body.decode(), *args)


def header_names(response) -> list[str]:
    return [name.lower() for name, _ in response.headers]


# -- point 1: one header line per field name ---------------------------------------


@pytest.mark.parametrize("user_agent", [OCCI_1_1, []])
def test_text_occi_one_line_per_field(user_agent):
    """
    A text/occi query interface of over 100 KB and an entity carry each
    field name on one header line, and the whole model reads from the first
    lines: every image, template, zone and action.
    """
    gateway = make_gateway(backend=big_backend())
    accept = [("Accept", "text/occi"), *user_agent]
    qi = gateway.request("GET", "/-/", accept)
    assert qi.status == 200
    assert header_names(qi).count("category") == 1
    assert len(qi.header("Category")) > 100_000
    model = read(qi, rocci43.model)
    for i in range(500):
        model.mixin("os_tpl", f"ami-{i:017x}")
    model.mixin("resource_tpl", "t3_micro")
    model.mixin("availability_zone", "eu-west-1b")
    model.action("compute", "stop")
    path = create(gateway)
    entity = gateway.request("GET", path, accept)
    for name in ("category", "link", "x-occi-attribute"):
        assert header_names(entity).count(name) == 1, name
    [parsed] = read(entity, rocci43.entities)
    assert parsed.id == path.rsplit("/", 1)[1]


# -- point 2: titles without commas -------------------------------------------------


@pytest.mark.parametrize("media_type", ["text/plain", "text/occi"])
def test_generated_titles_have_no_comma(media_type):
    """No category title occid makes (resource_tpl, zones, kinds...) holds a comma."""
    qi = make_gateway().request("GET", "/-/", [("Accept", media_type), *OCCI_1_1])
    titles = [c.title for c in read(qi, rocci43.model).categories]
    assert "t3.micro - 2 cores and 1.0 GiB RAM" in titles
    assert all(title and "," not in title for title in titles), titles


# -- point 3: 1.1 renderings for 1.1 clients ------------------------------------------


def test_client_version():
    """User-Agent to OCCI version: OCCI/1.1 (or older) alone means 1.1."""
    assert client_version(USER_AGENT) == OCCIVersion.V1_1
    assert client_version("jOCCI OCCI/1.0") == OCCIVersion.V1_1
    for user_agent in (None, "", "curl/8", "x OCCI/1.2", "x OCCI/1.1 OCCI/1.2", "x OCCI/1.3"):
        assert client_version(user_agent) == OCCIVersion.V1_2, user_agent


@pytest.mark.parametrize("media_type", ["text/plain", "text/occi"])
def test_occi_1_1_text_renderings(media_type):
    """
    A client announcing OCCI/1.1 gets no 1.2-only attribute, in an entity or
    in the model's attribute lists, so rOCCI-core's nested attributes keep
    the compute's state; 1.2 clients and clients naming no version keep
    them.
    """
    gateway = make_gateway()
    path = create(gateway)
    [stored] = [s for key, s in gateway.backend.store.entities.items() if key[2] in path]
    stored.entity.attributes["occi.compute.state.message"] = "booting"
    stored.entity.attributes["occi.compute.share"] = 2
    accept = [("Accept", media_type)]
    old = gateway.request("GET", path, accept + OCCI_1_1)
    [entity] = read(old, rocci43.entities)
    assert rocci43.attribute(entity.attributes, "occi.compute.state") == "active"
    assert not any(name in old.body.decode() + str(old.headers) for name in ONLY_IN_1_2)
    model = read(gateway.request("GET", "/-/", accept + OCCI_1_1), rocci43.model)
    for category in model.categories:
        assert not set(a.split("{")[0] for a in category.attributes) & ONLY_IN_1_2, category
    for user_agent in ([], [("User-Agent", "client OCCI/1.2")]):
        new = gateway.request("GET", path, accept + user_agent)
        text = new.body.decode() + str(new.headers)
        assert 'occi.compute.state.message="booting"' in text
        assert "occi.compute.share=2" in text
        qi = gateway.request("GET", "/-/", accept + user_agent)
        assert "occi.compute.state.message{immutable}" in qi.body.decode() + str(qi.headers)


def test_query_interface_cached_per_version():
    """The cached query interface of one version is never served to the other."""
    gateway = make_gateway()
    first = gateway.request("GET", "/-/", OCCI_1_1).body
    second = gateway.request("GET", "/-/").body
    assert b"state.message" not in first and b"state.message" in second
    assert gateway.request("GET", "/-/", OCCI_1_1).body == first


# -- point 4: category locations are paths -----------------------------------------------


@pytest.mark.parametrize("media_type", ["text/plain", "text/occi", "application/occi+json"])
def test_category_locations_are_paths(media_type):
    """
    Kind and mixin locations in the query interface are paths (/compute/);
    entity locations in collections and a 201's Location stay absolute URLs.
    """
    gateway = make_gateway()
    qi = gateway.request("GET", "/-/", [("Accept", media_type)])
    if media_type == "application/occi+json":
        model = json.loads(qi.body)
        found = {c["term"]: c["location"] for c in model["kinds"] + model["mixins"]
                 if "location" in c}
    else:
        found = {c.term: c.location for c in read(qi, rocci43.model).categories if c.location}
    assert found["compute"] == "/compute/"
    assert found["t3_micro"] == "/mixin/resource_tpl/t3_micro/"
    assert all(location.startswith("/") for location in found.values()), found
    created = gateway.request("POST", "/compute/", TEXT, COMPUTE_BODY.encode())
    url = created.header("Location")
    assert url.startswith(BASE + "/compute/i-")
    listing = gateway.request("GET", "/compute/", [("Accept", "text/uri-list")])
    assert read(listing, rocci43.locations) == [url]


# -- point 9: Location on a 201 only ---------------------------------------------------------


def test_no_location_on_collections():
    """A text/occi collection is X-OCCI-Location only: each entity is listed once."""
    gateway = make_gateway()
    first, second = create(gateway), create(gateway)
    listing = gateway.request("GET", "/compute/", [("Accept", "text/occi")])
    assert listing.status == 200
    assert "location" not in header_names(listing)
    assert listing.header("X-OCCI-Location") == f"{BASE}{first},{BASE}{second}"
    assert read(listing, rocci43.locations) == [BASE + first, BASE + second]


# -- point 10: GET / --------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type, body", [
    ("text/plain", "".join(f"X-OCCI-Location: {BASE}{k.location}\n"
                           for k in KINDS if k.location).encode()),
    ("text/occi", b"OK"),
    ("text/uri-list", "".join(f"{BASE}{k.location}\n" for k in KINDS if k.location).encode()),
    ("application/occi+json", json.dumps(
        {"locations": [BASE + k.location for k in KINDS if k.location]}).encode()),
])
def test_root_answers_the_hierarchy(media_type, body):
    """GET / answers the kind collections' locations in the negotiated type, not 404."""
    response = make_gateway().request("GET", "/", [("Accept", media_type)])
    assert response.status == 200, response
    assert response.header("Content-Type") == media_type
    assert json.loads(response.body) == json.loads(body) if "json" in media_type else (
        response.body == body)
    if media_type == "text/occi":
        assert read(response, rocci43.locations) == [
            BASE + k.location for k in KINDS if k.location]
    assert "location" not in header_names(response)


def test_root_methods():
    """/ answers GET, HEAD and OPTIONS; a POST is 405."""
    gateway = make_gateway()
    assert gateway.request("HEAD", "/").status == 200
    assert gateway.request("OPTIONS", "/").header("Allow") == "GET, HEAD, OPTIONS"
    assert gateway.request("POST", "/", TEXT, COMPUTE_BODY.encode()).status == 405


# -- point 12 ---------------------------------------------------------------------------------------


def test_category_without_class_is_named():
    """A category without class is 400 saying so, not "has class None"."""
    body = COMPUTE_BODY.replace('; class="kind"', "").encode()
    response = make_gateway().request("POST", "/compute/", TEXT, body)
    assert response.status == 400
    assert b"None" not in response.body
    assert b'category compute has no class; add class="kind"' in response.body


@pytest.mark.parametrize("term", ["stop", "start", "restart"])
@pytest.mark.parametrize("media_type, empty", [
    ("text/plain", b""), ("text/occi", b"OK"), ("application/occi+json", b"")])
def test_trigger_answers_no_entity(term, media_type, empty):
    """
    stop, start and restart answer 200 with the media type's empty
    rendering, no entity (rOCCI-cli printed it as a saved image's mixins),
    and no Location.
    """
    gateway = make_gateway()
    path = create(gateway)
    if term == "start":
        gateway.request("POST", path + "?action=stop")
    response = gateway.request(
        "POST", path + f"?action={term}", [("Accept", media_type), *TEXT],
        f'Category: {term}; scheme="{ACTION}"; class="action"\n'.encode())
    assert response.status == 200, response
    assert response.body == empty
    assert not [n for n in header_names(response) if n in ("category", "x-occi-attribute")]
    assert "location" not in header_names(response)
    assert gateway.backend.store.operations[-1][0] == "trigger"


def test_save_answers_the_new_os_tpl():
    """save still answers the new os_tpl category, readable by rOCCI-core 4.3."""
    gateway = make_gateway()
    path = create(gateway)
    response = gateway.request(
        "POST", path + "?action=save", [("Accept", "text/occi"), *TEXT],
        f'Category: save; scheme="{ACTION}"; class="action"\n'
        'X-OCCI-Attribute: name="golden"\n'.encode())
    assert response.status == 200
    [category] = read(response, rocci43.model).categories
    assert category.title == "golden" and category.term.startswith("ami-")


class AccessLogTests(SynchronousTestCase):
    """The request log keeps the query string."""

    def test_query_string_logged(self):
        """POST <vm>?action=stop is logged with its query, not as an update."""
        gateway = make_gateway()
        path = create(gateway)
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        gateway.request("POST", path + "?action=stop")
        [event] = [e for e in events if e.get("status") == 200]
        assert event["path"] == path and event["query"] == "?action=stop"
        assert event["log_format"].startswith("{method} {path}{query} {status}")
