"""
User-defined mixins through the HTTP layer over the memory fakes (issue 10,
point 7): C{POST /-/} defines one, POST/PUT/DELETE on its location tag and
untag entities, GET lists them, C{DELETE /-/} removes it; the naming rules
and visibility; and the errors, none of them a 500.
"""

import json

import pytest

from occid.config import Visibility
from occid.occi import infrastructure as infra
from occid.testing import MemoryBackend, make_binding, make_principal
from tests.gateway import make_gateway
from tests.test_web_root import BASE, TEXT, create, locations
from tests.test_web_semantics import without_links

SCHEME = "https://tags.example.org/occi#"
DEFINE = (f'Category: analysis; scheme="{SCHEME}"; class="mixin"; title="my analysis VMs"; '
          'location="/mixin/user/analysis/"\n')
ALICE = make_principal(dn="/DC=org/DC=example/CN=Alice", vo="vo.one")
BOB = make_principal(dn="/DC=org/DC=example/CN=Bob", vo="vo.one")
CAROL = make_principal(dn="/DC=org/DC=example/CN=Carol", vo="vo.two")


def gateway_for(principal, backend, visibility=Visibility.OWNER, writable=True):
    """A gateway for C{principal} in account C{fedcloud} over the shared C{backend}."""
    binding = make_binding(account="fedcloud", visibility=visibility, vo=principal.vo,
                           writable=writable)
    return make_gateway(principal=principal, binding=binding, backend=backend)


@pytest.fixture
def backend():
    return MemoryBackend()


@pytest.fixture
def alice(backend):
    return gateway_for(ALICE, backend)


def uri_list(*paths):
    """A text/uri-list body of C{paths} as absolute URLs."""
    return [("Content-Type", "text/uri-list")], "".join(f"{BASE}{p}\n" for p in paths).encode()


def test_define_tag_list_untag_remove(alice):
    """The whole life of a user mixin, GFD.185's way."""
    response = alice.request("POST", "/-/", TEXT, DEFINE.encode())
    assert response.status == 201, response
    assert response.header("Location") == f"{BASE}/mixin/user/analysis/"
    model = alice.request("GET", "/-/").body.decode()
    assert f'analysis; scheme="{SCHEME}"; class="mixin"; title="my analysis VMs"' in model
    one, two, three = create(alice, "one"), create(alice, "two"), create(alice, "three")
    headers, body = uri_list(one, two)
    assert alice.request("POST", "/mixin/user/analysis/", headers, body).status == 200
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == [one, two]
    entity = alice.request("GET", one).body.decode()
    assert f'Category: analysis; scheme="{SCHEME}"; class="mixin"' in entity
    filtered = alice.request("GET", "/compute/", [
        ("Category", f'analysis; scheme="{SCHEME}"; class="mixin"')])
    assert locations(filtered) == [one, two]
    # DELETE with locations untags them; PUT replaces the membership.
    tag = f"X-OCCI-Location: {BASE}{one}\n".encode()
    assert alice.request("DELETE", "/mixin/user/analysis/", TEXT, tag).status == 200
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == [two]
    headers, body = uri_list(three)
    assert alice.request("PUT", "/mixin/user/analysis/", headers, body).status == 200
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == [three]
    # Removing the definition removes the memberships with it.
    remove = f'Category: analysis; scheme="{SCHEME}"; class="mixin"\n'.encode()
    assert alice.request("DELETE", "/-/", TEXT, remove).status == 200
    assert alice.request("GET", "/mixin/user/analysis/").status == 404
    assert "analysis" not in alice.request("GET", "/-/").body.decode()
    assert f"{SCHEME}" not in alice.request("GET", three).body.decode()


def test_update_of_an_entity_associates_a_user_mixin(alice):
    """A partial update (POST to the entity) naming a user mixin tags the entity."""
    alice.request("POST", "/-/", TEXT, DEFINE.encode())
    one = create(alice)
    body = f'Category: analysis; scheme="{SCHEME}"; class="mixin"\n'.encode()
    response = alice.request("POST", one, TEXT, body)
    assert response.status == 200, response
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == [one]


