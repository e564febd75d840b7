"""
Tests for L{occid.ec2.regions}, the pure vocabulary of a gateway serving
several regions: ids and paths of the home region stay bare, others carry
their region after a dot, link ids join two qualified ends; every id that
names no region served here is 404; one request naming two regions is 400;
L{qualified} rewrites an entity as clients see it; L{merged_catalog} makes
one query interface of the regions' catalogs.
"""

from __future__ import annotations

import pytest

from occid.ec2.regions import RegionMap, merged_catalog, qualified
from occid.ec2.vocabulary import SNAPSHOT
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, NotFound
from occid.occi.model import EntityFilter, Link, Resource

HOME, OTHER, THIRD = "eu-west-1", "eu-central-1", "us-east-1"
HOST = "occi.test"

#: An account served in all three regions, the home region its default.
EVERYWHERE = RegionMap(HOME, (HOME, OTHER, THIRD))

#: An account narrowed to two regions, the other one its default.
ABROAD = RegionMap(HOME, (OTHER, HOME))


def region(name: str):
    """The region mixin of C{name}."""
    return infra.region_mixin(name, HOST)


def test_default_is_the_first_served_region():
    """Creates naming no region go to the account's first region, not always home."""
    assert EVERYWHERE.default == HOME
    assert ABROAD.default == OTHER


@pytest.mark.parametrize("id", ["i-0abc", "vol-0def", "vpc-01", "snap-9", "public"])
def test_home_ids_stay_bare_and_others_carry_their_region(id):
    """The home region's ids are EC2's; another region's end in C{.<region>}; both split back."""
    assert EVERYWHERE.qualify(id, HOME) == id
    assert EVERYWHERE.qualify(id, OTHER) == f"{id}.{OTHER}"
    assert EVERYWHERE.split(id) == (id, HOME)
    assert EVERYWHERE.split(f"{id}.{OTHER}") == (id, OTHER)
    assert EVERYWHERE.split(f"{id}.{THIRD}") == (id, THIRD)


def test_a_link_id_joins_two_qualified_ends():
    """Each end of a link id carries the region; the split joins the bare ends again."""
    link = "i-0abc_vol-0def"
    assert EVERYWHERE.qualify(link, HOME) == link
    qualified_id = EVERYWHERE.qualify(link, OTHER)
    assert qualified_id == f"i-0abc.{OTHER}_vol-0def.{OTHER}"
    assert EVERYWHERE.split(qualified_id) == (link, OTHER)
    assert EVERYWHERE.split(link) == (link, HOME)


def test_a_link_id_across_two_regions_is_404():
    """No link joins two regions, so an id saying so names nothing."""
    with pytest.raises(NotFound, match="joins two regions"):
        EVERYWHERE.split(f"i-0abc.{OTHER}_vol-0def")


def test_the_home_region_named_explicitly_is_404():
    """The home region's ids are bare: C{i-0abc.<home>} is no id occid gave out."""
    with pytest.raises(NotFound, match=f"home region {HOME}"):
        EVERYWHERE.split(f"i-0abc.{HOME}")


def test_a_region_not_served_is_404():
    """A region this account is not served in (or no region at all) is 404 naming it."""
    with pytest.raises(NotFound, match=f"region {THIRD} is not served"):
        ABROAD.split(f"i-0abc.{THIRD}")
    with pytest.raises(NotFound, match="region ap-south-9 is not served"):
        EVERYWHERE.split("i-0abc.ap-south-9")


def test_a_bare_id_of_an_account_not_served_at_home_is_404():
    """An account narrowed away from the home region has no bare ids."""
    with pytest.raises(NotFound, match=f"region {HOME} is not served"):
        RegionMap(HOME, (OTHER,)).split("i-0abc")


def test_paths_keep_their_collection():
    """A path qualifies and splits its last segment only."""
    assert EVERYWHERE.qualify_path("/compute/i-0abc", OTHER) == f"/compute/i-0abc.{OTHER}"
    assert EVERYWHERE.qualify_path("/network/public", HOME) == "/network/public"
    assert EVERYWHERE.split_path(f"/network/public.{OTHER}") == ("/network/public", OTHER)
    assert EVERYWHERE.split_path("/storage/vol-0def") == ("/storage/vol-0def", HOME)


