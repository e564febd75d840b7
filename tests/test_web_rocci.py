"""
rOCCI-cli 4.3 against occid: every captured request of
C{tests/vectors/rocci-cli-4.3-requests.txt}, replayed through the real HTTP
stack with rOCCI-cli's headers, produces the operation the vectors README
names on the memory backend; and rOCCI-api's client-side template lookup
succeeds on occid's query interface.

The captures name the os_tpl scheme C{http://occi.host/...}: it is rewritten
to occid's, and the truncated SSH key to a freshly generated one.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from occid.ec2.vocabulary import instance_type_of, resource_tpl_mixin
from occid.occi import infrastructure as infra
from occid.occi.model import Link
from occid.testing import MemoryBackend
from tests.gateway import make_gateway

VECTORS = Path(__file__).parent / "vectors" / "rocci-cli-4.3-requests.txt"
PUBLIC_HOST = "occi.example.org"
BASE = "https://occi.example.org:11443"
AMI = "ami-971238f1"
OS_TPL = infra.os_tpl_mixin(AMI, "ubuntu", PUBLIC_HOST)
T2_MICRO = resource_tpl_mixin("t2.micro", 1, 1.0, "x86_64")
CLIENT_IDS = (
    "ebad28af-0c59-43d4-897f-5156dca442bb",
    "5b10446e-f6ac-492b-b3f6-ba2a0f69c435",
    "2e6af1d2-9423-42bc-be6e-d3e24ac70741",
)
USER_AGENT = "rOCCI-core/4.3.6 rOCCI-api/4.3.15 OCCI/1.1 ruby-3.1.2"
ROCCI_TEXT = [
    ("Accept", "text/plain,text/occi"),
    ("Content-Type", "text/plain,text/occi"),
    ("User-Agent", USER_AGENT),
]
TRUNCATED_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host"
SSH_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
    + " user@host"
)


def sections() -> dict[str, str]:
    """The capture's sections by title, with occid's scheme and a real key."""
    text = VECTORS.read_text()
    text = text.replace("http://occi.host/occi/infrastructure/os_tpl#", OS_TPL.scheme)
    text = text.replace(TRUNCATED_KEY, SSH_KEY)
    found = {}
    for chunk in text.split("===== ")[1:]:
        title, _, body = chunk.partition("\n")
        found[title.split(" (Content-Type")[0]] = body.strip("\n")
    return found


SECTIONS = sections()


def as_headers(section: str) -> list[tuple[str, str]]:
    """A text/occi section's lines as request headers."""
    return [tuple(part.strip() for part in line.split(":", 1)) for line in section.splitlines()]


def gateway():
    return make_gateway(backend=MemoryBackend(
        public_host=PUBLIC_HOST, amis=((AMI, "ubuntu"),),
        instance_types=(("t2.micro", 1, 1.0, "x86_64"),),
    ))


def create_requests():
    return {
        "text/plain": (ROCCI_TEXT, SECTIONS["text/plain body"].encode()),
        "text/occi": (
            [("Accept", "text/plain,text/occi"), ("Content-Type", "text/occi"),
             ("User-Agent", USER_AGENT)] + as_headers(SECTIONS["text/occi headers"]),
            b"",
        ),
        "legacy json": (
            [("Accept", "text/plain,text/occi"), ("Content-Type", "application/occi+json"),
             ("User-Agent", USER_AGENT)],
            SECTIONS["application/occi+json body"].encode(),
        ),
    }


@pytest.mark.parametrize("form", ["text/plain", "text/occi", "legacy json"])
def test_create(form):
    """Each create form makes one compute from the AMI and t2_micro, ignoring the client's ids."""
    web = gateway()
    headers, body = create_requests()[form]
    response = web.request("POST", "/compute/", headers, body)
    assert response.status == 201, response
    location = response.header("Location")
    assert location.startswith(BASE + "/compute/i-")
    assert response.header("X-OCCI-Location") == location
    [(operation, kind, _, entity)] = web.backend.store.operations
    assert (operation, kind) == ("create", "compute")
    assert location == BASE + entity.location
    assert OS_TPL in entity.mixins and T2_MICRO in entity.mixins
    assert infra.OPENSTACK_PUBLIC_KEY in entity.mixins
    assert instance_type_of(infra.template_of(entity.mixins, infra.RESOURCE_TPL)) == "t2.micro"
    assert entity.attributes["occi.core.title"] == "VMbyX"
    assert entity.attributes["org.openstack.credentials.publickey.data"] == SSH_KEY
    [link] = entity.links
    assert isinstance(link, Link) and link.kind == infra.NETWORKINTERFACE
    assert link.target == "/network/vpc-e2e4f686"
    assert link.source == entity.location
    for client_id in CLIENT_IDS:
        assert client_id not in (entity.id, link.id)
        assert client_id not in str(entity.attributes.values())


