"""Tests for L{occid.occi.rendering}: the media-type API of the web layer."""

import contextlib
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occid.ec2.vocabulary import resource_tpl_mixin
from occid.occi import infrastructure as infra
from occid.occi import textrender
from occid.occi.catalog import Catalog
from occid.occi.errors import (
    BadRequest,
    NotFound,
    OCCIError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from occid.occi.model import Document, Link, Resource
from occid.occi.rendering import MEDIA_TYPES, media_type_of, parse, renderer
from occid.occi.resolve import path_of
from occid.occi.textrender import attribute_definitions, rel_of
from tests.occivectors import schema_validator

BASE = "https://occi.example.org:11443"
AMI = infra.os_tpl_mixin("ami-0123456789abcdef0", 'Ubuntu "noble"', "example.org")
T3 = resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")
ZONE = infra.availability_zone_mixin("eu-west-1a", "example.org")
CATALOG = Catalog([AMI, T3, ZONE], version="v1")
TEXT_TYPES = ("text/plain", "text/occi")


def _compute(title="vm1", actions=(infra.COMPUTE_STOP, infra.COMPUTE_RESTART)):
    nic = Link(kind=infra.NETWORKINTERFACE, id="i-1_nic_eni-1", source="/compute/i-1",
               target="/network/vpc-1", mixins=[infra.IPNETWORKINTERFACE],
               attributes={"occi.networkinterface.address": "10.0.0.5",
                           "occi.networkinterface.state": "active"},
               source_kind=infra.COMPUTE, target_kind=infra.NETWORK)
    return Resource(
        kind=infra.COMPUTE, id="i-1", mixins=[AMI, T3],
        attributes={"occi.core.title": title, "occi.compute.cores": 2,
                    "occi.compute.memory": 1.0, "occi.compute.state": "active",
                    "com.amazon.aws.ec2.encrypted": False},
        actions=list(actions), links=[nic])


def _reparse(media_type, rendered):
    """Parse a rendering back the way a client would."""
    if media_type == "text/occi":
        return parse("text/occi", list(rendered.headers), rendered.body)
    return parse(media_type, [], rendered.body)


def _entity_from(document, catalog):
    """Rebuild a Resource from a parsed rendering (the client's view)."""
    kind, *mixins = [catalog.lookup(c.identifier) for c in document.categories]
    attributes = dict(document.attributes)
    entity_id = attributes.pop("occi.core.id")
    actions, links = [], []
    for ref in document.links:
        if "?action=" in ref.target:
            actions.append(catalog.lookup(ref.rel[0]))
            continue
        link_kind, *link_mixins = [catalog.lookup(i) for i in ref.categories]
        link_attributes = dict(ref.attributes)
        link_id = link_attributes.pop("occi.core.id")
        source = path_of(link_attributes.pop("occi.core.source"))
        target = path_of(link_attributes.pop("occi.core.target"))
        assert path_of(ref.target) == target
        assert path_of(ref.self_location) == link_kind.location + link_id
        links.append(Link(kind=link_kind, id=link_id, source=source, target=target,
                          mixins=link_mixins, attributes=link_attributes,
                          source_kind=kind, target_kind=catalog.lookup(ref.rel[0])))
    return Resource(kind=kind, id=entity_id, mixins=mixins, attributes=attributes,
                    actions=actions, links=links)


# -- parse ------------------------------------------------------------------


def test_media_type_of():
    """rOCCI-cli's 'text/plain,text/occi' is text/plain; parameters go; empty is text/plain."""
    assert media_type_of("text/plain,text/occi") == "text/plain"
    assert media_type_of("Application/OCCI+JSON; charset=utf-8") == "application/occi+json"
    assert media_type_of("") == "text/plain"


def test_parse_dispatch():
    """Each input type reads its own place; others are 415."""
    headers = [("Category", 'compute;scheme="http://schemas.ogf.org/occi/infrastructure#";'
                            'class="kind"'), ("Server", "x")]
    body = b"X-OCCI-Attribute: occi.core.title=\"a\"\n"
    assert parse("text/occi", headers, body).categories[0].term == "compute"
    assert parse("text/occi", headers, body).attributes == {}
    assert parse("text/plain,text/occi", headers, body).attributes == {
        "occi.core.title": "a"}
    assert parse("", headers, b"  \n").categories[0].term == "compute"
    assert parse("application/json", [], b"") == Document()
    with pytest.raises(UnsupportedMediaType):
        parse("application/xml", [], b"<x/>")


# -- renderers --------------------------------------------------------------


def test_renderers_exist():
    """There is one renderer per output media type, stating its type."""
    for media_type in MEDIA_TYPES:
        assert renderer(media_type).media_type == media_type


@pytest.mark.parametrize("media_type", TEXT_TYPES)
def test_entity_round_trip(media_type):
    """Rendering a compute and parsing it back gives the same entity."""
    compute = _compute(title="a, b; \"c\" \\ d\u2028e")
    rendered = renderer(media_type).entity(compute, BASE)
    assert _entity_from(_reparse(media_type, rendered), CATALOG) == compute


def test_entity_text_plain_shape():
    """Categories first, action links before resource links, occi.core.id first."""
    body = renderer("text/plain").entity(_compute(), BASE).body.decode()
    lines = body.splitlines()
    assert [line.split(":")[0] for line in lines] == (
        ["Category"] * 3 + ["Link"] * 3 + ["X-OCCI-Attribute"] * 6)
    assert lines[3] == (f'Link: <{BASE}/compute/i-1?action=stop>; '
                        f'rel="{infra.COMPUTE_STOP.identifier}"')
    assert lines[5].startswith(
        f'Link: <{BASE}/network/vpc-1>; rel="{infra.NETWORK.identifier}"; '
        f'self="{BASE}/link/networkinterface/i-1_nic_eni-1"; category="')
    assert lines[6] == 'X-OCCI-Attribute: occi.core.id="i-1"'
    assert 'X-OCCI-Attribute: occi.compute.memory=1.0' in lines
    assert 'X-OCCI-Attribute: com.amazon.aws.ec2.encrypted=false' in lines


def test_entity_categories_rendered_as_they_are_now():
    """
    An entity's categories are rendered once per category object (kept by
    textrender) but always as that object says: a mixin of the same
    identifier with another title (an image renamed in the catalogue) is
    rendered with its own title, and what is kept stays bounded.
    """
    plain = renderer("text/plain")
    renamed = infra.os_tpl_mixin("ami-0123456789abcdef0", "Ubuntu 24.04", "example.org")
    assert renamed == AMI
    before = plain.entity(_compute(), BASE).body.decode()
    compute = _compute()
    compute.mixins = [renamed if m == AMI else m for m in compute.mixins]
    after = plain.entity(compute, BASE).body.decode()
    assert 'title="Ubuntu \\"noble\\""' in before and 'title="Ubuntu 24.04"' not in before
    assert 'title="Ubuntu 24.04"' in after and "noble" not in after
    for n in range(textrender.SUMMARIES_KEPT * 2):
        zone = infra.availability_zone_mixin(f"zone-{n}", "example.org")
        assert f'title="availability zone zone-{n}"' in textrender.category_value(zone, False)
        assert plain.entity(Resource(kind=infra.COMPUTE, id="i-2", mixins=[zone]), BASE
                            ).body.decode().splitlines()[1] == (
            "Category: " + textrender.category_value(zone, False))
    assert len(textrender._summaries) <= textrender.SUMMARIES_KEPT


def test_text_occi_entity_in_headers():
    """text/occi puts the entity in comma-joined headers with body OK."""
    rendered = renderer("text/occi").entity(_compute(), BASE)
    assert rendered.body == b"OK" and rendered.content_type == "text/occi"
    assert [name for name, _ in rendered.headers] == [
        "Category", "Link", "X-OCCI-Attribute"]


def test_link_entity_round_trip():
    """A standalone link renders its source and target as attributes."""
    link = _compute().links[0]
    rendered = renderer("text/plain").entity(link, BASE)
    document = parse("text/plain", [], rendered.body)
    assert document.attributes["occi.core.source"] == BASE + "/compute/i-1"
    assert document.attributes["occi.core.target"] == BASE + "/network/vpc-1"
    assert document.attributes["occi.networkinterface.address"] == "10.0.0.5"
    schema_validator("link").validate(json.loads(
        renderer("application/occi+json").entity(link, BASE).body))


def test_collections():
    """
    Collections are absolute locations in every text form (text/occi: one
    X-OCCI-Location header and no Location, which is for a 201); JSON nests
    entities.
    """
    entities = [_compute(), Resource(kind=infra.COMPUTE, id="i-2")]
    urls = [BASE + "/compute/i-1", BASE + "/compute/i-2"]
    plain = renderer("text/plain").collection(entities, BASE)
    assert parse("text/plain", [], plain.body).locations == urls
    occi = renderer("text/occi").collection(entities, BASE)
    assert occi.headers == (("X-OCCI-Location", ",".join(urls)),)
    assert parse("text/occi", list(occi.headers), b"OK").locations == urls
    assert renderer("text/uri-list").collection(entities, BASE).body == (
        "\n".join(urls) + "\n").encode()
    data = json.loads(renderer("application/occi+json").collection(entities, BASE).body)
    schema_validator("resource_collection").validate(data)
    links = json.loads(renderer("application/occi+json").collection(
        _compute().links, BASE).body)
    schema_validator("link_collection").validate(links)
    assert renderer("text/plain").collection([], BASE).body == b""


def test_uri_list_refuses_non_collections():
    """text/uri-list renders collections only."""
    with pytest.raises(BadRequest):
        renderer("text/uri-list").entity(_compute(), BASE)
    with pytest.raises(BadRequest):
        renderer("text/uri-list").categories(CATALOG, BASE)


@pytest.mark.parametrize("media_type", TEXT_TYPES)
def test_qi_round_trip(media_type):
    """The QI parses back into exactly the catalog's categories and their details."""
    rendered = renderer(media_type).categories(CATALOG, BASE)
    refs = _reparse(media_type, rendered).categories
    categories = CATALOG.kinds + CATALOG.mixins + CATALOG.actions
    assert [r.identifier for r in refs] == [c.identifier for c in categories]
    for ref, category in zip(refs, categories, strict=True):
        assert ref.cls == category.category_class
        assert ref.title == category.title
        assert ref.rel == ((rel_of(category),) if rel_of(category) else ())
        assert ref.location == (category.location or None)
        assert ref.attributes == attribute_definitions(category)
        assert ref.actions == tuple(a.identifier for a in getattr(category, "actions", ()))


_QI_LINE = re.compile(
    r'Category: [a-z0-9][a-z0-9_-]*; scheme="[^"]+#"; class="(kind|mixin|action)"'
    r'(; title="([^"\\]|\\.)*")?(; rel="[^"]+")?(; location="/[^"]*/")?'
    r'(; attributes="[^"]+")?(; actions="[^"]+")?\Z')


def test_qi_golden_shape():
    """Like pOCCI's text-ok-ec2.txt: parameter order, template rels, resource_tpl attributes."""
    lines = renderer("text/plain").categories(CATALOG, BASE).body.decode().splitlines()
    for line in lines:
        assert _QI_LINE.match(line), line
    os_tpl_line = next(line for line in lines if line.startswith("Category: ami-"))
    assert ('rel="http://schemas.ogf.org/occi/infrastructure#os_tpl"; location='
            in os_tpl_line)
    t3_line = next(line for line in lines if line.startswith("Category: t3_micro;"))
    assert ('rel="http://schemas.ogf.org/occi/infrastructure#resource_tpl"; '
            'location="/mixin/resource_tpl/t3_micro/"; '
            'attributes="occi.compute.architecture{immutable} '
            'occi.compute.cores{immutable} occi.compute.memory{immutable}"') in t3_line
    assert sum(line.startswith("Category: os_tpl;") for line in lines) == 1
    assert sum(line.startswith("Category: resource_tpl;") for line in lines) == 1


def test_qi_is_pure_and_json_valid():
    """Two renderings are byte-identical; the JSON QI validates as a model."""
    for media_type in ("text/plain", "text/occi", "application/occi+json"):
        first = renderer(media_type).categories(CATALOG, BASE)
        assert first == renderer(media_type).categories(CATALOG, BASE)
    model = json.loads(renderer("application/occi+json").categories(CATALOG, BASE).body)
    schema_validator("model").validate(model)


def test_qi_large_catalog_one_header_line():
    """
    A big text/occi QI (1000 images, over 100 KB) is one Category header
    line: rOCCI-core 4 reads only the first line of a repeated header.
    """
    catalog = Catalog([infra.os_tpl_mixin(f"ami-{i:08x}", "img", "example.org")
                       for i in range(1000)])
    rendered = renderer("text/occi").categories(catalog, BASE)
    [(name, value)] = rendered.headers
    assert name == "Category" and len(value) > 100_000
    assert len(parse("text/occi", list(rendered.headers), b"").categories) == (
        len(catalog.kinds) + len(catalog.mixins) + len(catalog.actions))


def test_category():
    """One category renders in full (the os_tpl a save produced)."""
    body = renderer("text/plain").category(AMI, BASE).body.decode()
    assert body.startswith("Category: ami-0123456789abcdef0; ") and body.count("\n") == 1
    data = json.loads(renderer("application/occi+json").category(AMI, BASE).body)
    schema_validator("mixin").validate(data)


def test_created():
    """A create answers Location and X-OCCI-Location in every type, per its body rule."""
    url = BASE + "/compute/i-1"
    for media_type in MEDIA_TYPES:
        rendered = renderer(media_type).created(url)
        assert ("Location", url) in rendered.headers
        assert ("X-OCCI-Location", url) in rendered.headers
    assert renderer("text/plain").created(url).body == f"X-OCCI-Location: {url}\n".encode()
    assert renderer("text/occi").created(url).body == b"OK"
    assert json.loads(renderer("application/occi+json").created(url).body) == {
        "location": url}


def test_ok_and_errors():
    """Empty successes, and errors carrying one-line messages and their headers."""
    assert renderer("text/occi").ok().body == b"OK"
    assert renderer("text/plain").ok().body == b""
    error = ServiceUnavailable("EC2 is\nthrottling", retry_after=7)
    plain = renderer("text/plain").error(error)
    assert plain.body == b"EC2 is throttling\n"
    assert ("Retry-After", "7") in plain.headers
    occi = renderer("text/occi").error(NotFound("no such compute"))
    assert ("X-OCCI-Error", "no such compute") in occi.headers
    data = json.loads(renderer("application/occi+json").error(NotFound("gone")).body)
    assert data == {"error": {"status": 404, "message": "gone"}}
    assert renderer("text/uri-list").error(NotFound("x")).content_type == "text/plain"


# -- properties -------------------------------------------------------------

_printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)


