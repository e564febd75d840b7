# -*- test-case-name: tests.test_story_regions -*-
"""
Issue 12 end to end: the real daemon over TLS serving two regions of a moto
server, curl presenting a C{voms-proxy-fake} proxy.  The query interface
offers a mixin per region, zones depending on theirs and images naming
theirs; a compute is created in the second region by its region mixin, by
a zone mixin and by an os_tpl alone, and one stays home with a bare id; the
listing shows all of them, each rendering carries its region; a storage
link across the regions is 400 naming both; deleting cleans both regions.
"""

from __future__ import annotations

import json

import boto3
import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import ALMA, DEBIAN, REGION
from tests.pki import USER_DN
from tests.test_story import INFRA, OS_TPL_SCHEME, TEXT, created, ours, post_text

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OTHER = "eu-central-1"
REGION_SCHEME = "http://occi.localhost/occi/infrastructure/region#"
ZONE_SCHEME = "http://occi.localhost/occi/infrastructure/availability_zone#"
OWNER = owner_hash(USER_DN)


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon serving REGION (home) and OTHER, ALMA listed and the default in OTHER."""
    moto_server.reset()
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    aws=f'regions = ["{REGION}", "{OTHER}"]',
                    images=f'[images.regions.{OTHER}]\nlist = ["{ALMA}"]\ndefault = "{ALMA}"')
    yield from started(daemon)


@pytest.fixture(scope="module")
def clients(moto_server):
    """boto3 EC2 clients of moto's default account, by region."""
    return {name: boto3.client("ec2", region_name=name, endpoint_url=moto_server.endpoint,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            for name in (REGION, OTHER)}


def mixin(term: str, scheme: str) -> str:
    """The Category line of mixin C{term} of C{scheme}."""
    return f'Category: {term}; scheme="{scheme}"; class="mixin"'


def create(daemon, proxy, kind: str, *lines: str) -> str:
    """Create a C{kind} (compute or storage) with the text/plain C{lines}; its path."""
    body = "\n".join([f'Category: {kind}; scheme="{INFRA}"; class="kind"', *lines])
    return created(post_text(daemon, proxy, f"/{kind}/", body), daemon, kind)


def running(clients) -> dict[str, list[str]]:
    """By region, the ids of the test user's instances not terminated."""
    return {name: sorted(i["InstanceId"] for r in client.describe_instances()["Reservations"]
                         for i in ours(r["Instances"], OWNER)
                         if i["State"]["Name"] != "terminated")
            for name, client in clients.items()}


def test_query_interface_offers_the_regions(daemon, proxy):
    """A region parent, a mixin per region, zones depending on theirs, images naming theirs."""
    answer = curl(daemon, proxy, "/-/", *TEXT)
    assert answer.status == 200, answer.body
    lines = answer.body.splitlines()
    assert any(line.startswith(f'Category: region; scheme="{INFRA}"') for line in lines)
    for name in (REGION, OTHER):
        own = next(line for line in lines if line.startswith(f"Category: {name};"))
        assert f'scheme="{REGION_SCHEME}"' in own and f'rel="{INFRA}region"' in own
    alma = next(line for line in lines if line.startswith(f"Category: {ALMA};"))
    assert f"({OTHER})" in alma and "com.amazon.aws.ec2.region" in alma
    # Text renders a mixin's first depends alone (GFD.229); JSON renders them all.
    answer = curl(daemon, proxy, "/-/", "-H", "Accept: application/occi+json")
    zone = next(m for m in json.loads(answer.body)["mixins"] if m["term"] == f"{OTHER}a")
    assert f"{REGION_SCHEME}{OTHER}" in zone["depends"]


def test_computes_go_to_the_region_their_mixins_name(daemon, proxy, clients):
    """
    By region mixin, by zone mixin, by os_tpl alone: the second region, an
    id carrying it; by a home image: home, a bare id.  The listing has all
    four, the second region's mixin collection its three (and their links); a describe shows
    the region; deleting them empties both regions.
    """
    by_region = create(daemon, proxy, "compute", mixin(OTHER, REGION_SCHEME))
    by_zone = create(daemon, proxy, "compute", mixin(f"{OTHER}b", ZONE_SCHEME))
    by_image = create(daemon, proxy, "compute", mixin(ALMA, OS_TPL_SCHEME))
    at_home = create(daemon, proxy, "compute", mixin(DEBIAN, OS_TPL_SCHEME))
    abroad = [by_region, by_zone, by_image]
    assert all(path.endswith(f".{OTHER}") for path in abroad), abroad
    assert "." not in at_home
    bare = {path.rsplit("/", 1)[1].split(".")[0] for path in abroad}
    assert running(clients) == {REGION: [at_home.rsplit("/", 1)[1]], OTHER: sorted(bare)}

    listing = curl(daemon, proxy, "/compute/", "-H", "Accept: text/uri-list")
    assert listing.status == 200, listing.body
    assert sorted(line[len(daemon.url):] for line in listing.body.split()) == sorted(
        [*abroad, at_home])
    there = curl(daemon, proxy, f"/mixin/region/{OTHER}/", "-H", "Accept: text/uri-list")
    assert there.status == 200, there.body
    paths = [line[len(daemon.url):] for line in there.body.split()]
    assert sorted(path for path in paths if path.startswith("/compute/")) == sorted(abroad)
    assert all(path.endswith(f".{OTHER}") for path in paths), paths

    described = curl(daemon, proxy, by_zone, *TEXT)
    assert described.status == 200, described.body
    assert f'com.amazon.aws.ec2.region="{OTHER}"' in described.body
    assert f"Category: {OTHER};" in described.body
    assert f'occi.core.id="{by_zone.rsplit("/", 1)[1]}"' in described.body

    for path in [*abroad, at_home]:
        assert curl(daemon, proxy, path, "-X", "DELETE").status == 200
    assert running(clients) == {REGION: [], OTHER: []}


def test_a_storage_link_across_regions_is_400_naming_both(daemon, proxy, clients):
    """A volume of the second region attached to a home compute: 400, nothing attached."""
    compute = create(daemon, proxy, "compute", mixin(DEBIAN, OS_TPL_SCHEME))
    volume = create(daemon, proxy, "storage", mixin(OTHER, REGION_SCHEME),
                    "X-OCCI-Attribute: occi.storage.size=1")
    assert volume.endswith(f".{OTHER}")
    answer = post_text(daemon, proxy, "/link/storagelink/", "\n".join([
        f'Category: storagelink; scheme="{INFRA}"; class="kind"',
        f'X-OCCI-Attribute: occi.core.source="{compute}"',
        f'X-OCCI-Attribute: occi.core.target="{volume}"']))
    assert answer.status == 400, answer.body
    assert REGION in answer.body and OTHER in answer.body
    attached = clients[OTHER].describe_volumes(
        VolumeIds=[volume.rsplit("/", 1)[1].split(".")[0]])["Volumes"][0]["Attachments"]
    assert attached == []
    for path in (volume, compute):
        assert curl(daemon, proxy, path, "-X", "DELETE").status == 200


def test_public_network_of_each_region(daemon, proxy, clients):
    """
    A compute of the second region gets a public address from that region's
    public network, through a link whose id carries the region; the home
    region's public network is 400 for it, naming both regions.
    """
    compute = create(daemon, proxy, "compute", mixin(ALMA, OS_TPL_SCHEME))
    networks = curl(daemon, proxy, "/network/", "-H", "Accept: text/uri-list")
    assert f"{daemon.url}/network/public.{OTHER}" in networks.body.split()

    def link(target: str):
        return post_text(daemon, proxy, "/link/networkinterface/", "\n".join([
            f'Category: networkinterface; scheme="{INFRA}"; class="kind"',
            f'X-OCCI-Attribute: occi.core.source="{compute}"',
            f'X-OCCI-Attribute: occi.core.target="{target}"']))

    refused = link("/network/public")
    assert refused.status == 400, refused.body
    assert REGION in refused.body and OTHER in refused.body
    linked = created(link(f"/network/public.{OTHER}"), daemon, "link/networkinterface")
    assert all(end.endswith(f".{OTHER}") for end in linked.rsplit("/", 1)[1].split("_")), linked
    assert len(clients[OTHER].describe_addresses()["Addresses"]) == 1
    assert curl(daemon, proxy, linked, "-X", "DELETE").status == 200
    assert clients[OTHER].describe_addresses()["Addresses"] == []
    assert curl(daemon, proxy, compute, "-X", "DELETE").status == 200
    assert running(clients)[OTHER] == []


def test_an_entity_does_not_move_and_a_malformed_id_is_404(daemon, proxy, clients):
    """
    An update of a compute abroad naming the home region's mixin is 409
    naming both regions; a listing filtered on its id finds it alone; its id with
    the region twice, or with the home region, is 404 naming it.
    """
    compute = create(daemon, proxy, "compute", mixin(ALMA, OS_TPL_SCHEME))
    at_home = create(daemon, proxy, "compute", mixin(DEBIAN, OS_TPL_SCHEME))
    moved = post_text(daemon, proxy, compute, mixin(REGION, REGION_SCHEME))
    assert moved.status == 409, moved.body
    assert REGION in moved.body and OTHER in moved.body
    id = compute.rsplit("/", 1)[1]
    listing = curl(daemon, proxy, "/compute/", "-H", "Accept: text/uri-list",
                   "-H", f"X-OCCI-Attribute: occi.core.id=\"{id}\"")
    assert listing.body.split() == [daemon.url + compute], listing.body
    bare = id.split(".")[0]
    for wrong in (f"{id}.{OTHER}", f"{bare}.{REGION}"):
        answer = curl(daemon, proxy, f"/compute/{wrong}", *TEXT)
        assert answer.status == 404 and wrong in answer.body, answer.body
    for path in (compute, at_home):
        assert curl(daemon, proxy, path, "-X", "DELETE").status == 200
    assert running(clients) == {REGION: [], OTHER: []}
