"""Tests for L{occid.occi.catalog}."""

import pytest
from zope.interface.verify import verifyObject

from occid.ec2.vocabulary import resource_tpl_mixin
from occid.interfaces import ICatalog
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog


def _templates(n_images=3, n_types=2):
    images = [infra.os_tpl_mixin(f"ami-{i:08x}", f"image {i}", "example.org")
              for i in range(n_images)]
    types = [resource_tpl_mixin(f"t3.size{i}", 2, 1.0, "x86_64")
             for i in range(n_types)]
    return images + types


def test_provides_icatalog():
    """A Catalog provides ICatalog, version attribute included."""
    assert verifyObject(ICatalog, Catalog(_templates(), version="v1"))


def test_lookup_and_locations():
    """Static and template categories are found by identifier and location."""
    catalog = Catalog(_templates(), version="v1")
    assert catalog.version == "v1"
    assert catalog.lookup(infra.COMPUTE.identifier) is infra.COMPUTE
    assert catalog.lookup(infra.COMPUTE_STOP.identifier) is infra.COMPUTE_STOP
    ami = catalog.lookup("http://occi.example.org/occi/infrastructure/os_tpl#ami-00000001")
    assert ami.title == "image 1"
    assert catalog.lookup("http://nowhere#x") is None
    assert catalog.kind_at("/compute/") is infra.COMPUTE
    assert catalog.kind_at("/mixin/os_tpl/") is None
    assert catalog.mixin_at("/mixin/os_tpl/") is infra.OS_TPL
    assert catalog.mixin_at("/mixin/os_tpl/ami-00000002/").term == "ami-00000002"
    assert catalog.mixin_at("/compute/") is None


def test_templates_follow_static_mixins():
    """The template mixins come after the static ones, in the order given."""
    templates = _templates()
    catalog = Catalog(templates)
    assert catalog.mixins == infra.MIXINS + tuple(templates)
    assert catalog.kinds == infra.KINDS and catalog.actions == infra.ACTIONS


def test_duplicates_rejected():
    """Two templates with one identifier are a programming error."""
    ami = infra.os_tpl_mixin("ami-1", "x", "example.org")
    with pytest.raises(ValueError):
        Catalog([ami, infra.os_tpl_mixin("ami-1", "y", "example.org")])


def test_immutable():
    """A catalog cannot be changed after it is built."""
    catalog = Catalog()
    with pytest.raises(AttributeError):
        catalog.version = "other"


def test_large_catalog():
    """1,000 os_tpl plus 800 resource_tpl build and index every template."""
    catalog = Catalog(_templates(1000, 800))
    assert len(catalog.mixins) == len(infra.MIXINS) + 1800
    assert catalog.mixin_at("/mixin/resource_tpl/t3_size799/").term == "t3_size799"
