"""Tests for L{occid.occi.json} and L{occid.occi.jsonrender}: GFD.225 and legacy rOCCI JSON."""

import json

import pytest

from occid.ec2.vocabulary import resource_tpl_mixin
from occid.occi import corekinds
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest
from occid.occi.json import parse_json
from occid.occi.jsonrender import category_object, entity_object, model_object
from occid.occi.model import Link, Resource
from tests.occivectors import schema_validator, sections

BASE = "https://occi.example.org:11443"
OOI = sections("ooi-1.2.0-renderings.txt")
ROCCI = sections("rocci-cli-4.3-requests.txt")


def _rocci(prefix):
    (body,) = [v for k, v in ROCCI.items() if k.startswith(prefix)]
    return body


def _valid(definition, data):
    errors = list(schema_validator(definition).iter_errors(data))
    assert not errors, errors[0].message


def _compute():
    nic = Link(kind=infra.NETWORKINTERFACE, id="i-1_nic_eni-1", source="/compute/i-1",
               target="/network/vpc-1", mixins=[infra.IPNETWORKINTERFACE],
               attributes={"occi.networkinterface.address": "10.0.0.5"},
               source_kind=infra.COMPUTE, target_kind=infra.NETWORK)
    return Resource(
        kind=infra.COMPUTE, id="i-1",
        mixins=[infra.os_tpl_mixin("ami-1", "Ubuntu", "example.org")],
        attributes={"occi.core.title": "vm", "occi.core.summary": "s",
                    "occi.compute.cores": 2, "occi.compute.memory": 1.0},
        actions=[infra.COMPUTE_STOP], links=[nic])


def test_ooi_json_validates_and_parses():
    """OOI's compute validates as a resource and parses with its link."""
    data = json.loads(OOI["application/occi+json"])
    _valid("resource", data)
    document = parse_json(OOI["application/occi+json"])
    assert document.categories[0].identifier == infra.COMPUTE.identifier
    assert document.attributes["occi.core.id"] == "i-0123456789abcdef0"
    assert document.attributes["occi.compute.cores"] == 1
    (link,) = document.links
    assert link.target == "https://host:11443/network/vpc-e2e4f686"
    assert link.rel == (infra.NETWORK.identifier,)


def test_ooi_qi_validates():
    """OOI's QI validates as a model."""
    _valid("model", json.loads(OOI["QI json"]))


def test_legacy_json_is_not_a_resource_collection():
    """rOCCI-cli's legacy JSON fails the 1.2 schema but parses (nested names flattened)."""
    body = _rocci("application/occi+json body")
    assert list(schema_validator("resource_collection").iter_errors(json.loads(body)))
    document = parse_json(body)
    assert document.attributes["occi.core.title"] == "VMbyX"
    assert document.attributes["org.openstack.credentials.publickey.data"].startswith(
        "ssh-rsa")
    assert document.links[0].target == "/network/vpc-e2e4f686"
    link_body = json.loads(_rocci("link json"))
    assert list(schema_validator("link_collection").iter_errors(link_body))


def test_action_invocation():
    """An action invocation body parses into one action category and parameters."""
    body = b'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",' \
           b' "attributes": {"method": "graceful"}}'
    _valid("action_invocation", json.loads(body))
    document = parse_json(body)
    assert document.categories[0].identifier == infra.COMPUTE_STOP.identifier
    assert document.attributes == {"method": "graceful"}


def test_locations_and_category_collections():
    """Locations and mixin collections are read too."""
    assert parse_json(b'{"locations": ["/compute/i-1"]}').locations == ["/compute/i-1"]
    document = parse_json(b'{"mixins": [{"term": "my", "scheme": "http://e.org/s#",'
                          b' "location": "/my/"}]}')
    assert document.categories[0].cls == "mixin"


@pytest.mark.parametrize("body", [
    b"", b"[]", b"not json", b'{"location:"/network/x"}', b"\xff",
    b'{"kind": 3}', b'{"kind": "nohash"}', b'{"resources": []}',
    b'{"kind": "http://e.org/s#k", "attributes": {"a": [1]}}',
    b'{"kind": "http://e.org/s#k", "target": {"kind": "x"}, "source": "/a"}',
    b'{"something": 1}',
])
def test_bad_json(body):
    """Invalid JSON and unknown shapes are BadRequests (the spec's typo example too)."""
    with pytest.raises(BadRequest):
        parse_json(body)


def test_our_resource_and_link_validate():
    """Our resource and link renderings validate against their definitions."""
    compute = _compute()
    rendered = entity_object(compute, BASE)
    _valid("resource", rendered)
    assert rendered["title"] == "vm" and rendered["summary"] == "s"
    assert "occi.core.title" not in rendered["attributes"]
    link = entity_object(compute.links[0], BASE)
    _valid("link", link)
    assert link["target"] == {"location": BASE + "/network/vpc-1",
                              "kind": infra.NETWORK.identifier}
    _valid("resource_collection", {"resources": [rendered]})
    _valid("link_collection", {"links": [link]})


def test_our_categories_validate():
    """Every static category and the templates validate; the QI validates as a model."""
    catalog = Catalog([infra.os_tpl_mixin("ami-1", "U", "example.org"),
                       resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")])
    for category in catalog.kinds + catalog.mixins + catalog.actions:
        _valid(category.category_class, category_object(category, BASE))
    model = model_object(catalog.kinds + catalog.mixins + catalog.actions, BASE)
    _valid("model", model)
    compute = model["kinds"][3]
    assert compute["parent"] == corekinds.RESOURCE.identifier
    assert compute["attributes"]["occi.compute.cores"]["pattern"] == {"type": "integer"}
    template = model["mixins"][-1]
    assert template["attributes"]["occi.compute.memory"]["default"] == 1.0
    assert template["depends"] == [infra.RESOURCE_TPL.identifier]