def test_only_region_agrees_or_names_every_contradiction():
    """Nothing named: C{None}; one region named twice: it; two: 400 naming each part."""
    assert EVERYWHERE.only_region({}) is None
    assert EVERYWHERE.only_region({"a": OTHER, "b": OTHER}) == OTHER
    with pytest.raises(BadRequest) as raised:
        EVERYWHERE.only_region({"mixin x": HOME, "/storage/vol-1.eu-central-1": OTHER})
    message = str(raised.value)
    assert f"mixin x is in {HOME}" in message
    assert f"/storage/vol-1.eu-central-1 is in {OTHER}" in message


def compute_with_link() -> Resource:
    """A compute as a region's collection answers it: bare id, an inline storage link."""
    link = Link(kind=infra.STORAGELINK, id="i-0abc_vol-0def", source="/compute/i-0abc",
                target="/storage/vol-0def")
    return Resource(kind=infra.COMPUTE, id="i-0abc", attributes={"occi.core.title": "vm"},
                    links=[link])


def test_qualified_resource_carries_its_region():
    """
    A resource of another region: qualified id, the region's mixin and
    attribute, its inline links' ids and ends qualified; the entity given
    is left as it was.
    """
    given = compute_with_link()
    seen = qualified(given, EVERYWHERE, OTHER, region(OTHER))
    assert seen.id == f"i-0abc.{OTHER}"
    assert region(OTHER) in seen.mixins
    assert seen.attributes == {"occi.core.title": "vm", infra.REGION_ATTRIBUTE: OTHER}
    link = seen.links[0]
    assert link.id == f"i-0abc.{OTHER}_vol-0def.{OTHER}"
    assert region(OTHER) in link.mixins and link.attributes[infra.REGION_ATTRIBUTE] == OTHER
    assert (link.source, link.target) == (f"/compute/i-0abc.{OTHER}", f"/storage/vol-0def.{OTHER}")
    assert given == compute_with_link()


def test_qualified_home_resource_keeps_bare_ids_but_names_its_region():
    """At home the ids stay bare; the rendering still carries the home region."""
    seen = qualified(compute_with_link(), EVERYWHERE, HOME, region(HOME))
    assert seen.id == "i-0abc" and seen.links[0].target == "/storage/vol-0def"
    assert region(HOME) in seen.mixins
    assert seen.attributes[infra.REGION_ATTRIBUTE] == HOME


def catalog_of(*mixins, version: str = "v") -> Catalog:
    """A region's catalog with the template C{mixins}."""
    return Catalog(mixins, version=version)


def test_merged_catalog_has_the_regions_and_each_template_once():
    """
    The first catalog's templates, then what the others add (a template two
    regions share is one mixin), the region parent and one mixin per region.
    """
    shared = infra.Mixin(term="t3_micro", scheme="http://example.org/tpl#",
                         location="/mixin/resource_tpl/t3_micro/", depends=(infra.RESOURCE_TPL,))
    home_image = infra.os_tpl_mixin("ami-1", "one", HOST, HOME)
    other_image = infra.os_tpl_mixin("ami-2", "two", HOST, OTHER)
    merged = merged_catalog([(HOME, catalog_of(shared, home_image)),
                             (OTHER, catalog_of(shared, other_image))], (HOME, OTHER), HOST)
    identifiers = [mixin.identifier for mixin in merged.mixins]
    assert identifiers.count(shared.identifier) == 1
    for category in (infra.REGION, region(HOME), region(OTHER), home_image, other_image):
        assert merged.lookup(category.identifier) == category


def test_merged_catalog_version_follows_every_region():
    """The version changes when any region's catalog does, so cached renderings go stale."""
    def version(home: str, other: str) -> str:
        return merged_catalog([(HOME, catalog_of(version=home)),
                               (OTHER, catalog_of(version=other))], (HOME, OTHER), HOST).version

    assert version("a", "b") == version("a", "b")
    assert len({version("a", "b"), version("a", "c"), version("c", "b")}) == 3


@pytest.mark.parametrize("id", [
    f"i-0abc.{OTHER}.{OTHER}", f"i-0abc.{HOME}.{OTHER}", f".{OTHER}", "i-0abc.", ".",
    f"i-0abc.{OTHER}_vol-0def.{OTHER}.{OTHER}", "", "_", "i-0abc_", f"_vol-0def.{OTHER}",
])
def test_a_malformed_id_is_404_naming_it(id):
    """Two region suffixes, an empty id, end or region: no id occid gave out."""
    with pytest.raises(NotFound) as raised:
        EVERYWHERE.split(id)
    assert "is not an id of this gateway" in str(raised.value)


