"""
Tests for L{occid.occi.corekinds} and L{occid.occi.infrastructure}: the OGF
categories and template constructors.
"""

import re

from occid.occi import corekinds
from occid.occi import infrastructure as infra

TERM_11 = re.compile(r"^[a-z][a-z0-9_-]*$")


def test_terms_follow_the_occi_11_grammar():
    """Every static category term is lowercase without dots (rOCCI-core 4 needs it)."""
    for category in infra.KINDS + infra.MIXINS + infra.ACTIONS:
        assert TERM_11.match(category.term), category


def test_identifiers_unique_and_schemes_end_with_hash():
    """No two static categories share an identifier; every scheme ends with '#'."""
    categories = infra.KINDS + infra.MIXINS + infra.ACTIONS
    assert len({c.identifier for c in categories}) == len(categories)
    assert all(c.scheme.endswith("#") for c in categories)


def test_locations():
    """Kinds and mixins are bound to paths ending in '/', the entity kind to none."""
    assert corekinds.ENTITY.location is None
    assert infra.COMPUTE.location == "/compute/"
    assert infra.NETWORKINTERFACE.location == "/link/networkinterface/"
    assert infra.STORAGELINK.location == "/link/storagelink/"
    for mixin in infra.MIXINS:
        assert mixin.location.startswith("/mixin/") and mixin.location.endswith("/")
    locations = [c.location for c in infra.KINDS + infra.MIXINS if c.location]
    assert len(set(locations)) == len(locations)


def test_kind_hierarchy_and_attributes():
    """Compute inherits the core attributes; links require source and target."""
    names = [a.name for a in infra.COMPUTE.all_attributes()]
    assert names[:3] == ["occi.core.id", "occi.core.title", "occi.core.summary"]
    assert "occi.compute.speed" in names and "occi.compute.share" in names
    assert infra.NETWORKINTERFACE.is_a(corekinds.LINK)
    link_attrs = {a.name: a for a in infra.STORAGELINK.all_attributes()}
    assert link_attrs["occi.core.source"].required
    assert link_attrs["occi.core.target"].required
    state = infra.COMPUTE.attribute("occi.compute.state")
    assert not state.mutable and "error" in state.enum


def test_action_parameters():
    """stop's method is an enum; storage resize requires a numeric size."""
    method = infra.COMPUTE_STOP.attribute("method")
    assert method.enum == ("graceful", "acpioff", "poweroff")
    size = infra.STORAGE_RESIZE.attribute("size")
    assert size.required and size.type == "number"
    assert infra.COMPUTE_SAVE.attribute("name") is not None
    assert infra.COMPUTE_START in infra.COMPUTE.actions


def test_os_tpl_mixin():
    """An AMI becomes a mixin depending on os_tpl under the host's scheme."""
    mixin = infra.os_tpl_mixin("ami-0123", "ubuntu 24.04", "example.org")
    assert mixin.identifier == (
        "http://occi.example.org/occi/infrastructure/os_tpl#ami-0123")
    assert mixin.title == "ubuntu 24.04"
    assert mixin.location == "/mixin/os_tpl/ami-0123/"
    assert mixin.depends == (infra.OS_TPL,)
    assert mixin.applies_to(infra.COMPUTE) and not mixin.applies_to(infra.STORAGE)
    assert infra.template_of([infra.SSH_KEY, mixin], infra.OS_TPL) is mixin


def test_availability_zone_mixin():
    """A zone becomes a mixin depending on availability_zone."""
    mixin = infra.availability_zone_mixin("eu-west-1a", "example.org")
    assert mixin.identifier == (
        "http://occi.example.org/occi/infrastructure/availability_zone#eu-west-1a")
    assert mixin.location == "/mixin/availability_zone/eu-west-1a/"
    assert mixin.depends_on(infra.AVAILABILITY_ZONE)
    assert mixin.applies_to(infra.STORAGE)
