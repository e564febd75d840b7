"""
The rOCCI-core 4 JSON rendering (L{occid.occi.legacyjson}), read back by
L{tests.rocci43json}, the way rOCCI-cli 4.3 reads it; and occid's GFD.225
JSON failing that reader the way the issue saw it fail.
"""

import json

import pytest

from occid.occi import corekinds
from occid.occi import infrastructure as infra
from occid.occi import json as occi_json
from occid.occi.errors import NotFound
from occid.occi.legacyjson import LegacyJsonRenderer, legacy_names, nest
from occid.occi.model import Link, Resource
from occid.occi.rendering import JsonRenderer
from tests import rocci43json

BASE = "https://occi.example.org:11443"
AMI_TPL = infra.os_tpl_mixin("ami-971238f1", "ubuntu 24.04", "occi.example.org")
CATEGORIES = infra.KINDS + infra.MIXINS + (AMI_TPL,) + infra.ACTIONS


def network_link(source: str = "/compute/i-0abc") -> Link:
    return Link(
        kind=infra.NETWORKINTERFACE, id="eni-0abc", mixins=[infra.IPNETWORKINTERFACE],
        attributes={"occi.networkinterface.interface": "eth0",
                    "occi.networkinterface.state": "inactive",
                    "occi.networkinterface.state.message": "attaching",
                    "occi.core.target.kind": infra.NETWORK.identifier},
        source=source, target="/network/vpc-0abc",
        source_kind=infra.COMPUTE, target_kind=infra.NETWORK,
    )


def pending_compute() -> Resource:
    """A compute EC2 reports as pending: state inactive, with a 1.2 message."""
    return Resource(
        kind=infra.COMPUTE, id="i-0abc", mixins=[AMI_TPL],
        attributes={"occi.core.title": "VMbyX", "occi.compute.state": "inactive",
                    "occi.compute.state.message": "pending", "occi.compute.cores": 2,
                    "occi.compute.memory": 4.0},
        actions=[infra.COMPUTE_START], links=[network_link()],
    )


def test_gfd225_model_breaks_rocci43():
    """Today's JSON model is what rOCCI-cli 4.3 failed on: a pattern object."""
    body = JsonRenderer().categories(CATEGORIES, BASE).body
    with pytest.raises(rocci43json.ParseError, match="Hash must be a hash-like structure!"):
        rocci43json.parse(body)


def test_gfd225_entity_breaks_rocci43():
    """Today's compute and collection fail rOCCI as the issue saw: scheme, then flat keys."""
    renderer = JsonRenderer()
    with pytest.raises(rocci43json.ParseError, match="undefined method `scheme'"):
        rocci43json.parse(renderer.entity(pending_compute(), BASE).body)
    with pytest.raises(rocci43json.ParseError, match="Attribute with key occi not found"):
        rocci43json.parse(renderer.collection([pending_compute()], BASE).body)


def test_model_parses():
    """The query interface reads as rOCCI's model: kinds, mixins, actions, string patterns."""
    rendered = LegacyJsonRenderer().categories(CATEGORIES, BASE)
    assert rendered.content_type == "application/occi+json"
    model = rocci43json.parse(rendered.body)
    assert {k.identifier for k in model.kinds} == {k.identifier for k in infra.KINDS}
    assert len(model.mixins) == len(infra.MIXINS) + 1
    assert {a.identifier for a in model.actions} == {a.identifier for a in infra.ACTIONS}
    compute = model.category(infra.COMPUTE.identifier)
    assert compute.location == "/compute/"
    assert compute.related == [corekinds.RESOURCE.identifier]
    assert set(compute.actions) == {a.identifier for a in infra.COMPUTE.actions}
    for action in compute.actions:
        model.category(action)
    state = compute.attributes["occi.compute.state"]
    assert state["type"] == "string" and state["mutable"] is False
    assert state["pattern"] == "(?:active|inactive|suspended|error)"
    assert compute.attributes["occi.core.id"]["required"] is True
    assert compute.attributes["occi.compute.cores"]["type"] == "number"
    names = {n for c in model.kinds + model.mixins for n in c.attributes}
    assert not {n for n in names if n.endswith((".state.message", ".target.kind", ".source.kind"))}


def test_model_templates_found_through_depends():
    """rOCCI-api's os_tpl#<ami> lookup: the template depends on os_tpl, located by a path."""
    model = rocci43json.parse(LegacyJsonRenderer().categories(CATEGORIES, BASE).body)
    [parent] = [m for m in model.mixins if m.term == "os_tpl"]
    [template] = [m for m in model.mixins if parent.identifier in m.related]
    assert template.term == "ami-971238f1"
    assert template.location == AMI_TPL.location