@settings(max_examples=150, deadline=None)
@given(content_type=st.sampled_from(
           ["", "text/plain", "text/occi", "application/occi+json", "application/json"]),
       headers=st.lists(st.tuples(
           st.sampled_from(["Category", "Link", "X-OCCI-Attribute", "X-OCCI-Location",
                            "Location", "X-OCCI-Category", "Other"]),
           st.text(max_size=80))),
       body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_parse_only_raises_occi_errors(content_type, headers, body):
    """Whatever arrives, parse() returns a Document or raises an OCCIError."""
    with contextlib.suppress(OCCIError):
        parse(content_type, headers, body)


@settings(max_examples=100, deadline=None)
@given(title=_printable,
       cores=st.integers(min_value=0, max_value=10**6),
       memory=st.floats(allow_nan=False, allow_infinity=False),
       hostname=st.none() | _printable,
       flag=st.booleans(),
       media_type=st.sampled_from(TEXT_TYPES))
def test_render_parse_round_trip(title, cores, memory, hostname, flag, media_type):
    """Any compute rendered as text parses back to the same entity."""
    compute = _compute(title=title)
    compute.attributes.update({"occi.compute.cores": cores, "occi.compute.memory": memory,
                               "com.amazon.aws.ec2.encrypted": flag})
    if hostname is not None:
        compute.attributes["occi.compute.hostname"] = hostname
    rendered = renderer(media_type).entity(compute, BASE)
    assert _entity_from(_reparse(media_type, rendered), CATALOG) == compute
