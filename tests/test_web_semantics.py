"""
Issue 10, points 5, 6, 8, 11 and two of 12, through the HTTP layer over the
memory fakes (L{tests.gateway}): what a create leaves out (the default
image, a network address), cores and memory choosing the instance type, PUT
as the full update, the storage backup and resize actions, a save name EC2
refuses, and an action on a VPC that is not there.  The same over real TLS
against the daemon on moto is in L{tests.test_compliance_tls}.
"""

from __future__ import annotations

import pytest

from occid.occi import infrastructure as infra
from occid.testing import MemoryBackend
from tests.gateway import Gateway, make_gateway

BASE = "https://occi.example.org:11443"
AMI = "ami-0123456789abcdef0"
INFRA = "http://schemas.ogf.org/occi/infrastructure#"
TEXT = [("Content-Type", "text/plain"), ("Accept", "text/plain")]
KIND_ONLY = f'Category: compute; scheme="{INFRA}"; class="kind"\n'
OS_TPL = infra.os_tpl_mixin(AMI, "", "occi.example.org")
WITH_IMAGE = KIND_ONLY + f'Category: {AMI}; scheme="{OS_TPL.scheme}"; class="mixin"\n'
RESOURCE_TPL = "http://schemas.ec2.aws.amazon.com/occi/infrastructure/resource_tpl#"


@pytest.fixture
def gateway() -> Gateway:
    """A gateway whose fake sets [images] default to a catalogued AMI."""
    return make_gateway(backend=MemoryBackend(default_image=AMI))


def post(gateway: Gateway, path: str, body: str):
    """POST a text/plain body."""
    return gateway.request("POST", path, TEXT, body.encode())


def created(gateway: Gateway, collection: str, body: str) -> str:
    """The path of what a create in C{collection} made (it must be 201)."""
    response = post(gateway, collection, body)
    assert response.status == 201, response
    return response.header("Location")[len(BASE):]


def rendering(gateway: Gateway, path: str) -> str:
    """The text/plain rendering of the entity at C{path}."""
    response = gateway.request("GET", path, [("Accept", "text/plain")])
    assert response.status == 200, response
    return response.body.decode()


