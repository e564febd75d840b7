"""
Tests for L{occid.occi.usermixins}: what a C{/-/} request defines or
removes, the naming rules, the entities a mixin-collection request names,
and the catalogue with user mixins.
"""

import pytest

from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import CategoryRef, Document

SCHEME = "https://tags.example.org/occi#"
CATALOG = Catalog([infra.os_tpl_mixin("ami-1", "one", "occi.example.org")])


def document(*refs, locations=()):
    """A parsed request of C{refs} and C{locations}."""
    return Document(categories=list(refs), locations=list(locations))


def ref(term="analysis", scheme=SCHEME, cls="mixin", **more):
    """A category reference as a parser makes it."""
    return CategoryRef(term=term, scheme=scheme, cls=cls, **more)


def test_definition_with_and_without_location():
    """The location is the one given, or /mixin/user/<term>/; an absolute URL is reduced to its path."""
    mixin = usermixins.definition_request(document(ref(title="t", location="/mixin/user/x/")))
    assert (mixin.location, mixin.title, mixin.applies) == ("/mixin/user/x/", "t", usermixins.APPLIES)
    assert usermixins.definition_request(document(ref())).location == "/mixin/user/analysis/"
    absolute = ref(location="https://h:1/mixin/user/y/")
    assert usermixins.definition_request(document(absolute)).location == "/mixin/user/y/"
    assert usermixins.name_of(mixin) == "x"


@pytest.mark.parametrize("location", [
    "/my_stuff/", "/mixin/x/", "/mixin/user/", "/mixin/user/a/b/", "/mixin/user/x",
    "/mixin/user/-x/", "/mixin/user/" + "x" * 65 + "/"])
def test_locations_outside_the_user_space(location):
    """Only /mixin/user/<name>/ with a short plain name is a user mixin's location."""
    with pytest.raises(BadRequest, match="/mixin/user/<name>/"):
        usermixins.definition_request(document(ref(location=location)))


def test_malformed_definitions():
    """Not one mixin, or one with attributes, actions or rel, or too long, is 400."""
    for bad in (document(), document(ref(), ref("b")), document(ref(cls="kind")),
                document(ref(attributes=("a",))), document(ref(rel=(SCHEME + "x",))),
                document(ref(actions=(SCHEME + "go",))),
                document(ref(term="t" * 250, scheme="https://e.org/" + "s" * 10 + "#"))):
        with pytest.raises(BadRequest):
            usermixins.definition_request(bad)


@pytest.mark.parametrize("scheme, term", [
    ("http://schemas.ogf.org/occi/infrastructure#", "mine"),
    ("http://occi.elsewhere.org/occi/infrastructure/os_tpl#", "ami-2"),
    ("https://e.org/resource_tpl#", "big"),
    ("https://e.org/x/availability_zone#", "z"),
    (infra.OPENSTACK_PUBLIC_KEY.scheme, "mine"),
    (CATALOG.mixins[-1].scheme, "ami-9"),
])
def test_occids_schemes_are_refused(scheme, term):
    """OGF's, the templates' and every scheme of the catalogue are 409."""
    mixin = usermixins.user_mixin(term, scheme, "", f"/mixin/user/{term}/")
    with pytest.raises(Conflict):
        usermixins.check_clash(mixin, CATALOG)


def test_clash_with_a_visible_user_mixin_and_unique_in_the_account():
    """An identifier or location already defined is 409, in the catalogue or the account."""
    mine = usermixins.user_mixin("a", SCHEME, "", "/mixin/user/a/")
    catalog = usermixins.with_user_mixins(CATALOG, [mine])
    with pytest.raises(Conflict, match="already a user mixin"):
        usermixins.check_clash(mine, catalog)
    defined = [usermixins.Definition(mine, "owner", "vo")]
    with pytest.raises(Conflict, match="defined already"):
        usermixins.check_unique(usermixins.user_mixin("a", SCHEME, "", "/mixin/user/b/"), defined)
    with pytest.raises(Conflict, match="taken"):
        usermixins.check_unique(usermixins.user_mixin("b", SCHEME, "", "/mixin/user/a/"), defined)
    usermixins.check_unique(usermixins.user_mixin("b", SCHEME, "", "/mixin/user/b/"), defined)


def test_removal_request():
    """Only a user mixin the catalogue holds is removed; occid's are 403, unknown 404."""
    mine = usermixins.user_mixin("a", SCHEME, "", "/mixin/user/a/")
    catalog = usermixins.with_user_mixins(CATALOG, [mine])
    assert usermixins.removal_request(document(ref("a")), catalog) == mine
    with pytest.raises(Forbidden):
        usermixins.removal_request(
            document(ref("os_tpl", "http://schemas.ogf.org/occi/infrastructure#")), catalog)
    with pytest.raises(NotFound):
        usermixins.removal_request(document(ref("b")), catalog)


def test_targets():
    """Entity locations (paths or URLs) become (kind, id) pairs, once each."""
    mine = usermixins.user_mixin("a", SCHEME, "", "/mixin/user/a/")
    found = usermixins.targets(document(locations=(
        "https://h:1/compute/i-1", "/storage/vol-2", "/compute/i-1")), CATALOG, mine)
    assert found == [(infra.COMPUTE, "i-1"), (infra.STORAGE, "vol-2")]
    for bad in ("/compute/", "/nowhere/x", "/link/storagelink/i-1_vol-2"):
        with pytest.raises(BadRequest):
            usermixins.targets(document(locations=(bad,)), CATALOG, mine)
    with pytest.raises(BadRequest, match="name the entities"):
        usermixins.targets(document(), CATALOG, mine)
    assert usermixins.targets(document(), CATALOG, mine, allow_empty=True) == []


def test_catalog_with_user_mixins():
    """User mixins join the catalogue under a version of their own; a clashing one is left out."""
    a = usermixins.user_mixin("a", SCHEME, "A", "/mixin/user/a/")
    clash = usermixins.user_mixin("b", SCHEME, "", "/mixin/os_tpl/")
    catalog = usermixins.with_user_mixins(CATALOG, [a, clash])
    assert catalog.mixin_at("/mixin/user/a/") == a and catalog.lookup(clash.identifier) is None
    assert catalog.version != CATALOG.version
    assert catalog.kinds == CATALOG.kinds and catalog.mixins[:-1] == CATALOG.mixins
    assert usermixins.with_user_mixins(CATALOG, []) is CATALOG
    renamed = usermixins.user_mixin("a", SCHEME, "B", "/mixin/user/a/")
    assert usermixins.with_user_mixins(CATALOG, [renamed]).version != catalog.version
