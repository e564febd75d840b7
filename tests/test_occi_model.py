"""Tests for L{occid.occi.model}, using the real infrastructure categories."""

import pytest

from occid.occi import corekinds
from occid.occi import infrastructure as infra
from occid.occi.model import Attribute, EntityFilter, Kind, Mixin, Resource


def test_category_identity():
    """Categories compare by class and identifier, not by title or attributes."""
    same = Kind(term="compute", scheme=infra.INFRASTRUCTURE, title="other")
    assert same == infra.COMPUTE and hash(same) == hash(infra.COMPUTE)
    assert Mixin(term="compute", scheme=infra.INFRASTRUCTURE) != infra.COMPUTE


def test_kind_ancestry_and_mixin_applicability():
    """is_a follows parents; applies_to follows kinds' ancestry; depends_on is transitive."""
    assert infra.STORAGELINK.is_a(corekinds.ENTITY) and not infra.COMPUTE.is_a(corekinds.LINK)
    assert infra.IPNETWORKINTERFACE.applies_to(infra.NETWORKINTERFACE)
    assert not infra.IPNETWORKINTERFACE.applies_to(infra.STORAGELINK)
    child = Mixin(term="c", scheme="http://e.org/s#",
                  depends=(infra.os_tpl_mixin("ami-1", "x", "e.org"),))
    assert child.depends_on(infra.OS_TPL)


def test_unknown_attribute_type_rejected():
    """An attribute type outside GFD.225's (plus integer) is a programming error."""
    with pytest.raises(ValueError):
        Attribute(name="a", type="array")


def test_entity_filter():
    """Filters match on categories and attribute values, occi.core.id included."""
    compute = Resource(kind=infra.COMPUTE, id="i-1", mixins=[infra.SSH_KEY],
                       attributes={"occi.compute.cores": 2})
    assert compute.location == "/compute/i-1"
    assert EntityFilter().matches(compute)
    assert EntityFilter(categories=(infra.SSH_KEY.identifier,),
                        attributes={"occi.compute.cores": "2",
                                    "occi.core.id": "i-1"}).matches(compute)
    assert not EntityFilter(categories=(infra.USER_DATA.identifier,)).matches(compute)
    assert not EntityFilter(attributes={"occi.compute.cores": 4}).matches(compute)