def test_model_locations_are_paths():
    """Kind and mixin locations are paths, as rOCCI-server 1.1 sent them."""
    data = json.loads(LegacyJsonRenderer().categories(CATEGORIES, BASE).body)
    locations = [c["location"] for c in data["kinds"] + data["mixins"] if "location" in c]
    assert locations and all(loc.startswith("/") and loc.endswith("/") for loc in locations)


def test_compute_parses_with_its_state():
    """A pending compute keeps its state: state.message is left out, not nested over it."""
    rendered = LegacyJsonRenderer().entity(pending_compute(), BASE)
    data = json.loads(rendered.body)
    assert data["resources"][0]["attributes"]["occi"]["compute"]["state"] == "inactive"
    [compute] = rocci43json.parse(rendered.body).resources
    assert compute.kind == infra.COMPUTE.identifier
    assert compute.mixins == [AMI_TPL.identifier]
    assert compute.actions == [infra.COMPUTE_START.identifier]
    assert compute.id == "i-0abc"
    assert compute.attributes["occi.compute.state"] == "inactive"
    assert compute.attributes["occi.core.title"] == "VMbyX"
    assert compute.attributes["occi.compute.cores"] == 2
    assert "occi.compute.state.message" not in compute.attributes
    [link] = compute.links
    assert link.rel == infra.NETWORK.identifier
    assert (link.source, link.target) == (BASE + "/compute/i-0abc", BASE + "/network/vpc-0abc")
    assert link.attributes["occi.networkinterface.state"] == "inactive"
    assert "occi.core.target.kind" not in link.attributes
    assert "occi.networkinterface.state.message" not in link.attributes


def test_link_parses():
    """A link alone is a collection under "links", with rel, source and target strings."""
    rendered = LegacyJsonRenderer().entity(network_link(), BASE)
    parsed = rocci43json.parse(rendered.body)
    assert parsed.resources == []
    [link] = parsed.links
    assert link.kind == infra.NETWORKINTERFACE.identifier
    assert link.id == "eni-0abc"
    assert link.attributes["occi.core.source"] == BASE + "/compute/i-0abc"
    assert link.target == BASE + "/network/vpc-0abc"
    assert link.rel == infra.NETWORK.identifier


def test_collections():
    """Listings: resources under "resources", links under "links", nothing is an empty list."""
    renderer = LegacyJsonRenderer()
    parsed = rocci43json.parse(renderer.collection([pending_compute(), pending_compute()], BASE).body)
    assert [r.id for r in parsed.resources] == ["i-0abc", "i-0abc"]
    links = json.loads(renderer.collection([network_link()], BASE).body)
    assert list(links) == ["links"]
    assert json.loads(renderer.collection([], BASE).body) == {"resources": []}
    assert rocci43json.parse(renderer.collection([], BASE).body).resources == []


def test_created_ok_error_and_category():
    """The other answers: create headers, {} for no content, errors, one category."""
    renderer = LegacyJsonRenderer("application/json")
    created = renderer.created(BASE + "/compute/i-0abc")
    assert ("Location", BASE + "/compute/i-0abc") in created.headers
    assert created.content_type == "application/json"
    rocci43json.parse(created.body)
    assert renderer.ok().body == b"{}"
    error = renderer.error(NotFound("no compute i-0"))
    assert json.loads(error.body) == {"error": {"status": 404, "message": "no compute i-0"}}
    assert error.content_type == "application/json"
    [mixin] = rocci43json.parse(renderer.category(AMI_TPL, BASE).body).mixins
    assert mixin.identifier == AMI_TPL.identifier


def test_only_json_media_types():
    """The renderer is offered under the two JSON types only."""
    with pytest.raises(ValueError):
        LegacyJsonRenderer("text/plain")


def test_occid_reads_its_legacy_rendering_back():
    """occid's own JSON parser accepts the legacy compute it renders (the same shape)."""
    document = occi_json.parse_json(LegacyJsonRenderer().entity(pending_compute(), BASE).body)
    assert document.attributes["occi.compute.cores"] == 2
    assert document.attributes["occi.core.title"] == "VMbyX"
    [link] = document.links
    assert link.target == BASE + "/network/vpc-0abc"


def test_legacy_names_and_nest():
    """Names extending another present name, and the 1.2 extensions, are dropped."""
    names = ["a.b", "a.b.c", "occi.compute.state.message", "occi.core.target.kind", "a.bc"]
    assert legacy_names(names) == ["a.b", "a.bc"]
    assert nest({"a.b.c": 1, "a.b.d": "x", "e": True}) == {"a": {"b": {"c": 1, "d": "x"}}, "e": True}
