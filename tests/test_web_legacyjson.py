"""
rOCCI-cli 4.3 with C{--media-type application/occi+json}, through the HTTP
stack over the memory fakes: it announces C{OCCI/1.1}, so occid answers in
rOCCI-core 4's JSON, and every answer of its session (model, create,
describe, list, trigger, link) reads with L{tests.rocci43json}.

The control tests, which announce 1.2 or nothing, keep GFD.225's JSON.
"""

import json
from urllib.parse import urlsplit

import pytest

from occid.occi import infrastructure as infra
from tests import rocci43json
from tests.test_web_rocci import AMI, BASE, OS_TPL, SECTIONS, gateway

USER_AGENT = "rOCCI-cli/4.3.10 OCCI/1.1"
JSON = "application/occi+json"
ROCCI_JSON = [("Accept", JSON), ("Content-Type", JSON), ("User-Agent", USER_AGENT)]


def create(web):
    """rOCCI-cli's JSON create of the vectors; the new compute's path."""
    response = web.request("POST", "/compute/", ROCCI_JSON,
                           SECTIONS["application/occi+json body"].encode())
    assert response.status == 201, response
    assert response.header("Content-Type").split(";")[0] == JSON
    rocci43json.parse(response.body)
    return urlsplit(response.header("Location")).path


def test_model():
    """GET /-/ reads as rOCCI's model, and os_tpl#<ami> resolves in it."""
    response = gateway().request("GET", "/-/", ROCCI_JSON)
    assert response.status == 200, response
    assert response.header("Content-Type").split(";")[0] == JSON
    model = rocci43json.parse(response.body)
    [parent] = [m for m in model.mixins if m.term == "os_tpl"]
    [template] = [m for m in model.mixins if m.term == AMI and parent.identifier in m.related]
    assert template.identifier == OS_TPL.identifier
    assert model.category(infra.COMPUTE.identifier).location == "/compute/"
    for action in model.category(infra.COMPUTE.identifier).actions:
        model.category(action)


def test_describe_pending_compute():
    """A compute EC2 calls pending shows its state, and its link, in rOCCI's reading."""
    web = gateway()
    path = create(web)
    [stored] = [s for key, s in web.backend.store.entities.items() if key[1:] == (
        "compute", path.rsplit("/", 1)[1])]
    stored.entity.attributes.update({"occi.compute.state": "inactive",
                                     "occi.compute.state.message": "pending"})
    response = web.request("GET", path, ROCCI_JSON)
    assert response.status == 200, response
    [compute] = rocci43json.parse(response.body).resources
    assert compute.id == path.rsplit("/", 1)[1]
    assert compute.attributes["occi.compute.state"] == "inactive"
    assert "occi.compute.state.message" not in compute.attributes
    assert compute.attributes["occi.core.title"] == "VMbyX"
    assert OS_TPL.identifier in compute.mixins
    [link] = compute.links
    assert link.rel == infra.NETWORK.identifier
    assert link.target == BASE + "/network/vpc-e2e4f686"
    assert "occi.core.target.kind" not in link.attributes


def test_list():
    """GET /compute/ in JSON is a resources collection rOCCI reads in full."""
    web = gateway()
    paths = {create(web), create(web)}
    response = web.request("GET", "/compute/", ROCCI_JSON)
    assert response.status == 200, response
    resources = rocci43json.parse(response.body).resources
    assert {"/compute/" + r.id for r in resources} == paths


def test_trigger():
    """rOCCI-cli's JSON stop answers 200 with a body rOCCI reads."""
    web = gateway()
    path = create(web)
    response = web.request("POST", path + "?action=stop", ROCCI_JSON,
                           SECTIONS["trigger stop json"].encode())
    assert response.status == 200, response
    rocci43json.parse(response.body)
    assert web.backend.store.operations[-1][3][0] == infra.COMPUTE_STOP


def test_link():
    """--action link in JSON: 201, and the link then describes with rel, source and target."""
    web = gateway()
    response = web.request("POST", "/link/networkinterface/", ROCCI_JSON,
                           SECTIONS["link json"].encode())
    assert response.status == 201, response
    rocci43json.parse(response.body)
    path = urlsplit(response.header("Location")).path
    described = web.request("GET", path, ROCCI_JSON)
    assert described.status == 200, described
    [link] = rocci43json.parse(described.body).links
    assert link.source == BASE + "/compute/i-0123456789abcdef0"
    assert link.target == BASE + "/network/public"
    assert link.rel == infra.NETWORK.identifier


def test_error_is_json():
    """An unknown compute is a 404 in JSON."""
    response = gateway().request("GET", "/compute/i-00000000000000000", ROCCI_JSON)
    assert response.status == 404
    assert json.loads(response.body)["error"]["status"] == 404


@pytest.mark.parametrize("user_agent", ["occi-client OCCI/1.2", None])
def test_others_keep_gfd225(user_agent):
    """A 1.2 client, or one naming no version, still gets GFD.225's flat JSON."""
    headers = [("Accept", JSON)] + ([("User-Agent", user_agent)] if user_agent else [])
    web = gateway()
    model = json.loads(web.request("GET", "/-/", headers).body)
    compute = next(k for k in model["kinds"] if k["term"] == "compute")
    assert "occi.compute.state" in compute["attributes"]
    assert compute["location"] == BASE + "/compute/" or compute["location"] == "/compute/"
    path = create(web)
    entity = json.loads(web.request("GET", path, headers).body)
    assert entity["kind"] == infra.COMPUTE.identifier
    assert "occi.compute.state" in entity["attributes"]
