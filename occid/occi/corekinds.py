# -*- test-case-name: tests.test_occi_infrastructure -*-
"""
The three kinds of OCCI Core (GFD.221): entity, and below it resource and
link, the parents of every infrastructure kind of
L{occid.occi.infrastructure}.
"""

from __future__ import annotations

from occid.occi.model import Attribute, Kind

CORE = "http://schemas.ogf.org/occi/core#"

ENTITY = Kind(
    term="entity",
    scheme=CORE,
    title="entity",
    attributes=(
        Attribute(
            name="occi.core.id",
            mutable=False,
            required=True,
            description="a unique identifier, assigned by the provider",
        ),
        Attribute(name="occi.core.title", description="the display name"),
    ),
)

RESOURCE = Kind(
    term="resource",
    scheme=CORE,
    title="resource",
    parent=ENTITY,
    attributes=(
        Attribute(name="occi.core.summary", description="a short description"),
    ),
)

LINK = Kind(
    term="link",
    scheme=CORE,
    title="link",
    parent=ENTITY,
    attributes=(
        Attribute(
            name="occi.core.source",
            required=True,
            description="the location of the source resource",
        ),
        Attribute(
            name="occi.core.target",
            required=True,
            description="the location of the target resource",
        ),
        Attribute(name="occi.core.target.kind", mutable=False,
                  description="the kind of the target resource"),
    ),
)