def without_links(text: str) -> str:
    """A rendering minus its Link lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("Link:")) + "\n"


def test_kind_only_create_uses_the_default_image(gateway):
    """A compute create with the kind alone is 201 on the default image; without one, 400."""
    path = created(gateway, "/compute/", KIND_ONLY)
    assert f"Category: {AMI};" in rendering(gateway, path)
    bare = make_gateway()
    response = post(bare, "/compute/", KIND_ONLY)
    assert response.status == 400, response
    assert b"os_tpl" in response.body


def test_default_image_not_offered_is_400():
    """A default image the catalogue does not offer is a 400 naming it."""
    gateway = make_gateway(backend=MemoryBackend(default_image="ami-0000000000000dead"))
    response = post(gateway, "/compute/", KIND_ONLY)
    assert response.status == 400, response
    assert b"ami-0000000000000dead" in response.body


def test_network_create_with_title_only(gateway):
    """A network create with a title only is 201 and gets the first free /16 of 10.0.0.0/8."""
    body = f'Category: network; scheme="{INFRA}"; class="kind"\nX-OCCI-Attribute: occi.core.title="t"\n'
    first = created(gateway, "/network/", body)
    second = created(gateway, "/network/", body)
    assert 'occi.network.address="10.0.0.0/16"' in rendering(gateway, first)
    assert 'occi.network.address="10.1.0.0/16"' in rendering(gateway, second)


def test_cores_and_memory_choose_the_type(gateway):
    """memory=3.6 without resource_tpl picks the smallest type with that much (t3.large)."""
    path = created(gateway, "/compute/", WITH_IMAGE + "X-OCCI-Attribute: occi.compute.memory=3.6\n")
    assert "Category: t3_large;" in rendering(gateway, path)


def test_sizes_no_type_has_and_contradictions_are_400(gateway):
    """Memory no type has, or cores contradicting the resource_tpl, are 400s naming them."""
    huge = post(gateway, "/compute/", WITH_IMAGE + "X-OCCI-Attribute: occi.compute.memory=64\n")
    assert huge.status == 400 and b"occi.compute.memory=64" in huge.body, huge
    contradiction = post(gateway, "/compute/", WITH_IMAGE
                         + f'Category: t3_micro; scheme="{RESOURCE_TPL}"; class="mixin"\n'
                         + "X-OCCI-Attribute: occi.compute.memory=2.0\n")
    assert contradiction.status == 400 and b"t3_micro" in contradiction.body, contradiction
    assert gateway.request("GET", "/compute/").body == b""


def test_put_of_what_get_answered(gateway):
    """
    A PUT of a GET's rendering minus its Link lines is 200; with the Link
    lines it stays 400; changing the state is 403; dropping the os_tpl is
    409; leaving the title out removes it.
    """
    path = created(gateway, "/compute/", WITH_IMAGE + 'X-OCCI-Attribute: occi.core.title="kept"\n')
    text = rendering(gateway, path)
    assert gateway.request("PUT", path, TEXT, text.encode()).status == 400
    same = gateway.request("PUT", path, TEXT, without_links(text).encode())
    assert same.status == 200, same
    assert 'occi.core.title="kept"' in rendering(gateway, path)
    changed = without_links(text).replace('state="active"', 'state="inactive"')
    forbidden = gateway.request("PUT", path, TEXT, changed.encode())
    assert forbidden.status == 403 and b"occi.compute.state" in forbidden.body, forbidden
    no_image = "\n".join(line for line in without_links(text).splitlines()
                         if AMI not in line or "occi.core" in line) + "\n"
    conflict = gateway.request("PUT", path, TEXT, no_image.encode())
    assert conflict.status == 409 and AMI.encode() in conflict.body, conflict
    untitled = "\n".join(line for line in without_links(text).splitlines()
                         if "occi.core.title" not in line) + "\n"
    assert gateway.request("PUT", path, TEXT, untitled.encode()).status == 200
    assert "occi.core.title" not in rendering(gateway, path)


def test_post_stays_a_partial_update(gateway):
    """POST to an entity changes what it names and keeps the rest."""
    path = created(gateway, "/compute/", WITH_IMAGE + 'X-OCCI-Attribute: occi.core.title="a"\n')
    assert post(gateway, path, 'X-OCCI-Attribute: occi.core.summary="s"\n').status == 200
    after = rendering(gateway, path)
    assert 'occi.core.title="a"' in after and 'occi.core.summary="s"' in after


STORAGE = f'Category: storage; scheme="{INFRA}"; class="kind"\nX-OCCI-Attribute: occi.storage.size=1\n'
STORAGE_ACTION = "http://schemas.ogf.org/occi/infrastructure/storage/action#"


def test_storage_backup_and_resize_actions(gateway):
    """
    The query interface declares backup; backup is 201 with the new
    snapshot's location; resize with size grows the volume.
    """
    model = gateway.request("GET", "/-/", [("Accept", "text/plain")]).body.decode()
    assert f'Category: backup; scheme="{STORAGE_ACTION}"; class="action"' in model
    path = created(gateway, "/storage/", STORAGE)
    assert f"{path}?action=backup>" in rendering(gateway, path)
    backup = post(gateway, path + "?action=backup", "")
    assert backup.status == 201, backup
    assert dict(backup.headers)["Location"].startswith("https://occi.example.org:11443/snapshot/snap-")
    resize = post(gateway, path + "?action=resize",
                  f'Category: resize; scheme="{STORAGE_ACTION}"; class="action"\n'
                  "X-OCCI-Attribute: size=3\n")
    assert resize.status == 200, resize
    assert "occi.storage.size=3" in rendering(gateway, path)
    assert post(gateway, path + "?action=resize", "").status == 400


def test_save_with_a_short_name_is_400(gateway):
    """save with a name under 3 characters is a 400 naming it, before anything is made."""
    path = created(gateway, "/compute/", WITH_IMAGE)
    response = post(gateway, path + "?action=save", 'X-OCCI-Attribute: name="ab"\n')
    assert response.status == 400 and b"'ab'" in response.body, response


def test_action_on_an_unknown_or_deleted_vpc_is_404(gateway):
    """up/down of a VPC that is not there (never was, or deleted) is 404; of one that is, 409."""
    assert post(gateway, "/network/vpc-0000000000000dead?action=up", "").status == 404
    body = f'Category: network; scheme="{INFRA}"; class="kind"\n'
    path = created(gateway, "/network/", body)
    assert post(gateway, path + "?action=down", "").status == 409
    assert gateway.request("DELETE", path).status == 200
    assert post(gateway, path + "?action=down", "").status == 404