@pytest.mark.parametrize(
    "section, content_type",
    [
        ("trigger stop text/plain body", "text/plain,text/occi"),
        ("trigger stop text/occi headers", "text/occi"),
        ("trigger stop json", "application/occi+json"),
    ],
)
def test_trigger_stop(section, content_type):
    """Each trigger form stops the compute: POST <entity>?action=stop answers 200."""
    web = gateway()
    created = web.request("POST", "/compute/", ROCCI_TEXT, SECTIONS["text/plain body"].encode())
    path = urlsplit(created.header("Location")).path
    headers = [("Accept", "text/plain,text/occi"), ("Content-Type", content_type),
               ("User-Agent", USER_AGENT)]
    body = SECTIONS[section].encode()
    if content_type == "text/occi":
        headers, body = headers + as_headers(SECTIONS[section]), b""
    response = web.request("POST", path + "?action=stop", headers, body)
    assert response.status == 200, response
    operation, kind, id, (action, _) = web.backend.store.operations[-1]
    assert (operation, kind, path) == ("trigger", "compute", "/compute/" + id)
    assert action == infra.COMPUTE_STOP
    assert response.body in (b"", b"OK")
    assert response.header("Location") is None


@pytest.mark.parametrize(
    "section, content_type",
    [("link (--action link) text/plain body", "text/plain,text/occi"),
     ("link json", "application/occi+json")],
)
def test_link(section, content_type):
    """--action link creates a networkinterface to /network/public: 201 + Location."""
    web = gateway()
    headers = [("Accept", "text/plain,text/occi"), ("Content-Type", content_type),
               ("User-Agent", USER_AGENT)]
    response = web.request("POST", "/link/networkinterface/", headers, SECTIONS[section].encode())
    assert response.status == 201, response
    [(operation, kind, id, link)] = web.backend.store.operations
    assert (operation, kind) == ("create", "networkinterface")
    assert (link.source, link.target) == ("/compute/i-0123456789abcdef0", "/network/public")
    assert id != CLIENT_IDS[2]
    assert response.header("Location") == BASE + "/link/networkinterface/" + id


def test_list_describe_delete():
    """The CLI's list (uri-list), describe and delete round trip."""
    web = gateway()
    web.request("POST", "/compute/", ROCCI_TEXT, SECTIONS["text/plain body"].encode())
    listing = web.request("GET", "/compute/", [("Accept", "text/uri-list"), ("User-Agent", USER_AGENT)])
    assert listing.status == 200
    [url] = listing.body.decode().split()
    path = urlsplit(url).path
    described = web.request("GET", path, ROCCI_TEXT[:1] + ROCCI_TEXT[2:])
    assert described.status == 200
    assert f'X-OCCI-Attribute: occi.core.id="{path.rsplit("/", 1)[1]}"' in described.body.decode()
    assert web.request("DELETE", path, ROCCI_TEXT).status == 200
    assert web.backend.store.operations[-1][0] == "delete"


def categories(body: str) -> list[dict[str, str]]:
    """Category lines of a text/plain QI as term + parameters (a client's own reading)."""
    found = []
    for line in body.splitlines():
        match = re.match(r"Category:\s*([^;\s]+)\s*;(.*)$", line)
        assert match, line
        parameters = dict(re.findall(r'(\w+)="?((?<=")[^"]*|[^";]*)"?', match.group(2)))
        found.append({"term": match.group(1), **parameters})
    return found


def lookup(model: list[dict[str, str]], parent_term: str, term: str) -> dict[str, str]:
    """
    rOCCI-api 4's mixin lookup (C{base/mixin_methods.rb}): the unique model
    mixin with term C{parent_term}, then the mixin related to it with C{term}.
    """
    parents = [c for c in model if c["class"] == "mixin" and c["term"] == parent_term]
    assert len(parents) == 1, f"{parent_term} is ambiguous or missing"
    parent = parents[0]["scheme"] + parent_term
    matches = [
        c for c in model
        if c["class"] == "mixin" and c["term"] == term and parent in c.get("rel", "").split()
    ]
    assert len(matches) == 1, f"the mixin {parent_term}#{term} is not declared in the model"
    return matches[0]


def test_client_side_template_lookup():
    """rOCCI-cli's --mixin os_tpl#<ami> and resource_tpl#t2_micro resolve against our /-/."""
    web = gateway()
    response = web.request(
        "GET", "/-/", [("Accept", "text/plain,text/occi;q=0.2"), ("User-Agent", USER_AGENT)]
    )
    assert response.status == 200
    assert response.header("Content-Type").split(";")[0] == "text/plain"
    model = categories(response.body.decode())
    os_tpl = lookup(model, "os_tpl", AMI)
    assert os_tpl["scheme"] + os_tpl["term"] == OS_TPL.identifier
    assert lookup(model, "resource_tpl", "t2_micro")["scheme"] == T2_MICRO.scheme
    with pytest.raises(AssertionError):
        lookup(model, "os_tpl", "t2_micro")
    for kind in (c for c in model if c["class"] == "kind" and "location" in c):
        assert re.fullmatch(r"/\S+/", urlsplit(kind["location"]).path), kind