def test_json_definition_and_locations(alice):
    """application/occi+json bodies define a mixin and name entities."""
    json_type = [("Content-Type", "application/occi+json")]
    definition = {"mixins": [{"term": "j", "scheme": SCHEME, "location": "/mixin/user/j/"}]}
    assert alice.request("POST", "/-/", json_type, json.dumps(definition).encode()).status == 201
    one = create(alice)
    members = json.dumps({"locations": [BASE + one]}).encode()
    assert alice.request("POST", "/mixin/user/j/", json_type, members).status == 200
    assert locations(alice.request("GET", "/mixin/user/j/")) == [one]


def test_location_assigned_from_the_term(alice):
    """A definition without a location lives at /mixin/user/<term>/."""
    body = f'Category: tagged; scheme="{SCHEME}"; class="mixin"\n'.encode()
    response = alice.request("POST", "/-/", TEXT, body)
    assert response.header("Location") == f"{BASE}/mixin/user/tagged/"


@pytest.mark.parametrize("body, status, words", [
    ('Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="mixin"',
     409, "reserved"),
    ('Category: ami-1; scheme="http://occi.example.org/occi/infrastructure/os_tpl#"; '
     'class="mixin"', 409, "reserved"),
    ('Category: x; scheme="http://schemas.ec2.aws.amazon.com/occi/infrastructure/resource_tpl#";'
     ' class="mixin"', 409, "reserved"),
    (f'Category: x; scheme="{SCHEME}"; class="mixin"; location="/compute/"', 400,
     "/mixin/user/<name>/"),
    (f'Category: x; scheme="{SCHEME}"; class="mixin"; location="/my_stuff/"', 400,
     "/mixin/user/<name>/"),
    (f'Category: x; scheme="{SCHEME}"; class="kind"', 400, "only mixins"),
    (f'Category: x; scheme="{SCHEME}"; class="mixin"; rel="{SCHEME}y"', 400, "no attributes"),
    ("", 400, "exactly one mixin"),
])
def test_bad_definitions(alice, body, status, words):
    """Definitions that would shadow occid's categories, or are malformed, are refused."""
    response = alice.request("POST", "/-/", TEXT, (body + "\n").encode())
    assert response.status == status, response
    assert words in response.body.decode()
    assert "/mixin/user/" not in alice.request("GET", "/-/").body.decode()


def test_static_mixin_scheme_is_occids(alice):
    """The scheme of a static mixin outside OGF's (OpenStack's key) cannot be taken."""
    scheme = infra.OPENSTACK_PUBLIC_KEY.scheme
    body = f'Category: mine; scheme="{scheme}"; class="mixin"\n'.encode()
    response = alice.request("POST", "/-/", TEXT, body)
    assert response.status == 409 and "occid's" in response.body.decode()


def test_twice_and_another_vos_name(backend, alice):
    """A name (identifier or location) is the account's: another VO cannot take it."""
    assert alice.request("POST", "/-/", TEXT, DEFINE.encode()).status == 201
    assert alice.request("POST", "/-/", TEXT, DEFINE.encode()).status == 409
    carol = gateway_for(CAROL, backend, Visibility.VO)
    assert "analysis" not in carol.request("GET", "/-/").body.decode()
    assert carol.request("GET", "/mixin/user/analysis/").status == 404
    response = carol.request("POST", "/-/", TEXT, DEFINE.encode())
    assert response.status == 409 and "defined already" in response.body.decode()
    other = DEFINE.replace("analysis;", "other;")
    response = carol.request("POST", "/-/", TEXT, other.encode())
    assert response.status == 409 and "taken" in response.body.decode()