MIXINS = {name: region(name) for name in EVERYWHERE.served}


@pytest.mark.parametrize(("given", "regions", "seen"), [
    (EntityFilter(), EVERYWHERE.served, EntityFilter()),
    (EntityFilter(categories=(region(OTHER).identifier, infra.OS_TPL.identifier)), (OTHER,),
     EntityFilter(categories=(infra.OS_TPL.identifier,))),
    (EntityFilter(attributes={infra.REGION_ATTRIBUTE: THIRD, "occi.core.title": "vm"}),
     (THIRD,), EntityFilter(attributes={"occi.core.title": "vm"})),
    (EntityFilter(attributes={"occi.core.id": f"i-0abc.{OTHER}"}), (OTHER,),
     EntityFilter(attributes={"occi.core.id": "i-0abc"})),
    (EntityFilter(attributes={"occi.core.id": "i-0abc"}), (HOME,),
     EntityFilter(attributes={"occi.core.id": "i-0abc"})),
    (EntityFilter(attributes={"occi.core.id": f"i-1.{OTHER}_vol-2.{OTHER}"}), (OTHER,),
     EntityFilter(attributes={"occi.core.id": "i-1_vol-2"})),
    (EntityFilter(categories=(region(OTHER).identifier,), owned_only=True,
                  attributes={"occi.core.id": f"i-1.{OTHER}"}), (OTHER,),
     EntityFilter(attributes={"occi.core.id": "i-1"}, owned_only=True)),
])
def test_narrowed_asks_the_regions_a_filter_names_with_bare_ids(given, regions, seen):
    """
    A filter naming a region by mixin, attribute or id asks that
    region alone, with the region's categories and attribute left out and
    the ids bare; naming none, every region with the filter as given.
    """
    assert EVERYWHERE.narrowed(given, MIXINS) == (regions, seen)


@pytest.mark.parametrize("given", [
    EntityFilter(categories=(region(HOME).identifier, region(OTHER).identifier)),
    EntityFilter(categories=(region(HOME).identifier,),
                 attributes={"occi.core.id": f"i-0abc.{OTHER}"}),
    EntityFilter(attributes={infra.REGION_ATTRIBUTE: "ap-south-9"}),
    EntityFilter(attributes={"occi.core.id": f"i-0abc.{OTHER}.{OTHER}"}),
    EntityFilter(attributes={"occi.core.id": f"i-0abc.{HOME}"}),
])
def test_narrowed_to_nothing_when_no_entity_can_match(given):
    """Two regions, a region not served, a malformed id: no region to ask."""
    regions, _ = EVERYWHERE.narrowed(given, MIXINS)
    assert regions == ()


def test_every_entity_of_a_region_carries_its_mixin_and_attribute():
    """A snapshot and a link (alone, not inline) get the region's mixin and attribute too."""
    snapshot = Resource(kind=SNAPSHOT, id="snap-1")
    link = Link(kind=infra.NETWORKINTERFACE, id="i-1_public", source="/compute/i-1",
                target="/network/public")
    for entity in (snapshot, link):
        seen = qualified(entity, EVERYWHERE, OTHER, region(OTHER))
        assert region(OTHER) in seen.mixins
        assert seen.attributes[infra.REGION_ATTRIBUTE] == OTHER
    assert qualified(link, EVERYWHERE, OTHER, region(OTHER)).target == f"/network/public.{OTHER}"


@pytest.mark.parametrize("kind", [infra.COMPUTE, infra.STORAGE, infra.NETWORK, SNAPSHOT,
                                  infra.NETWORKINTERFACE, infra.STORAGELINK])
def test_the_region_mixins_apply_to_every_kind_they_are_rendered_on(kind):
    """The parent and each region's mixin apply to every kind an entity of a region has."""
    assert infra.REGION.applies_to(kind)
    assert region(OTHER).applies_to(kind)


def test_merged_catalog_keeps_the_mixin_of_a_region_not_loaded():
    """A region whose catalogue is missing keeps its mixin; its templates are absent."""
    merged = merged_catalog([(OTHER, catalog_of(infra.os_tpl_mixin("ami-2", "two", HOST, OTHER)))],
                            (HOME, OTHER), HOST)
    assert merged.lookup(region(HOME).identifier) == region(HOME)
    assert merged.lookup(region(OTHER).identifier) == region(OTHER)
