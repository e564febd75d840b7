# -*- test-case-name: tests.test_rocci43_text_tls -*-
"""
rOCCI-cli 4.3 in text/plain and text/occi against the real daemon over TLS
(issue 10, "Done when"): its requests replayed with curl, a
C{voms-proxy-fake} proxy and its headers (C{User-Agent: ... OCCI/1.1}, and
Ruby's C{Accept-Encoding}: the text/plain query interface comes gzipped), and
occid's answers read by L{tests.rocci43}, the way rOCCI-core 4.3 reads them
(first header line only, split on every comma, occi.core.id required, kind
locations ending with C{/}).  Model, compute describe, collection, create,
trigger and link must all parse.
"""

from __future__ import annotations

import pytest

from occid.occi import infrastructure as infra
from tests import gridtools, rocci43
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN
from tests.test_rocci_tls import OS_TPL_SCHEME, instance, sections
from tests.test_web_rocci import USER_AGENT

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

#: The two text media types of rOCCI-cli: what it accepts and sends, and
#: the capture sections of its create and trigger.
FORMS = {
    "text/plain": {"accept": "text/plain,text/occi", "content_type": "text/plain,text/occi",
                   "create": "text/plain body", "trigger": "trigger stop text/plain body"},
    "text/occi": {"accept": "text/occi", "content_type": "text/occi",
                  "create": "text/occi headers", "trigger": "trigger stop text/occi headers"},
}
LINK_SECTION = "link (--action link) text/plain body"
INSTANCE_TYPES = ("t2.micro", "t3.micro")


@pytest.fixture(scope="module")
def vpc_id(ec2):
    """A VPC with one subnet, standing in for the capture's."""
    vpc_id = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.31.1.0/24", AvailabilityZone=zone)
    return vpc_id


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    instance_types=INSTANCE_TYPES)
    yield from started(daemon)


def joined(section: str) -> list[tuple[str, str]]:
    """A text/plain section as rOCCI-cli's text/occi headers: each field comma-joined."""
    by_name: dict[str, list[str]] = {}
    for line in section.splitlines():
        name, _, value = line.partition(":")
        by_name.setdefault(name.strip(), []).append(value.strip())
    return [(name, ",".join(values)) for name, values in by_name.items()]


#: The C{Accept-Encoding} Ruby's C{Net::HTTP} (under rOCCI-api's HTTParty)
#: sends on every request, decoding gzip answers itself.
NET_HTTP_ACCEPT_ENCODING = "gzip;q=1.0,deflate;q=0.6,identity;q=0.3"


def request(daemon, proxy, form: str, method: str, path: str, section: str = "",
            accept: str | None = None):
    """
    One rOCCI-cli request in C{form}: the section in the body (text/plain)
    or as headers (text/occi); the answer as (status, content type, header
    lines, body).
    """
    spec = FORMS[form]
    arguments = ["-X", method, "-H", f"Accept: {accept or spec['accept']}",
                 "-H", f"User-Agent: {USER_AGENT}",
                 "-H", f"Accept-Encoding: {NET_HTTP_ACCEPT_ENCODING}", "--compressed"]
    if method == "POST":
        arguments += ["-H", f"Content-Type: {spec['content_type']}"]
        if form == "text/occi":
            for name, value in joined(section):
                arguments += ["-H", f"{name}: {value}"]
            arguments += ["--data-binary", ""]
        else:
            arguments += ["--data-binary", section]
    result = curl(daemon, proxy, path, *arguments)
    headers = rocci43.header_lines(result.headers)
    content_type = next((v for n, v in headers if n.lower() == "content-type"), "")
    return result.status, content_type, headers, result.body


def create(daemon, proxy, vpc_id, form: str) -> str:
    """rOCCI-cli's create in C{form}: the URL it prints."""
    status, content_type, headers, body = request(
        daemon, proxy, form, "POST", "/compute/", sections(vpc_id)[FORMS[form]["create"]])
    assert status == 201, body
    [url] = rocci43.locations(content_type, headers, body)[:1]
    assert url.startswith(f"{daemon.url}/compute/i-"), url
    return url