def test_visibility_follows_the_binding(backend, alice):
    """A VO member sees (and may use) the VO's mixin, but only its creator removes it."""
    vo_alice = gateway_for(ALICE, backend, Visibility.VO)
    assert vo_alice.request("POST", "/-/", TEXT, DEFINE.encode()).status == 201
    bob = gateway_for(BOB, backend, Visibility.VO)
    assert "analysis" in bob.request("GET", "/-/").body.decode()
    mine = create(bob)
    headers, body = uri_list(mine)
    assert bob.request("POST", "/mixin/user/analysis/", headers, body).status == 200
    remove = f'Category: analysis; scheme="{SCHEME}"; class="mixin"\n'.encode()
    assert bob.request("DELETE", "/-/", TEXT, remove).status == 403
    owner_bob = gateway_for(BOB, backend, Visibility.OWNER)
    assert owner_bob.request("GET", "/mixin/user/analysis/").status == 404
    manager = gateway_for(CAROL, backend, Visibility.MANAGER)
    assert manager.request("DELETE", "/-/", TEXT, remove).status == 200


def test_tagging_errors(backend, alice):
    """Bad targets are refused before anything is tagged."""
    alice.request("POST", "/-/", TEXT, DEFINE.encode())
    one = create(alice)
    theirs = create(gateway_for(BOB, backend))
    cases = [
        (uri_list(one, theirs), 404),
        (uri_list(one, "/compute/i-nothere"), 404),
        (uri_list(one, "/nowhere/x"), 400),
        (uri_list(one, "/network/public"), 400),
        (([("Content-Type", "text/uri-list")], b""), 400),
    ]
    for (headers, body), status in cases:
        response = alice.request("POST", "/mixin/user/analysis/", headers, body)
        assert response.status == status, (body, response)
        assert locations(alice.request("GET", "/mixin/user/analysis/")) == []


def test_limited_proxy_cannot_write(backend, alice):
    """A read-only binding gets 403 for every user mixin write."""
    alice.request("POST", "/-/", TEXT, DEFINE.encode())
    one = create(alice)
    limited = gateway_for(ALICE, backend, writable=False)
    headers, body = uri_list(one)
    other = DEFINE.replace("analysis", "other").encode()
    remove = f'Category: analysis; scheme="{SCHEME}"; class="mixin"\n'.encode()
    assert limited.request("POST", "/-/", TEXT, other).status == 403
    assert limited.request("DELETE", "/-/", TEXT, remove).status == 403
    for method in ("POST", "PUT", "DELETE"):
        assert limited.request(method, "/mixin/user/analysis/", headers, body).status == 403
    assert limited.request("GET", "/mixin/user/analysis/").status == 200


def test_provider_mixins_are_not_removable(alice):
    """DELETE /-/ of occid's own mixin is 403; of an unknown one 404."""
    body = 'Category: os_tpl; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="mixin"\n'
    assert alice.request("DELETE", "/-/", TEXT, body.encode()).status == 403
    unknown = f'Category: nope; scheme="{SCHEME}"; class="mixin"\n'
    assert alice.request("DELETE", "/-/", TEXT, unknown.encode()).status == 404


def test_put_keeps_or_drops_user_mixins(alice):
    """
    A PUT of an entity's rendering (minus its links) keeps the user mixins
    it restates, and dissociates one it leaves out, as a full update removes
    every removable mixin it omits.
    """
    assert alice.request("POST", "/-/", TEXT, DEFINE.encode()).status == 201
    one = create(alice, "one")
    headers, body = uri_list(one)
    assert alice.request("POST", "/mixin/user/analysis/", headers, body).status == 200
    text = without_links(alice.request("GET", one, [("Accept", "text/plain")]).body.decode())
    assert f'analysis; scheme="{SCHEME}"' in text
    kept = alice.request("PUT", one, TEXT, text.encode())
    assert kept.status == 200, kept
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == [one]
    untagged = "".join(line + "\n" for line in text.splitlines() if SCHEME not in line)
    dropped = alice.request("PUT", one, TEXT, untagged.encode())
    assert dropped.status == 200, dropped
    assert locations(alice.request("GET", "/mixin/user/analysis/")) == []
    assert SCHEME not in alice.request("GET", one).body.decode()