@pytest.mark.parametrize("form", list(FORMS))
def test_model(daemon, proxy, ec2, form):
    """
    GET /-/ parses as rOCCI-core 4.3 reads it, in both text types: every
    resource_tpl, every zone, the os_tpl and every compute action are in the
    model, kind and mixin locations are paths, and no title needs a comma.
    """
    status, content_type, headers, body = request(daemon, proxy, form, "GET", "/-/")
    assert status == 200, body
    assert content_type.split(";")[0] == form
    encoding = [v for n, v in headers if n.lower() == "content-encoding"]
    assert encoding == (["gzip"] if form == "text/plain" else [])
    if form == "text/occi":
        assert [n for n, _ in headers if n.lower() == "category"] == ["Category"]
    model = rocci43.model(content_type, headers, body)
    for instance_type in INSTANCE_TYPES:
        template = model.mixin("resource_tpl", instance_type.replace(".", "_"))
        assert template.title and "," not in template.title
    for zone in ec2.describe_availability_zones()["AvailabilityZones"]:
        model.mixin("availability_zone", zone["ZoneName"])
    assert model.mixin("os_tpl", DEBIAN).scheme == OS_TPL_SCHEME
    for action in infra.COMPUTE.actions:
        model.action("compute", action.term)
    for category in model.categories:
        assert category.location is None or category.location.startswith("/"), category


@pytest.mark.parametrize("form", list(FORMS))
def test_create_and_describe(daemon, proxy, ec2, vpc_id, form):
    """
    The captured create answers 201 with a location rOCCI-api reads; the
    compute's rendering parses into an entity with its id, kind, templates
    and a state (no OCCI 1.2 attribute overwrites it in rOCCI's nested
    attributes).
    """
    url = create(daemon, proxy, vpc_id, form)
    path = url[len(daemon.url):]
    status, content_type, headers, body = request(daemon, proxy, form, "GET", path)
    assert status == 200, body
    [entity] = rocci43.entities(content_type, headers, body)
    assert entity.id == path.rsplit("/", 1)[1]
    identifiers = [c.identifier for c in entity.categories]
    assert identifiers[0] == infra.COMPUTE.identifier
    assert OS_TPL_SCHEME + DEBIAN in identifiers
    assert rocci43.attribute(entity.attributes, "occi.compute.state") in ("active", "inactive")
    assert rocci43.attribute(entity.attributes, "occi.core.title") == "VMbyX"
    assert [link["target"] for link in entity.links if "?action=" not in str(link["target"])]


@pytest.mark.parametrize("form", list(FORMS))
def test_collection(daemon, proxy, ec2, vpc_id, form):
    """
    GET /compute/ lists each compute once, as rOCCI-cli lists (uri-list)
    and describes (its own media type), with no Location header.
    """
    url = create(daemon, proxy, vpc_id, form)
    for accept in ("text/uri-list", None):
        status, content_type, headers, body = request(
            daemon, proxy, form, "GET", "/compute/", accept=accept)
        assert status == 200, body
        assert "location" not in [n.lower() for n, _ in headers]
        listed = rocci43.locations(content_type, headers, body)
        assert url in listed and len(listed) == len(set(listed)), listed


@pytest.mark.parametrize("form", list(FORMS))
def test_trigger(daemon, proxy, ec2, vpc_id, form):
    """
    The captured stop answers 200 with nothing rOCCI-cli could take for a
    saved image's categories, and the VM stops.
    """
    url = create(daemon, proxy, vpc_id, form)
    status, content_type, headers, body = request(
        daemon, proxy, form, "POST", url[len(daemon.url):] + "?action=stop",
        sections(vpc_id)[FORMS[form]["trigger"]])
    assert status == 200, body
    assert rocci43.fields(content_type, headers, body) == []
    assert body in ("", "OK")
    assert instance(ec2, url.rsplit("/", 1)[1])["State"]["Name"] == "stopped"


@pytest.mark.parametrize("form", list(FORMS))
def test_link(daemon, proxy, ec2, vpc_id, form):
    """--action link to /network/public answers 201 with the link's location."""
    url = create(daemon, proxy, vpc_id, form)
    compute_id = url.rsplit("/", 1)[1]
    status, content_type, headers, body = request(
        daemon, proxy, form, "POST", "/link/networkinterface/",
        sections(vpc_id, compute_id)[LINK_SECTION])
    assert status == 201, body
    assert rocci43.locations(content_type, headers, body)[0] == (
        f"{daemon.url}/link/networkinterface/{compute_id}_public")
    status, content_type, headers, body = request(
        daemon, proxy, form, "GET", f"/link/networkinterface/{compute_id}_public")
    assert status == 200, body
    [link] = rocci43.entities(content_type, headers, body)
    assert rocci43.attribute(link.attributes, "occi.core.target") == f"{daemon.url}/network/public"
